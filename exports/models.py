"""Research exports: the projects that own pseudonym keys, and the record of every export (who, when, what, checksums).
"""
import secrets

from django.conf import settings
from django.db import models

from radimmuno.jobs import BackgroundJob


def _new_secret():
    return secrets.token_hex(32)


class ExportProject(models.Model):
    """A research project exports are made for. Its pseudonyms are stable across its exports and differ between
    projects: two projects' files cannot be joined on the patient without the database."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True, help_text="Short stable name, used as the SDTM STUDYID.")
    pseudonymise = models.BooleanField(
        default=True,
        help_text="Patients and sites appear under keyed-hash pseudonyms (HMAC-SHA256 with this project's secret), "
                  "never under their study IDs or site codes.")
    secret = models.CharField(
        max_length=64, default=_new_secret, editable=False,
        help_text="The pseudonym key. Never shown, never exported; losing it changes every pseudonym.")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return f"{self.name} ({self.slug})"


class DatasetExport(BackgroundJob):
    """One export: its selection, format and files, and the status of its job.

    Written for every export — the page's background jobs, ``manage.py export_dataset`` and the API's streamed
    downloads — so the record says who exported what, when, and the SHA-256 of each file.
    """

    task_name = "exports.run_dataset_export"

    class Source(models.TextChoices):
        PAGE = "page", "Export page"
        COMMAND = "command", "export_dataset command"
        API = "api", "API download"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        PARQUET = "parquet", "Parquet"

    source = models.CharField(max_length=10, choices=Source.choices)
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.CSV)
    project = models.ForeignKey(ExportProject, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    operator = models.CharField(max_length=150, blank=True,
                                help_text="Command exports: the operating-system account that ran export_dataset.")
    selection = models.JSONField(default=dict, blank=True, help_text="The cohort filters (patient-list filters).")
    sdtm = models.BooleanField("SDTM domains", default=False)
    tables = models.JSONField(default=list, blank=True, help_text="The tables asked for (empty: all).")
    output_dir = models.CharField(max_length=500, blank=True, help_text="Where the files were written.")
    archive = models.CharField(max_length=500, blank=True, help_text="The zip of the files (page exports).")
    archive_sha256 = models.CharField(max_length=64, blank=True)
    row_counts = models.JSONField(default=dict, blank=True)
    checksums = models.JSONField(default=dict, blank=True, help_text="File name -> SHA-256.")
    manifest = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"export #{self.pk} ({self.get_format_display()}, {self.get_status_display().lower()})"
