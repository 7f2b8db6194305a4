"""Stored analyses (survival today; prediction models later): the spec, its input hash, the result."""
from django.conf import settings
from django.db import models

from radimmuno.jobs import BackgroundJob


class AnalysisRun(BackgroundJob):
    """One analysis of a spec, as it was run: survival (Kaplan–Meier, Cox, landmark, time-varying irAE Cox) or
    classification (a prediction model with nested cross-validation; ``model`` holds the fitted final model).

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
    model = models.BinaryField(null=True, blank=True, editable=False,
                               help_text="A classification run's fitted final model (joblib bytes).")
    model_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the model bytes.")
    progress = models.JSONField(default=dict, blank=True,
                                help_text='{"done", "total", "message"} while a long run computes.')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    rerun_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reruns")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"analysis {self.pk}: {self.kind} {self.endpoint}"
