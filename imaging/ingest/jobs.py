"""Ingest jobs: the manifest that lists a job's inputs (uploads, paths, a listener's spool) and the task body that
ingests them (``job_run_manifest``), so a job can always be run again from what it was given."""
from __future__ import annotations

import zipfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from .. import storage
from ..models import IngestJob
from .inputs import count_inputs, label_map_suffix, manifest_line, read_spool, zip_members
from .run import Ingest, ingest_paths


def job_work_dir():
    path = Path(getattr(settings, "RADIMMUNO_INGEST_WORK_DIR", None) or Path(settings.MEDIA_ROOT) / "ingest-work")
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_manifest(job):
    """The job's list of inputs (storage name, label), one per line: what a re-run of the job ingests."""
    return job_work_dir() / f"job-{job.pk}.manifest"


def job_manifest_append(job, name, label, handle=None):
    line = manifest_line(name, label)
    if handle is not None:
        handle.write(line)
        return
    with open(job_manifest(job), "a", encoding="utf-8") as f:
        f.write(line)


def _manifest_entries(job):
    manifest = job_manifest(job)
    entries = []
    if manifest.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                name, _, label = line.partition("\t")
                entries.append((name, label or name))
    return entries


def _entry_count(name, label):
    """How many files one manifest entry holds."""
    if name.startswith("path:"):
        return count_inputs([name[5:]])
    if name.startswith("spool:"):
        if storage.exists(name[6:]):
            return sum(1 for _ in read_spool(storage.storage_path(name[6:])))
        return 0
    if label.lower().endswith(".zip"):
        with storage.open_stored(name) as f, zipfile.ZipFile(f) as archive:
            return sum(1 for _ in zip_members(archive))
    return 1


def job_run_manifest(job):
    """Work of an IngestJob task: ingest every input of the job's manifest, then finish. Idempotent."""
    ingest = Ingest(job, resample=bool(job.options.get("resample")),
                    reference_series_uid=job.options.get("reference_series_uid", ""))
    entries = _manifest_entries(job)
    total = sum(_entry_count(name, label) for name, label in entries)
    IngestJob.objects.filter(pk=job.pk).update(files_total=total)
    job.files_total = total
    for name, label in entries:
        if name.startswith("path:"):
            ingest_paths(ingest, [name[5:]])
        elif name.startswith("spool:"):
            if storage.exists(name[6:]):
                for data in read_spool(storage.storage_path(name[6:])):
                    ingest.add_bytes(data, label)
        elif label.lower().endswith(".zip"):
            with storage.open_stored(name) as f:
                ingest.add_zip(f, label)
        elif storage.exists(name):  # a listener's temporary file is gone once it was indexed
            ingest.add_bytes(storage.stored_bytes(name), label)
    fields = ingest.finish()
    for name, label in entries:  # uploaded archives are unpacked into their originals: drop the zip
        if label.lower().endswith(".zip") and name.startswith("uploads/"):
            storage.delete(name)
        elif name.startswith("spool:"):  # a listener's spool, now fully accounted for
            storage.delete(name[6:])
    job_manifest(job).unlink(missing_ok=True)
    return fields


def job_add_upload(job, uploaded_file, handle=None):
    """Store one uploaded file (DICOM, label map or zip) for the job and list it in its manifest.

    Read in chunks: a zip of a whole study can be larger than memory (Django keeps large uploads on disk).
    """
    filename = uploaded_file.name or "upload"
    lower = filename.lower()
    if lower.endswith(".zip"):
        prefix, suffix = "uploads", ".zip"
    elif label_map_suffix(lower):
        prefix, suffix = "files", label_map_suffix(lower)
    else:
        prefix, suffix = "dicom", ".dcm"
    name = storage.store_upload(uploaded_file, prefix=prefix, suffix=suffix)
    job_manifest_append(job, name, filename, handle)
    return name


def upload_job_create(*, files, user=None, source="upload", options=None):
    """Store uploaded files (DICOM, label maps, zips) for a new ingest job and enqueue it. Returns the job.

    In the embedded mode (no broker) the job runs in-process before this returns; with a broker a worker
    runs it and the upload page polls the job row.
    """
    files = list(files)
    if not files:
        raise ValidationError({"files": "Choose at least one DICOM file, label map or zip archive."})
    label = ", ".join(f.name for f in files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    job = IngestJob.objects.create(source=source, started_by=user, label=label[:255], options=options or {},
                                   files_total=len(files))
    with open(job_manifest(job), "w", encoding="utf-8") as handle:
        for uploaded in files:
            job_add_upload(job, uploaded, handle)
    with transaction.atomic():
        job.enqueue()
    job.refresh_from_db()
    return job
