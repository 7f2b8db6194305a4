"""Stored response-engine results: one assessment per patient and ICI regimen, and its time-point rows."""
from django.db import models

from imaging.models import Timepoint
from patients.models import Patient, TreatmentRegimen
from radimmuno.jobs import BackgroundJob

from ..choices import Criteria


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
    summary = models.JSONField(
        default=dict, blank=True, editable=False,
        help_text="The blocks of the result that analyses read (analytics.compute.response.summary).")
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
    awaiting_read = models.JSONField(
        default=list, blank=True,
        help_text="Timepoints whose reading is not complete: left out of the result until it is (timepoint, date, "
                  "kind, missing lesion labels, confirmation window).")
    awaiting_read_from = models.DateField(null=True, blank=True, help_text="The earliest scan awaiting reading.")
    current_date = models.DateField(null=True, blank=True, help_text="The latest read assessment.")
    current_recist = models.CharField("current RECIST 1.1 response", max_length=20, blank=True)
    current_irecist = models.CharField("current iRECIST response", max_length=20, blank=True)
    is_latest = models.BooleanField(
        default=False, db_index=True,
        help_text="The assessment of the patient's most recent ICI regimen: the patient list's current response.")
    next_scan_due = models.DateField(
        null=True, blank=True,
        help_text="The confirmation window's start when an iUPD is open, else the latest read scan plus "
                  "RADIMMUNO_FOLLOW_UP_INTERVAL_DAYS; empty after confirmed progression, death or end of treatment.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "regimen"], name="response_unique_per_regimen"),
        ]
        indexes = [
            # What the patient list reads per patient (its current response and flags) and filters on, in one
            # covering index: the rows themselves hold the large result JSON, which on SQLite sits before these
            # later-added columns, so reading them from the table walks the JSON's overflow pages for every row.
            models.Index(fields=["patient", "is_latest", "current_irecist", "current_date", "awaiting_read_from",
                                 "iupd_awaiting_confirmation", "hyperprogression_any", "pseudoprogression",
                                 "dissociated_any"], name="assessment_list_columns"),
            # The cohort page's: finished assessments in regimen-start order, and its cache stamp (count, latest
            # computation) — from the index alone, not 10,000 wide rows.
            models.Index(fields=["status", "patient", "regimen", "computed_at"], name="assessment_cohort_columns"),
        ]
        ordering = ["patient", "regimen__start_date"]
        permissions = [("view_cohort", "Can view the cohort plots and survival curves (aggregates, study IDs)")]

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
