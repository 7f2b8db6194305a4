"""Worklist alerts with a lifecycle: raised by the response recomputation, acknowledged by a person, resolved when
the condition clears (or by a person). Every change is in the alert's history (django-simple-history)."""
from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Patient, TreatmentRegimen

from ..choices import AlertKind, AlertStatus


class Alert(models.Model):
    """One thing on the worklist for one patient: a scan to read, a confirmation scan due, a flag to review.

    ``key`` identifies the condition (e.g. the timepoint to read, the iUPD date), so a recomputation that finds the
    same condition keeps the row — and who acknowledged it — instead of raising it again.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="alerts")
    regimen = models.ForeignKey(TreatmentRegimen, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="alerts", help_text="The regimen whose response raised it (none for irAEs).")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    key = models.CharField(max_length=60, help_text="The condition raised (stable across recomputations).")
    status = models.CharField(max_length=15, choices=AlertStatus.choices, default=AlertStatus.OPEN, db_index=True)
    subject_date = models.DateField(help_text="The date the alert is about: the scan, the iUPD, the flagged scan.")
    due_date = models.DateField(null=True, blank=True, help_text="Act by this date (end of a confirmation window).")
    detail = models.JSONField(default=dict, blank=True, help_text="What the row shows (definitions, window, lesions).")
    raised_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500, blank=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "kind", "key"], name="alert_unique_condition"),
        ]
        indexes = [models.Index(fields=["status", "kind", "due_date"])]
        ordering = ["due_date", "subject_date"]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.patient} ({self.subject_date.isoformat()}, {self.status})"
