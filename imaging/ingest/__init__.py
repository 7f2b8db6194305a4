"""Ingest: the one service every path into the database uses (upload, API, ``import_dicom``, the DICOM listener,
the demo generator, re-tries from quarantine).

An :class:`Ingest` is one run, tied to an :class:`~imaging.models.IngestJob` status row:

1. ``add_bytes`` / ``add_path`` (and the listener's ``add_bytes`` per C-STORE) read the header without the
   pixels (:func:`imaging.compute.dicom_headers.read_dicom_header`) while the original is hashed and stored
   unchanged, content-addressed (``dicom/ab/cd/<sha256>.dcm``) — in parallel, as hashing and writing release
   the GIL. Bad input is quarantined at once with its reason; the same SOP Instance UID with the same content
   is a no-op, with other content a conflict (quarantined, the stored original is never touched).
2. Image instances are indexed in batches (``flush``): one transaction per series group creates or finds the
   patient's Study (attached to the Timepoint of its date), the Series and the Instance rows. An unknown
   Patient ID is quarantined (or, with ``RADIMMUNO_AUTO_CREATE_PATIENTS``, a patient is created).
3. ``finish`` runs what needs a complete series: the volume check of every touched series
   (:func:`series_finalize`: sorted geometry, missing slices, spacing, SUVbw factor), then the segmentation
   objects (SEG, RTSTRUCT, label maps) received in the run, each in one transaction with its masks and
   derived measurements, and re-tries quarantined masks that were waiting for one of the finished series.

Nothing is written half: a failed step leaves no rows of the object it was writing, and its file in quarantine.

The modules are layers, each importing only those below it (an import-linter contract checks it), and each
answering with an :class:`Outcome` per file: ``outcomes`` < ``inputs`` (received files, the listener's spool,
folders and zips) < ``records`` (a file's rows, de-duplication, quarantine entries) < ``placement`` (patient,
study and series of a file) < ``segmentations`` (SEG, RTSTRUCT, label maps) < ``run`` (:class:`Ingest`) <
``jobs`` (manifests and the task body) | ``curation`` (what curators do with quarantined files). Stored files
are read and written by :mod:`imaging.storage`.
"""
from .curation import (
    quarantine_assign_patient,
    quarantine_create_patient,
    quarantine_discard,
    quarantine_retry,
)
from .inputs import count_inputs
from .jobs import job_add_upload, job_manifest, job_manifest_append, job_run_manifest, upload_job_create
from .outcomes import CONFLICT, DUPLICATE, PENDING, QUARANTINED, REJECTED, STORED, Outcome
from .records import series_finalize, series_layout
from .run import Ingest, IngestIncomplete, ingest_paths

__all__ = [
    "CONFLICT", "DUPLICATE", "PENDING", "QUARANTINED", "REJECTED", "STORED", "Ingest", "IngestIncomplete",
    "Outcome", "count_inputs", "ingest_paths", "job_add_upload", "job_manifest", "job_manifest_append",
    "job_run_manifest", "quarantine_assign_patient", "quarantine_create_patient", "quarantine_discard",
    "quarantine_retry", "series_finalize", "series_layout", "upload_job_create",
]
