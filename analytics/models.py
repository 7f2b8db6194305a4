"""Stored analytics results. Response assessments are recomputed from lesion data whenever it changes; survival
analyses are stored runs of a spec, reproducible from their record."""
from django.conf import settings
from django.db import models

from imaging.models import Timepoint
from patients.models import Patient, TreatmentRegimen
from radimmuno.jobs import BackgroundJob

from .choices import Criteria


class ResponseAssessment(BackgroundJob):
    """Response of one patient to one ICI regimen under RECIST 1.1 and iRECIST, with atypical patterns.

    Also the status row of its (re)computation. ``result`` is the engine's full output (with explanations);
    the columns below are copies of the headline values so worklists can filter on them.
    """

    task_name = "analytics.recompute_response"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="response_assessments")
    regimen = models.ForeignKey(TreatmentRegimen, on_delete=models.CASCADE, related_name="response_assessments")
    input_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the engine input document.")
    engine_version = models.CharField(max_length=20, blank=True)
    options = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    problems = models.JSONField(default=list, blank=True, help_text="Why the data cannot be assessed yet.")
    computed_at = models.DateTimeField(null=True, blank=True)

    recist_bor = models.CharField("RECIST 1.1 BOR", max_length=20, blank=True)
    irecist_ibor = models.CharField("iRECIST iBOR", max_length=20, blank=True)
    recist_progression_date = models.DateField(null=True, blank=True)
    irecist_progression_date = models.DateField(null=True, blank=True)
    best_pct_change = models.FloatField(null=True, blank=True, help_text="Best target-sum change from baseline (%).")
    pseudoprogression = models.BooleanField(default=False)
    pseudoprogression_candidate = models.BooleanField(default=False)
    hyperprogression_any = models.BooleanField(default=False)
    hyperprogression_definitions = models.JSONField(default=list, blank=True)
    dissociated_any = models.BooleanField(default=False)
    dissociated_definitions = models.JSONField(default=list, blank=True)
    dcb = models.CharField("durable clinical benefit", max_length=20, blank=True)
    iupd_awaiting_confirmation = models.BooleanField(default=False)
    iupd_date = models.DateField(null=True, blank=True)
    confirmation_earliest = models.DateField(null=True, blank=True)
    confirmation_latest = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "regimen"], name="response_unique_per_regimen"),
        ]
        ordering = ["patient", "regimen__start_date"]

    def __str__(self):
        return f"response of {self.patient} to line {self.regimen.line_of_therapy}"


class TimepointResponse(models.Model):
    """The time-point response of one assessment under one set of criteria, with the numbers behind it."""

    assessment = models.ForeignKey(ResponseAssessment, on_delete=models.CASCADE, related_name="timepoint_responses")
    timepoint = models.ForeignKey(Timepoint, on_delete=models.CASCADE, related_name="responses")
    criteria = models.CharField(max_length=10, choices=Criteria.choices)
    category = models.CharField(max_length=20, blank=True)
    target_sum_mm = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    nadir_prior_mm = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    pct_change_from_baseline = models.FloatField(null=True, blank=True)
    pct_change_from_nadir = models.FloatField(null=True, blank=True)
    explanation = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assessment", "timepoint", "criteria"], name="timepoint_response_unique_per_assessment"
            ),
        ]
        ordering = ["timepoint__date", "criteria"]

    def __str__(self):
        return f"{self.timepoint}: {self.get_criteria_display()} {self.category}"


class AnalysisRun(BackgroundJob):
    """One survival analysis (Kaplan–Meier, Cox, landmark or time-varying irAE Cox) of a spec, as it was run.

    Also the status row of its computation. The record is what makes it reproducible: the normalised ``spec``
    (seed included), the patients actually analysed, the SHA-256 of the exact analysed table (``input_sha256``,
    from ``analytics.compute.survival``), the SHA-256 of the records read from the database
    (``records_sha256``, to tell cheaply whether the data changed since) and the library versions. ``figures``
    keeps the SVG text by name in the row itself: a few tens of kB, written in the same transaction as the
    result, served with it by the API and removed with it, with no media files to keep in step.
    """

    task_name = "analytics.run_analysis"

    spec = models.JSONField(help_text="The normalised spec (defaults filled in).")
    kind = models.CharField(max_length=20, blank=True, db_index=True, help_text="Copied from the spec.")
    endpoint = models.CharField(max_length=20, blank=True, db_index=True, help_text="Copied from the spec.")
    seed = models.BigIntegerField(default=0)
    patient_ids = models.JSONField(default=list, blank=True, help_text="Patient pks of the cohort analysed.")
    input_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the exact analysed table.")
    records_sha256 = models.CharField(max_length=64, blank=True,
                                      help_text="SHA-256 of the subject records read from the database.")
    versions = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    figures = models.JSONField(default=dict, blank=True, help_text="Figure name -> SVG text.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    rerun_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reruns")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"analysis {self.pk}: {self.kind} {self.endpoint}"
