"""Stored delta-radiomics: the change of each lesion's features (and each patient's, over the target lesions)
between two timepoints, refreshed by a background job whenever the patient's features or lesions change."""
from django.db import models

from imaging.models import ExtractionProfile, Lesion, Timepoint
from patients.models import Patient
from radimmuno.fields import CompactJSONField
from radimmuno.jobs import BackgroundJob


class DeltaFeature(models.Model):
    """One compared pair of timepoints for a lesion group (``lesion`` = its root) or for the patient (``lesion``
    empty: aggregated over the target lesions by ``aggregation``). See analytics.compute.delta."""

    class Reference(models.TextChoices):
        BASELINE = "baseline", "Baseline"
        NADIR = "nadir", "Nadir so far"
        TIMEPOINT = "timepoint", "A named timepoint"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="delta_features")
    lesion = models.ForeignKey(Lesion, on_delete=models.CASCADE, null=True, blank=True, related_name="delta_features",
                               help_text="Empty: the patient's aggregate over the target lesions.")
    members = models.JSONField(default=list, blank=True,
                               help_text="Labels of the lesions compared as one (a lesion and its split/merge links; "
                                         "for a patient row, the target lesions).")
    profile = models.ForeignKey(ExtractionProfile, on_delete=models.PROTECT, related_name="delta_features")
    region = models.CharField(max_length=32)
    aggregation = models.CharField(max_length=20, blank=True,
                                   help_text="Patient rows: mean or volume_weighted (additive features are summed).")
    reference = models.CharField(max_length=12, choices=Reference.choices)
    from_timepoint = models.ForeignKey(Timepoint, on_delete=models.CASCADE, related_name="+")
    to_timepoint = models.ForeignKey(Timepoint, on_delete=models.CASCADE, related_name="+")
    weeks = models.FloatField(help_text="Weeks between the two timepoints (change per week = absolute / weeks).")
    values = CompactJSONField(default=dict, help_text="{feature: [absolute change, relative change or null]}")
    near_zero = models.JSONField(default=list, blank=True,
                                 help_text="Features whose relative change is undefined (reference near zero).")
    acquisition_flags = models.JSONField(default=list, blank=True,
                                         help_text="Acquisition differences between the two series.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["patient", "profile", "region", "lesion", "aggregation", "to_timepoint"]
        constraints = [
            models.UniqueConstraint(fields=["lesion", "profile", "region", "reference", "from_timepoint",
                                            "to_timepoint"], condition=models.Q(lesion__isnull=False),
                                    name="delta_unique_lesion_pair"),
            models.UniqueConstraint(fields=["patient", "profile", "region", "aggregation", "reference",
                                            "from_timepoint", "to_timepoint"], condition=models.Q(lesion__isnull=True),
                                    name="delta_unique_patient_pair"),
        ]
        indexes = [models.Index(fields=["profile", "region", "reference"], name="delta_profile_pair")]

    def __str__(self):
        return f"{self.lesion or self.patient} {self.reference}→{self.to_timepoint.date if self.to_timepoint_id else ''}"

    @property
    def flagged(self):
        return bool(self.acquisition_flags)


class DeltaRefresh(BackgroundJob):
    """The status row of one patient's delta-radiomics refresh (one row per patient, re-used)."""

    task_name = "analytics.refresh_deltas"

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="delta_refresh")
    rows = models.PositiveIntegerField(default=0)
    refused = models.JSONField(default=list, blank=True,
                               help_text="Pairs not compared, with the reason (shown with the deltas).")

    def __str__(self):
        return f"delta refresh of {self.patient}"
