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
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
import threading
import uuid
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from radimmuno.jobs import JobRetry
from pydicom.filereader import _read_file_meta_info

from patients.models import PatientIdentity, Site

from . import choices
from .compute.dicom_headers import (
    IMAGE_SOP_CLASSES,
    RTSTRUCT_SOP_CLASS,
    SEGMENTATION_SOP_CLASS,
    DicomHeaderError,
    load_dataset,
    read_dicom_header,
)
from .compute.recist import recist_measure
from .compute.segmentation import (
    GeometryMismatchError,
    SegmentationError,
    UnknownReferenceError,
    check_geometry,
    read_label_map,
    read_rtstruct_masks,
    read_seg_masks,
)
from .compute.volume import Geometry, KnownHeader, SUVError, VolumeAssemblyError, read_series_layout, suv_bw_factor
from .models import IngestJob, Instance, Lesion, QuarantinedFile, Segment, Segmentation, Series, Study, Timepoint
from .choices import (
    LesionMapping,
    ProposalStatus,
    QuarantineReason,
    QuarantineStatus,
    SegmentationKind,
    VolumeStatus,
)

logger = logging.getLogger(__name__)

R = QuarantineReason
#: Quarantine reasons that mean "the input itself is bad" (counted as rejected).
BAD_INPUT = {R.NOT_DICOM, R.TRUNCATED, R.UNREADABLE, R.MISSING_ATTRIBUTES, R.UNSUPPORTED_SOP_CLASS,
             R.NO_PIXEL_DATA, R.GEOMETRY_MISMATCH, R.SEGMENTATION_ERROR, R.INTERNAL_ERROR}
SEGMENTATION_SOP_CLASSES = {SEGMENTATION_SOP_CLASS: SegmentationKind.SEG, RTSTRUCT_SOP_CLASS: SegmentationKind.RTSTRUCT}
LABEL_MAP_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")
SKIPPED_NAMES = {"DICOMDIR", ".DS_Store", "Thumbs.db"}

_STORED_INSTANCE_SQL = (
    f"SELECT sha256, transfer_syntax_uid, file FROM {Instance._meta.db_table} WHERE sop_instance_uid = %s"
)

# Outcomes of one file.
STORED, DUPLICATE, CONFLICT, REJECTED, QUARANTINED, PENDING = (
    "stored", "duplicate", "conflict", "rejected", "quarantined", "pending")


@dataclass(frozen=True)
class Outcome:
    """What became of one file given to ``Ingest``: its kind and, when it was refused, the reason's code and text.

    Returned to the caller of that very file (the listener answers the sender from it), so no other thread's file
    can lend it its status, as a shared "last problem" attribute could.
    """

    kind: str
    code: str = ""
    reason: str = ""


# --------------------------------------------------------------------------- content-addressed storage


def content_name(sha256, *, prefix="dicom", suffix=".dcm"):
    return f"{prefix}/{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"


def _local_path(name):
    try:
        return default_storage.path(name)
    except NotImplementedError:  # remote storage (S3 & co.)
        return None


_known_dirs = set()


def store_stream(stream, *, head=b"", prefix="files", suffix=".bin", chunk=1 << 20):
    """Store ``head`` followed by the rest of ``stream`` under its SHA-256 without holding it in memory.
    Returns (storage name, sha256, size)."""
    from django.core.files import File

    digest, size = hashlib.sha256(), 0
    with tempfile.TemporaryFile() as tmp:
        block = head
        while block:
            digest.update(block)
            tmp.write(block)
            size += len(block)
            block = stream.read(chunk)
        sha256 = digest.hexdigest()
        name = content_name(sha256, prefix=prefix, suffix=suffix)
        if not default_storage.exists(name):
            tmp.seek(0)
            saved = default_storage.save(name, File(tmp))
            if saved != name:  # another writer stored the same content meanwhile
                default_storage.delete(saved)
    return name, sha256, size


def store_bytes(data, *, prefix="dicom", suffix=".dcm", sha256=None):
    """Store ``data`` unchanged under its SHA-256; idempotent. Returns (storage name, sha256).

    Two writers of the same content race harmlessly: each writes a temporary file and renames it over the
    same name. A different content has a different name, so an original is never overwritten.
    """
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    name = content_name(sha256, prefix=prefix, suffix=suffix)
    path = _local_path(name)
    if path is not None:
        if not os.path.exists(path):
            directory = os.path.dirname(path)
            if directory not in _known_dirs:
                os.makedirs(directory, exist_ok=True)
                _known_dirs.add(directory)
            try:
                fd, tmp = tempfile.mkstemp(dir=directory, prefix=".incoming-")
            except FileNotFoundError:  # the directory was removed since we made it
                os.makedirs(directory, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=directory, prefix=".incoming-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    elif not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent writer stored the same content first
            default_storage.delete(saved)
    return name, sha256


def stored_source(name):
    """What the compute layer can read for a stored file: its local path, else its bytes."""
    path = _local_path(name)
    if path is not None:
        return path
    with default_storage.open(name, "rb") as f:
        return f.read()


def dataset_offset(data):
    """Where the data set starts in a DICOM file's bytes (after preamble and file meta; 0 without them)."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return 0
    fp = io.BytesIO(data)
    fp.seek(132)
    try:
        _read_file_meta_info(fp)
    except Exception:  # noqa: BLE001 - a broken meta group: compare the whole file
        return 0
    return fp.tell()


def _hash_and_store(data):
    return store_bytes(data)


def _sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def _spool_write(fd, offset, data):
    written = os.pwritev(fd, [len(data).to_bytes(8, "little"), data], offset)
    if written != 8 + len(data):  # a full disk: fail this file (its record is cut short, never acknowledged)
        raise OSError(f"spool write cut short ({written} of {8 + len(data)} bytes)")


def _fsync_directory(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_spool(path):
    """The files appended to a listener spool (a last record cut short by a crash was never acknowledged)."""
    with open(path, "rb") as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                return
            length = int.from_bytes(head, "little")
            data = f.read(length)
            if len(data) < length:
                return
            yield data


def _write_temporary(data):
    directory = default_storage.path("dicom/.incoming")
    if directory not in _known_dirs:
        os.makedirs(directory, exist_ok=True)
        _known_dirs.add(directory)
    fd, tmp = tempfile.mkstemp(dir=directory)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    return tmp


def _place_temporary(tmp, sha256, *, prefix="dicom", suffix=".dcm"):
    """Move a temporary file to its content-addressed name (or drop it: the same content is there)."""
    name = content_name(sha256, prefix=prefix, suffix=suffix)
    path = default_storage.path(name)
    if os.path.exists(path):
        os.unlink(tmp)
        return name
    directory = os.path.dirname(path)
    if directory not in _known_dirs:
        os.makedirs(directory, exist_ok=True)
        _known_dirs.add(directory)
    os.replace(tmp, path)
    return name


def dataset_sha256(data):
    """SHA-256 of the data set alone: what "the same content" means for two copies of one DICOM instance.

    The file meta group is written by whoever stored the file (a network receiver makes its own), so two
    copies of one instance differ there; their data sets do not.
    """
    return hashlib.sha256(memoryview(data)[dataset_offset(data):]).hexdigest()


def label_map_suffix(filename):
    lower = filename.lower()
    return next((s for s in LABEL_MAP_SUFFIXES if lower.endswith(s)), None)


# --------------------------------------------------------------------------- small helpers


def _text(value, length):
    return (value or "")[:length]


def _iso(value):
    return value.isoformat() if value is not None else ""


def _geometry_dict(geometry):
    return {"size": list(geometry.size), "origin": list(geometry.origin), "spacing": list(geometry.spacing),
            "direction": list(geometry.direction)}


def geometry_from_dict(data):
    return Geometry(size=tuple(int(v) for v in data["size"]), origin=tuple(data["origin"]),
                    spacing=tuple(data["spacing"]), direction=tuple(data["direction"]))


def _referenced_series_uids(ds):
    uids = [str(i.SeriesInstanceUID) for i in ds.get("ReferencedSeriesSequence", []) if "SeriesInstanceUID" in i]
    for ref_for in ds.get("ReferencedFrameOfReferenceSequence", []):
        for study in ref_for.get("RTReferencedStudySequence", []):
            for series in study.get("RTReferencedSeriesSequence", []):
                if "SeriesInstanceUID" in series:
                    uids.append(str(series.SeriesInstanceUID))
    return list(dict.fromkeys(uids))


def match_lesion(name, lesions_by_label):
    """The lesion a segment label names: the whole label (``"T1"``), else its first word (``"T1 lung"``)."""
    key = name.strip().lower()
    if key in lesions_by_label:
        return lesions_by_label[key]
    first = re.split(r"[\s_:/,;()-]+", key, maxsplit=1)[0]
    return lesions_by_label.get(first)


def timepoint_kind_for(patient, date):
    """Kind of a new assessment created for a scan: baseline before the first regimen, follow-up after it."""
    starts = sorted(r.start_date for r in patient.regimens.all())
    if not starts:
        return choices.TimepointKind.UNSCHEDULED
    if date > starts[0]:
        return choices.TimepointKind.FOLLOW_UP
    has_baseline = Timepoint.objects.filter(patient=patient, kind=choices.TimepointKind.BASELINE).exists()
    return choices.TimepointKind.PRE_BASELINE if has_baseline else choices.TimepointKind.BASELINE


class _Unplaceable(Exception):
    """A valid file that cannot be attached (unknown patient, study of another patient)."""

    def __init__(self, code, reason):
        self.code, self.reason = code, reason
        super().__init__(reason)


@dataclass
class Received:
    """A file whose header was read and whose original is stored."""

    header: dict
    sha256: str
    name: str
    size: int
    label: str
    data: bytes | None = None  # kept only while the file is being checked (not in batches)
    spooled: tuple | None = None  # listener: (offset, length) in the run's spool, not yet hashed and placed


# --------------------------------------------------------------------------- series volume check


def series_layout(series, *, known=None):
    """The sorted geometry of a stored image series (headers only).

    ``known``: SOP Instance UID -> the header dict read in this run, when the instance arrived; the other
    instances' headers are read from storage. Re-reading 2,000 files at the end of an association only to
    sort them would take longer than receiving them. PET headers are re-read (SUVbw needs more attributes
    than the header dict keeps); so are multi-frame instances (their frames are placed from the per-frame
    functional groups) and remote-storage files, which have no local path.
    """
    known = known or {}
    sources = []
    for uid, name in series.instances.values_list("sop_instance_uid", "file"):
        header, source = known.get(uid), stored_source(name)
        if (header is not None and not header["is_multiframe"] and header["modality"] != "PT"
                and isinstance(source, str)):
            source = KnownHeader(header, source)
        sources.append(source)
    return read_series_layout(sources, on_missing_slice="raise")


def series_finalize(series, *, known=None):
    """Check that a stored image series forms one regular volume; record geometry, warnings or the reason.

    Runs on header data only (no pixels), so it is cheap enough to run whenever a series got new instances.
    ``known``: headers of this run's instances (see ``series_layout``).
    """
    count = series.instances.count()
    fields = {"instance_count": count, "checked_at": timezone.now()}
    if not series.is_image:
        fields.update(volume_status=VolumeStatus.NOT_IMAGE)
    else:
        try:
            layout = series_layout(series, known=known)
        except (VolumeAssemblyError, DicomHeaderError) as exc:
            fields.update(volume_status=VolumeStatus.FAILED, volume_error_code=getattr(exc, "code", "unreadable"),
                          volume_message=str(exc), volume_warnings=[], geometry=None)
        else:
            warnings = [w.message for w in layout.warnings]
            suv = None
            if layout.modality == "PT":
                try:
                    suv, suv_warnings = suv_bw_factor(
                        layout.header, acquisition_datetimes=[s.acquisition_datetime for s in layout._slices]
                    )
                    warnings += [w.message for w in suv_warnings]
                except SUVError as exc:
                    warnings.append(f"SUVbw cannot be computed: {exc}")
            fields.update(
                volume_status=VolumeStatus.WARNINGS if warnings else VolumeStatus.OK, volume_error_code="",
                volume_message="", volume_warnings=warnings, geometry=_geometry_dict(layout.geometry),
                suv_bw_factor=suv,
            )
    Series.objects.filter(pk=series.pk).update(**fields)
    for name, value in fields.items():
        setattr(series, name, value)
    return series


# --------------------------------------------------------------------------- the run


class Ingest:
    """One ingest run; see the module docstring.

    Parameters
    ----------
    job : IngestJob
        The status row that counts what happened (source, peer AE, user).
    batch_size : int
        Image instances indexed per transaction.
    patient : Patient, optional
        Attach everything to this patient instead of matching Patient IDs (a curator's resolution).
    resample : bool
        Allow resampling a label map whose grid differs from the only candidate series (recorded).
    reference_series_uid : str, optional
        The series label maps in this run belong to.
    progress : callable, optional
        Called with the outcome of every file (``"stored"``, ``"duplicate"``, ...).
    """

    def __init__(self, job, *, batch_size=200, patient=None, resample=False, reference_series_uid="",
                 progress=None, journal=None, background=False, durable=False):
        self.job = job
        self.durable = durable  # listener: a file is on disk (fdatasync) before it is acknowledged
        self._lock = threading.RLock()
        # background=True (the listener): batches are indexed by a second thread while the next instances
        # arrive; at most one batch is being indexed while the next one fills.
        self._indexer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-index") if background else None
        self._indexing = None
        self._spool_fd = None
        self._known = {}  # series pk -> {SOP Instance UID: header} for this run's volume checks
        self.journal = journal  # text file: every accepted input is listed, so a crashed run can be re-run
        self.batch_size = batch_size
        self.forced_patient = patient
        self.resample = resample
        self.reference_series_uid = reference_series_uid
        self.progress = progress
        self.counts = Counter()
        self.reasons = {}  # code -> {"count": n, "example": "..."}
        self.unaccounted, self.unaccounted_reason = [], ""
        self.quarantined_shas = {}  # SHA-256 -> the open QuarantinedFile holding it
        self.segmentation_ids = []
        self._batch = []
        self._pending = {}  # SOP Instance UID -> sha256, received but not yet indexed
        self._objects = []  # SEG / RTSTRUCT, processed in finish()
        self._label_maps = []  # (storage name, sha256, size, label)
        self._touched = set()  # series pks with new instances
        self._seen_series = set()  # image series UIDs of this run (new or duplicate): label map candidates
        self._layouts = {}
        self._pool = None
        self._reset_caches()

    def _reset_caches(self):
        self._patients, self._studies, self._series = {}, {}, {}

    # -- entry points -------------------------------------------------------------------------------------------
    def add_path(self, path, label=None):
        """A file (DICOM or label map) or a zip of them."""
        path = Path(path)
        label = label or str(path)
        if _is_zip(path):
            return self.add_zip(path, label)
        return self.add_bytes(path.read_bytes(), label)

    def add_zip(self, source, label):
        """Every member of a zip (path or file object); nested folders included."""
        try:
            archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError) as exc:
            if isinstance(source, (str, Path)):
                data = Path(source).read_bytes()
            else:
                source.seek(0)
                data = source.read()
            name, sha = store_bytes(data, prefix="files", suffix=".zip")
            reason = f"not a readable zip archive ({exc})"
            self._quarantine(name, sha, len(data), label, R.NOT_DICOM, reason)
            return Outcome(REJECTED, str(R.NOT_DICOM), reason)
        with archive:
            for info in zip_members(archive):
                self._add_zip_member(archive, info, f"{label}!{info.filename}")
        return Outcome(STORED)

    def _add_zip_member(self, archive, info, label):
        """One member, read at most ``RADIMMUNO_INGEST_MAX_FILE_BYTES`` into memory (the size a zip declares can
        lie: a 1.5 MB archive may inflate to 1.5 GB). A bigger or damaged member is quarantined with its reason,
        streamed to storage, and the members after it are still read."""
        limit = settings.RADIMMUNO_INGEST_MAX_FILE_BYTES
        try:
            with archive.open(info) as member:
                data = member.read(limit + 1)
                if len(data) <= limit:
                    return self.add_bytes(data, label)
                name, sha, size = store_stream(member, head=data, prefix="files", suffix=".bin")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
            reason = (f"this zip member cannot be read ({type(exc).__name__}: {exc}); the archive is damaged and "
                      "is kept here whole")
            archive.fp.seek(0)
            name, sha, size = store_stream(archive.fp, prefix="files", suffix=".zip")
            self._quarantine(name, sha, size, label, R.UNREADABLE, reason)
            return self._done(REJECTED, R.UNREADABLE, reason)
        reason = (f"{size:,} bytes inflated, more than the {limit:,} one file may have "
                  "(RADIMMUNO_INGEST_MAX_FILE_BYTES); kept here, not ingested")
        self._quarantine(name, sha, size, label, R.TOO_LARGE, reason)
        return self._done(REJECTED, R.TOO_LARGE, reason)

    def add_bytes(self, data, label):
        """One file's bytes: a DICOM object or a label map (by its name)."""
        suffix = label_map_suffix(label)
        if suffix:
            name, sha = store_bytes(data, prefix="files", suffix=suffix)
            self._label_maps.append((name, sha, len(data), label))
            return self._done(PENDING)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ingest-store")
        local = _local_path("dicom") is not None
        if self._indexer is not None and local:
            return self._add_deferred(data, label)
        # Hashing and writing release the GIL: they run beside the header parse, each in its own thread.
        if local:
            hashed, written = self._pool.submit(_sha256_hex, data), self._pool.submit(_write_temporary, data)
        else:
            stored = self._pool.submit(_hash_and_store, data)
        try:
            header, problem = read_dicom_header(data), None
        except DicomHeaderError as exc:
            header, problem = None, exc
        if local:
            sha = hashed.result()
            name = _place_temporary(written.result(), sha)
        else:
            name, sha = stored.result()
        if header is None:
            self._quarantine(name, sha, len(data), label, problem.code, problem.reason)
            return self._done(REJECTED, problem.code, problem.reason)
        return self.add_received(Received(header=header, sha256=sha, name=name, size=len(data), label=label,
                                          data=data))

    def _add_deferred(self, data, label):
        """The listener's path: while the sender waits, only append the file to the run's spool and check its
        header (and UID); hashing it to its content address and indexing it is the indexer thread's work.

        One spool file per run, appended to: creating a file per instance costs more than the rest together.
        The spool is listed in the job's manifest, so a crashed listener's job re-runs from it.
        """
        if self._spool_fd is None:
            self._spool_open()
        offset = self._spool_size
        self._spool_size += 8 + len(data)
        # Written here, not beside the header parse in a pool thread: that thread needs the GIL to start and to
        # report, and waited for it behind the parse (~1.6 ms per 512 KB file); inline it is one syscall.
        _spool_write(self._spool_fd, offset, data)
        try:
            header, problem = read_dicom_header(data), None
        except DicomHeaderError as exc:
            header, problem = None, exc
        if self.durable:
            os.fdatasync(self._spool_fd)
        if header is not None:
            uid = header["sop_instance_uid"]
            if header["is_image"]:
                self._seen_series.add(header["series_instance_uid"])
            existing = self._pending.get(uid) or self._stored_instance(uid)
            if existing is None:
                return self._accept(Received(header=header, sha256="", name="", size=len(data), label=label,
                                             spooled=(offset + 8, len(data))))
        name, sha = store_bytes(data)
        if header is None:
            self._quarantine(name, sha, len(data), label, problem.code, problem.reason)
            return self._done(REJECTED, problem.code, problem.reason)
        return self._compare(Received(header=header, sha256=sha, name=name, size=len(data), label=label),
                             existing, data)

    def _spool_open(self):
        name = f"dicom/.incoming/job-{self.job.pk}-{uuid.uuid4().hex}.spool"
        path = default_storage.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._spool_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._spool_path, self._spool_size = path, 0
        if self.journal is not None:
            job_manifest_append(self.job, f"spool:{name}", "listener spool", self.journal)
        if self.durable:  # the spool's name in its directory, and the manifest line that lists it
            _fsync_directory(os.path.dirname(path))
            if self.journal is not None:
                self.journal.flush()
                os.fsync(self.journal.fileno())

    def _spooled_bytes(self, received):
        offset, length = received.spooled
        return os.pread(self._spool_fd, length, offset)

    def abandon(self):
        """Stop after a failed ``finish``, keeping the spool on disk for the job's re-run."""
        if self._spool_fd is not None:
            os.close(self._spool_fd)
            self._spool_fd = None
        if self._indexer is not None:
            self._indexer.shutdown()
            self._indexer = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _spool_close(self):
        if self._spool_fd is not None:
            os.close(self._spool_fd)
            Path(self._spool_path).unlink(missing_ok=True)
            self._spool_fd = None

    def add_received(self, received):
        header = received.header
        uid = header["sop_instance_uid"]
        if header["is_image"]:
            self._seen_series.add(header["series_instance_uid"])
        existing = self._pending.get(uid) or self._stored_instance(uid)
        received_data, received.data = received.data, None
        if existing is not None:
            return self._compare(received, existing, received_data)
        return self._accept(received)

    def _compare(self, received, existing, data):
        uid = received.header["sop_instance_uid"]
        if self._same_content(received, existing, data):
            self._count("duplicates")
            return self._done(DUPLICATE)
        reason = self._conflict_reason(uid, existing[0] or "?")
        self._quarantine_received(received, R.CONFLICT, reason)
        return self._done(CONFLICT, R.CONFLICT, reason)

    def _accept(self, received):
        header = received.header
        self._pending[header["sop_instance_uid"]] = (
            received.sha256 or None, _text(header["transfer_syntax_uid"], 64), received.name or received.spooled)
        if self.journal is not None and not received.spooled:  # (spooled files are listed with their spool)
            job_manifest_append(self.job, received.name, received.label, self.journal)
        if header["sop_class_uid"] in SEGMENTATION_SOP_CLASSES:
            self._objects.append(received)
            return self._done(PENDING)
        self._batch.append(received)
        if len(self._batch) >= self.batch_size:
            self.flush()
        return self._done(STORED)

    def _count(self, key, n=1):
        with self._lock:
            self.counts[key] += n

    def _done(self, kind, code="", reason=""):
        self._count("files")
        if self.progress:
            self.progress(kind)
        return Outcome(kind, str(code), reason)

    @staticmethod
    def _stored_instance(uid):
        """(sha256, transfer syntax, file) of the stored instance with this UID, or None.

        Raw SQL: this runs for every received instance, and the ORM's query building costs more than the
        indexed look-up itself.
        """
        with connection.cursor() as cursor:
            cursor.execute(_STORED_INSTANCE_SQL, [uid])
            return cursor.fetchone()

    def _same_content(self, received, existing, data=None):
        """The same instance again: the same file; else the same data set (another receiver wrote other file
        meta); or another transfer syntax, whose bytes cannot be compared (a PACS re-encoding the same
        instance): then the stored copy is kept."""
        sha, transfer_syntax, name = existing
        if sha == received.sha256 or transfer_syntax != _text(received.header["transfer_syntax_uid"], 64):
            return True
        if data is None:
            with default_storage.open(received.name, "rb") as f:
                data = f.read()
        if sha is None:  # received in this run, not yet placed: ``name`` is its place in the spool
            offset, length = name
            return dataset_sha256(os.pread(self._spool_fd, length, offset)) == dataset_sha256(data)
        with default_storage.open(name, "rb") as f:
            return dataset_sha256(f.read()) == dataset_sha256(data)

    @staticmethod
    def _conflict_reason(uid, existing_sha):
        return (f"SOP Instance UID {uid} is already stored with different content (stored SHA-256 "
                f"of its data set {existing_sha[:12]}…); the stored original was kept. Two different objects must "
                "not share a "
                "UID: ask the sender which one is right")

    # -- indexing ------------------------------------------------------------------------------------------------
    def flush(self):
        """Index the batch of received image instances (one transaction per series)."""
        batch, self._batch = self._batch, []
        if self._indexer is None:
            self._flush_guarded(batch)
            return
        self._wait_indexer()
        self._indexing = self._indexer.submit(self._flush_guarded, batch)

    def _wait_indexer(self):
        if self._indexing is not None:
            indexing, self._indexing = self._indexing, None
            indexing.result()  # _flush_guarded does not raise: a failed batch is kept in self.unaccounted

    def _flush_guarded(self, batch):
        """Index a batch; whatever could be neither indexed nor quarantined (the database refused both, e.g. a
        write lock held past its timeout) is kept as unaccounted, so ``finish`` refuses to call the run done and
        the spool and manifest stay for the re-run."""
        try:
            self._flush_batch(batch)
        except Exception as exc:  # noqa: BLE001 - recorded; finish() raises IngestIncomplete
            logger.exception("indexing a batch of %s instances failed", len(batch))
            self._reset_caches()
            with self._lock:
                self.unaccounted.extend(batch)
                self.unaccounted_reason = f"{type(exc).__name__}: {exc}"

    def _stop_indexer(self):
        if self._indexer is not None:
            self._wait_indexer()
            self._indexer.submit(connections.close_all).result()  # the indexer thread's own DB connection
            self._indexer.shutdown()
            self._indexer = None

    def _place_received(self, received):
        """Hash a spooled file and store it under its content address."""
        data = self._spooled_bytes(received)
        received.name, received.sha256 = store_bytes(data)
        received.spooled = None

    def _flush_batch(self, batch):
        for received in batch:
            if received.spooled:
                self._place_received(received)
        groups = defaultdict(list)
        for received in batch:
            h = received.header
            groups[(h["patient_id"], h["study_instance_uid"], h["series_instance_uid"])].append(received)
        for group in groups.values():
            try:
                with transaction.atomic():
                    self._index_group(group)
            except Exception:  # a race with another writer, or a bug: retry one by one, never lose a file
                logger.exception("indexing a batch of %s instances failed; retrying one by one", len(group))
                self._reset_caches()
                for received in group:
                    try:
                        with transaction.atomic():
                            self._index_group([received])
                    except Exception as exc:  # noqa: BLE001
                        self._reset_caches()
                        if _database_unavailable(exc):  # quarantine needs the same database: re-run later
                            raise
                        self._quarantine_received(received, R.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        for received in batch:
            self._pending.pop(received.header["sop_instance_uid"], None)
        self.save_progress()

    def _index_group(self, group):
        h = group[0].header
        try:
            patient = self._patient_for(h)
            self._series_home_check(h)
            study = self._study_for(h, patient)
            series = self._series_for(h, study)
        except _Unplaceable as exc:
            for received in group:
                self._quarantine_received(received, exc.code, exc.reason)
            return
        uids = [r.header["sop_instance_uid"] for r in group]
        existing = {uid: rest for uid, *rest in Instance.objects.filter(sop_instance_uid__in=uids)
                    .values_list("sop_instance_uid", "sha256", "transfer_syntax_uid", "file")}
        rows = []
        for received in group:
            uid = received.header["sop_instance_uid"]
            if uid in existing:
                if self._same_content(received, existing[uid]):
                    self._count("duplicates")
                else:
                    self._quarantine_received(received, R.CONFLICT, self._conflict_reason(uid, existing[uid][0]))
                continue
            existing[uid] = (received.sha256, _text(received.header["transfer_syntax_uid"], 64), received.name)
            rows.append(self._instance_row(received, series))
            self._known.setdefault(series.pk, {})[uid] = received.header  # made a dataset when checked
        Instance.objects.bulk_create(rows)
        Series.objects.filter(pk=series.pk).update(
            instance_count=F("instance_count") + len(rows), volume_status=VolumeStatus.PENDING)
        self._count("stored", len(rows))
        if rows:
            self._touched.add(series.pk)

    def _instance_row(self, received, series):
        h = received.header
        return Instance(series=series, sop_instance_uid=h["sop_instance_uid"], sop_class_uid=h["sop_class_uid"],
                        instance_number=h["instance_number"], sha256=received.sha256, file=received.name,
                        size_bytes=received.size, transfer_syntax_uid=_text(h["transfer_syntax_uid"], 64),
                        job=self.job)

    def _patient_for(self, h):
        pid = h["patient_id"]
        if pid in self._patients:
            return self._patients[pid]
        if self.forced_patient is not None:
            patient = self.forced_patient
        else:
            identity = PatientIdentity.objects.select_related("patient").filter(mrn=pid).first() if pid else None
            patient = identity.patient if identity else None
            if patient is None and getattr(settings, "RADIMMUNO_AUTO_CREATE_PATIENTS", False) and pid:
                patient = _auto_create_patient(pid)
            if patient is None:
                raise _Unplaceable(
                    R.UNKNOWN_PATIENT,
                    # the Patient ID (an MRN) stays out of the message: it is identifying data, kept only in the
                    # quarantine row's dicom_patient_id field for curators
                    "the DICOM Patient ID matches no patient's MRN. A curator assigns these files to a "
                    "patient (which records the Patient ID as the MRN) or creates the patient; nothing was dropped",
                )
        self._patients[pid] = patient
        return patient

    def _study_for(self, h, patient):
        uid = h["study_instance_uid"]
        study = self._studies.get(uid) or Study.objects.filter(study_instance_uid=uid).first()
        if study is not None and study.patient_id != patient.pk:
            raise _Unplaceable(
                R.PATIENT_MISMATCH,
                f"study {uid} is stored for patient {study.patient} but this file's Patient ID "
                f"belongs to patient {patient}; one of them is mislabelled",
            )
        if study is None:
            date = h["study_date"]
            timepoint = None
            if date is not None:
                timepoint = Timepoint.objects.filter(patient=patient, date=date).first()
                if timepoint is None:
                    from .services import timepoint_upsert

                    timepoint, _ = timepoint_upsert(patient=patient, date=date,
                                                    kind=timepoint_kind_for(patient, date))
            study = Study.objects.create(
                patient=patient, timepoint=timepoint, study_instance_uid=uid, study_date=date,
                study_time=h["study_time"], study_description=_text(h["study_description"], 255),
            )
        self._studies[uid] = study
        return study

    def _series_home_check(self, h):
        """Refuse a file that puts a stored series into another study before anything is created for it (a
        new Study and timepoint would otherwise stay behind, committed, without a series)."""
        uid = h["series_instance_uid"]
        series = self._series.get(uid) or Series.objects.filter(series_instance_uid=uid).select_related("study").first()
        if series is not None and series.study.study_instance_uid != h["study_instance_uid"]:
            raise _Unplaceable(
                R.PATIENT_MISMATCH,
                f"series {uid} is stored in study {series.study.study_instance_uid}, but this file puts it in "
                f"study {h['study_instance_uid']}; the UIDs are inconsistent",
            )
        return series

    def _series_for(self, h, study):
        uid = h["series_instance_uid"]
        series = self._series_home_check(h)
        if series is None:
            series = Series.objects.create(study=study, **series_fields(h))
        self._series[uid] = series
        return series

    # -- quarantine ----------------------------------------------------------------------------------------------
    def _quarantine_received(self, received, code, reason, **extra):
        self._quarantine(received.name, received.sha256, received.size, received.label, code, reason,
                         header=received.header, **extra)

    def _quarantine(self, name, sha256, size, label, code, reason, *, header=None, referenced_series_uid=""):
        h = header or {}
        # The same bad file sent again (or re-tried) for the same reason is one entry, not two.
        held = QuarantinedFile.objects.filter(sha256=sha256, reason_code=code, status=QuarantineStatus.OPEN).first()
        if held is None:
            held = QuarantinedFile.objects.create(
                reason_code=code, reason=reason, file=name, sha256=sha256, size_bytes=size,
                original_name=_text(label, 500), source=self.job.source, peer_ae_title=self.job.peer_ae_title,
                job=self.job, dicom_patient_id=_text(h.get("patient_id"), 64),
                sop_instance_uid=_text(h.get("sop_instance_uid"), 64),
                study_instance_uid=_text(h.get("study_instance_uid"), 64),
                series_instance_uid=_text(h.get("series_instance_uid"), 64),
                referenced_series_uid=_text(referenced_series_uid, 64),
            )
        with self._lock:
            if code == R.CONFLICT:
                self.counts["conflicts"] += 1
            elif code in BAD_INPUT:
                self.counts["rejected"] += 1
            else:
                self.counts["quarantined"] += 1
            entry = self.reasons.setdefault(str(code), {"count": 0, "example": f"{label}: {reason}"})
            entry["count"] += 1
            self.quarantined_shas[sha256] = held.pk

    # -- completion ----------------------------------------------------------------------------------------------
    def finish(self):
        """Index what is left, check touched series, ingest segmentations, re-try waiting masks. Returns fields
        for the job row."""
        self.flush()
        self._stop_indexer()
        if self.unaccounted:  # keep the spool: these files were acknowledged and exist nowhere else
            raise IngestIncomplete(
                f"{len(self.unaccounted)} received file(s) could be neither indexed nor quarantined "
                f"({self.unaccounted_reason}); they are kept in the job's spool and the job is run again")
        finished = []
        for series in Series.objects.filter(pk__in=self._touched):
            finished.append(series_finalize(series, known=self._known.get(series.pk)))
        self._touched.clear()
        for received in self._objects:
            if received.spooled:
                self._place_received(received)
            self._ingest_dicom_segmentation(received)
        self._objects.clear()
        self._spool_close()
        self._known.clear()
        candidates = list(Series.objects.filter(series_instance_uid__in=self._seen_series)) if self._label_maps else []
        for item in self._label_maps:
            self._ingest_label_map(*item, candidates=candidates)
        self._label_maps.clear()
        self._retry_waiting_masks([s.series_instance_uid for s in finished if s.is_image])
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.summary_series = [
            {"uid": s.series_instance_uid, "description": s.series_description, "modality": s.modality,
             "instances": s.instance_count, "volume": s.volume_status, "message": s.volume_message,
             "warnings": s.volume_warnings}
            for s in finished
        ]
        self.save_progress()
        return self.job_fields()

    def job_fields(self):
        summary = dict(self.job.summary or {})
        summary["reasons"] = self.reasons
        if getattr(self, "summary_series", None) is not None:
            summary["series"] = summary.get("series", []) + self.summary_series
        summary["segmentations"] = self.segmentation_ids
        return {
            "files_done": self.counts["files"], "stored": self.counts["stored"],
            "duplicates": self.counts["duplicates"], "conflicts": self.counts["conflicts"],
            "rejected": self.counts["rejected"], "quarantined": self.counts["quarantined"],
            "segmentations": self.counts["segmentations"], "summary": summary,
        }

    def save_progress(self):
        with self._lock:
            fields = self.job_fields()
        fields.pop("summary")
        fields["files_total"] = max(self.job.files_total, self.counts["files"])
        IngestJob.objects.filter(pk=self.job.pk).update(updated_at=timezone.now(), **fields)

    # -- segmentations -------------------------------------------------------------------------------------------
    def _layout(self, series):
        if series.pk not in self._layouts:
            self._layouts[series.pk] = series_layout(series, known=self._known.get(series.pk))
        return self._layouts[series.pk]

    def _ingest_dicom_segmentation(self, received):
        h = received.header
        kind = SEGMENTATION_SOP_CLASSES[h["sop_class_uid"]]
        referenced = []
        try:
            source = stored_source(received.name)
            ds = load_dataset(source)
            referenced = _referenced_series_uids(ds)
            image_series = self._reference_series(referenced, h)
            if image_series is None:
                raise _Unplaceable(
                    R.UNKNOWN_REFERENCE,
                    f"this {h['sop_class_name']} was drawn on series {', '.join(referenced) or '(none named)'}, "
                    "which is not stored; it is re-tried automatically when that series arrives",
                )
            patient = self._patient_for(h)
            if image_series.study.patient_id != patient.pk:
                raise _Unplaceable(
                    R.PATIENT_MISMATCH,
                    f"its image series belongs to patient {image_series.study.patient}, but its Patient ID "
                    f"to {patient}",
                )
            if image_series.volume_status == VolumeStatus.FAILED:
                raise _Unplaceable(
                    R.UNKNOWN_REFERENCE,
                    f"its image series {image_series.series_instance_uid} is not a usable volume "
                    f"({image_series.volume_message}); it is re-tried when that series is complete",
                )
            layout = self._layout(image_series)
            reader = read_seg_masks if kind == SegmentationKind.SEG else read_rtstruct_masks
            masks = reader(source, layout)
            segments = self._segments(masks, layout, patient)
            with transaction.atomic():
                study = self._study_for(h, patient)
                own_series = self._series_for(h, study)
                instance = self._instance_row(received, own_series)
                instance.save()
                Series.objects.filter(pk=own_series.pk).update(instance_count=F("instance_count") + 1)
                segmentation = Segmentation.objects.create(
                    kind=kind, image_series=image_series, instance=instance, file=received.name,
                    sha256=received.sha256, original_name=_text(received.label, 500),
                    label=_text(h["series_description"] or ds.get("ContentLabel", ""), 255), notes=masks.notes,
                    job=self.job,
                )
                self._save_segments(segmentation, segments)
            self._count("stored")
        except _Unplaceable as exc:
            self._reset_caches()
            ref = exc.code == R.UNKNOWN_REFERENCE and (referenced[0] if referenced else "")
            self._quarantine_received(received, exc.code, exc.reason, referenced_series_uid=ref or "")
        except UnknownReferenceError as exc:
            self._quarantine_received(received, R.UNKNOWN_REFERENCE, str(exc),
                                      referenced_series_uid=referenced[0] if referenced else "")
        except GeometryMismatchError as exc:
            self._quarantine_received(received, R.GEOMETRY_MISMATCH, str(exc))
        except (SegmentationError, DicomHeaderError, VolumeAssemblyError) as exc:
            self._quarantine_received(received, R.SEGMENTATION_ERROR, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the file
            logger.exception("segmentation %s failed", received.label)
            self._reset_caches()
            self._quarantine_received(received, R.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        finally:
            self._pending.pop(h["sop_instance_uid"], None)

    def _reference_series(self, referenced, h):
        qs = Series.objects.filter(sop_class_uid__in=IMAGE_SOP_CLASSES).select_related("study__patient")
        if referenced:
            return qs.filter(series_instance_uid__in=referenced).first()
        if h["frame_of_reference_uid"]:
            candidates = list(qs.filter(frame_of_reference_uid=h["frame_of_reference_uid"],
                                        study__study_instance_uid=h["study_instance_uid"])[:2])
            if len(candidates) == 1:
                return candidates[0]
        return None

    def _ingest_label_map(self, name, sha, size, label, *, candidates):
        import SimpleITK as sitk

        if Segmentation.objects.filter(kind=SegmentationKind.LABEL_MAP, sha256=sha).exists():
            self._count("duplicates")
            return
        tmp = None
        try:
            path = _local_path(name)
            if path is None:  # SimpleITK reads files: fetch remote storage to a temporary one
                tmp = tempfile.NamedTemporaryFile(suffix=label_map_suffix(name), delete=False)
                tmp.write(stored_source(name))
                tmp.close()
                path = tmp.name
            reader = sitk.ImageFileReader()
            reader.SetFileName(path)
            try:
                reader.ReadImageInformation()
            except RuntimeError as exc:
                raise SegmentationError(f"SimpleITK cannot read this label map ({str(exc).strip()[:300]})") from exc
            if reader.GetDimension() != 3:
                raise SegmentationError(f"expected a 3-D label map, got {reader.GetDimension()}-D")
            grid = Geometry(size=tuple(reader.GetSize()), origin=tuple(reader.GetOrigin()),
                            spacing=tuple(reader.GetSpacing()), direction=tuple(reader.GetDirection()))
            series, resample = self._label_map_series(grid, candidates)
            if Segmentation.objects.filter(image_series=series, sha256=sha).exists():
                self._count("duplicates")
                return
            layout = self._layout(series)
            masks = read_label_map(path, layout, resample=resample)
            patient = series.study.patient
            segments = self._segments(masks, layout, patient)
            with transaction.atomic():
                segmentation = Segmentation.objects.create(
                    kind=SegmentationKind.LABEL_MAP, image_series=series, file=name, sha256=sha,
                    original_name=_text(label, 500), label=_text(Path(label.split("!")[-1]).name, 255),
                    resampled=masks.resampled, notes=masks.notes, job=self.job,
                )
                self._save_segments(segmentation, segments)
            self._count("stored")
        except _Unplaceable as exc:
            self._quarantine(name, sha, size, label, exc.code, exc.reason)
        except GeometryMismatchError as exc:
            self._quarantine(name, sha, size, label, R.GEOMETRY_MISMATCH, str(exc))
        except (SegmentationError, VolumeAssemblyError, DicomHeaderError) as exc:
            self._quarantine(name, sha, size, label, R.SEGMENTATION_ERROR, str(exc))
        except Exception as exc:  # noqa: BLE001
            logger.exception("label map %s failed", label)
            self._quarantine(name, sha, size, label, R.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        finally:
            if tmp is not None:  # the local copy of a label map on remote storage
                os.unlink(tmp.name)

    def _label_map_series(self, grid, candidates):
        """The image series a label map belongs to: the given one, else the one of this run on the same grid."""
        if self.reference_series_uid:
            series = Series.objects.filter(series_instance_uid=self.reference_series_uid).first()
            if series is None or not series.geometry:
                raise _Unplaceable(R.NO_REFERENCE_SERIES,
                                   f"reference series {self.reference_series_uid} is not stored as a usable volume")
            candidates = [series]
        candidates = [s for s in candidates if s.is_image and s.geometry]
        if not candidates:
            raise _Unplaceable(
                R.NO_REFERENCE_SERIES,
                "a label map must come with the image series it was drawn on (in the same upload/import) or "
                "name its reference series; no usable image series came with this one",
            )
        matching, problems = [], []
        for s in candidates:
            try:
                check_geometry(grid, geometry_from_dict(s.geometry), what="label map", allow_reindexing=True)
                matching.append(s)
            except GeometryMismatchError as exc:
                problems.append(f"series {s.series_instance_uid} ({s.series_description}): {exc}")
        if len(matching) == 1:
            return matching[0], False
        if len(matching) > 1:
            raise _Unplaceable(
                R.NO_REFERENCE_SERIES,
                "the label map's grid matches several series (" + ", ".join(s.series_instance_uid for s in matching)
                + "); name the reference series",
            )
        if self.resample and len(candidates) == 1:
            return candidates[0], True
        raise GeometryMismatchError(
            "the label map's voxel grid matches none of the image series it came with - "
            + " | ".join(problems) + ". Resampling is only done on request (resample option), and recorded",
            {},
        )

    def _segments(self, masks, layout, patient):
        """Unsaved Segment rows, with their masks stored, for a MaskSet on ``layout``'s grid."""
        lesions = {lesion.label.strip().lower(): lesion for lesion in Lesion.objects.filter(patient=patient)}
        geometry = layout.geometry
        out = []
        for label, mask in masks.masks.items():
            lesion = match_lesion(label, lesions)
            voxels = int(mask.sum())
            mask_name, mask_sha = store_mask(mask, geometry)
            segment = Segment(
                number=masks.numbers[label], label=_text(label, 128), lesion=lesion,
                lesion_mapping=LesionMapping.LABEL if lesion else LesionMapping.UNMATCHED,
                mask_file=mask_name, mask_sha256=mask_sha, voxel_count=voxels,
                volume_mm3=voxels * geometry.voxel_volume_mm3,
                proposal_status=ProposalStatus.PROPOSED if voxels else ProposalStatus.EMPTY,
            )
            if voxels:
                m = recist_measure(mask, geometry.spacing)
                segment.long_axis_mm, segment.short_axis_mm = m.long_axis_mm, m.short_axis_mm
                segment.slice_index, segment.area_mm2 = m.slice_index, m.area_mm2
                segment.components_on_slice = m.components_on_slice
                segment.axis_endpoints = {"long": [list(p) for p in m.long_axis_endpoints],
                                          "short": [list(p) for p in m.short_axis_endpoints]}
            out.append(segment)
        return out

    def _save_segments(self, segmentation, segments):
        for segment in segments:
            segment.segmentation = segmentation
            segment.save()  # one by one: history rows, and post_save for whoever listens (radiomics)
        self._count("segmentations")
        self.segmentation_ids.append(segmentation.pk)

    def _retry_waiting_masks(self, series_uids):
        if not series_uids:
            return
        waiting = QuarantinedFile.objects.filter(status=QuarantineStatus.OPEN, reason_code=R.UNKNOWN_REFERENCE,
                                                 referenced_series_uid__in=series_uids)
        for q in waiting:
            with default_storage.open(q.file.name, "rb") as f:
                data = f.read()
            before = dict(self.quarantined_shas)
            self.quarantined_shas.pop(q.sha256, None)
            self._pending.pop(q.sop_instance_uid, None)
            outcome = self.add_bytes(data, q.original_name)
            if outcome.kind == PENDING:
                for received in self._objects:
                    self._ingest_dicom_segmentation(received)
                self._objects.clear()
            holder = self.quarantined_shas.get(q.sha256)
            for sha256, pk in before.items():
                self.quarantined_shas.setdefault(sha256, pk)
            quarantine_settle(q, holder=holder, what="re-tried automatically when its series arrived")


def zip_members(archive):
    for info in archive.infolist():
        base = info.filename.rsplit("/", 1)[-1]
        if info.is_dir() or not base or base in SKIPPED_NAMES or base.startswith(".") or "__MACOSX/" in info.filename:
            continue
        yield info


def store_mask(mask, geometry):
    """A boolean (z, y, x) mask as compressed NRRD (uint8) on ``geometry``; stored content-addressed."""
    import SimpleITK as sitk

    image = geometry.to_sitk(np.asarray(mask, dtype=np.uint8))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mask.nrrd")
        sitk.WriteImage(image, path, useCompression=True)
        data = Path(path).read_bytes()
    return store_bytes(data, prefix="masks", suffix=".nrrd")


def series_fields(h):
    pet = h.get("pet") or {}
    spacing = h.get("pixel_spacing_mm") or (None, None)
    is_image = h["sop_class_uid"] in IMAGE_SOP_CLASSES
    return dict(
        series_instance_uid=h["series_instance_uid"], modality=_text(h["modality"], 16),
        sop_class_uid=h["sop_class_uid"], series_number=h["series_number"],
        series_description=_text(h["series_description"], 255),
        frame_of_reference_uid=_text(h["frame_of_reference_uid"], 64),
        manufacturer=_text(h["manufacturer"], 128), manufacturer_model_name=_text(h["manufacturer_model_name"], 128),
        convolution_kernel=_text(h["convolution_kernel"], 128), kvp=h["kvp"],
        contrast_bolus_agent=_text(h["contrast_bolus_agent"], 128), slice_thickness_mm=h["slice_thickness_mm"],
        pixel_spacing_row_mm=spacing[0], pixel_spacing_column_mm=spacing[1] if len(spacing) > 1 else None,
        rows=h["rows"], columns=h["columns"], acquisition_date=h["acquisition_date"],
        acquisition_time=(h["acquisition_time"].replace(tzinfo=None) if h["acquisition_time"] else None),
        patient_weight_kg=h["patient_weight_kg"], patient_size_m=h["patient_size_m"],
        radiopharmaceutical=_text(pet.get("radiopharmaceutical"), 64),
        radionuclide_total_dose_bq=pet.get("radionuclide_total_dose_bq"),
        radionuclide_half_life_s=pet.get("radionuclide_half_life_s"),
        radiopharmaceutical_start=_text(
            _iso(pet.get("radiopharmaceutical_start_datetime")) or _iso(pet.get("radiopharmaceutical_start_time")), 32),
        pet_units=_text(pet.get("units"), 16), decay_correction=_text(pet.get("decay_correction"), 16),
        volume_status=VolumeStatus.PENDING if is_image else VolumeStatus.NOT_IMAGE,
    )


def _auto_create_patient(dicom_patient_id):
    """Research sites (RADIMMUNO_AUTO_CREATE_PATIENTS): a pseudonymous patient for an unknown Patient ID."""
    from patients.services import patient_identity_set, patient_upsert, site_create

    code = getattr(settings, "RADIMMUNO_AUTO_CREATE_SITE", "IMAGING")
    site = Site.objects.filter(code=code).first() or site_create(code=code, name=f"{code} (created by imaging ingest)")
    study_id = "IMG-" + hashlib.sha256(dicom_patient_id.encode()).hexdigest()[:12]
    patient, _, _ = patient_upsert(site=site, study_id=study_id, tumour_type="other")
    patient_identity_set(patient=patient, mrn=dicom_patient_id)
    return patient


def quarantine_settle(q, *, holder, what, user=None):
    """Close entry ``q`` after its file was re-tried, unless the re-try left it in ``q`` itself.

    ``holder`` is the open entry the re-try quarantined the file into (None: ingested). The same reason again
    reuses ``q``, which then stays open in the curators' queue; another reason is a newer entry, named in the
    resolution. Returns the outcome in words.
    """
    if holder == q.pk:
        return "still quarantined"
    outcome = f"quarantined again as entry #{holder}" if holder else "ingested"
    quarantine_close(q, user=user, resolution=f"{what}: {outcome}")
    return outcome


def quarantine_close(q, *, resolution, user=None, status=QuarantineStatus.RESOLVED):
    q.status, q.resolution, q.resolved_by, q.resolved_at = status, resolution, user, timezone.now()
    q.save(update_fields=["status", "resolution", "resolved_by", "resolved_at"])
    return q


# --------------------------------------------------------------------------- jobs and their inputs


def job_work_dir():
    path = Path(getattr(settings, "RADIMMUNO_INGEST_WORK_DIR", None) or Path(settings.MEDIA_ROOT) / "ingest-work")
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_manifest(job):
    """The job's list of inputs (storage name, label), one per line: what a re-run of the job ingests."""
    return job_work_dir() / f"job-{job.pk}.manifest"


def job_manifest_append(job, name, label, handle=None):
    line = f"{name}\t{label.replace(chr(9), ' ').replace(chr(10), ' ')}\n"
    if handle is not None:
        handle.write(line)
        return
    with open(job_manifest(job), "a", encoding="utf-8") as f:
        f.write(line)


def job_run_manifest(job):
    """Work of an IngestJob task: ingest every input of the job's manifest, then finish. Idempotent."""
    ingest = Ingest(job, resample=bool(job.options.get("resample")),
                    reference_series_uid=job.options.get("reference_series_uid", ""))
    manifest = job_manifest(job)
    entries = []
    if manifest.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                name, _, label = line.partition("\t")
                entries.append((name, label or name))
    total = 0
    for name, label in entries:
        if name.startswith("path:"):
            total += count_inputs([name[5:]])
        elif name.startswith("spool:"):
            if default_storage.exists(name[6:]):
                total += sum(1 for _ in read_spool(default_storage.path(name[6:])))
        elif label.lower().endswith(".zip"):
            with default_storage.open(name, "rb") as f, zipfile.ZipFile(f) as archive:
                total += sum(1 for _ in zip_members(archive))
        else:
            total += 1
    IngestJob.objects.filter(pk=job.pk).update(files_total=total)
    job.files_total = total
    for name, label in entries:
        if name.startswith("path:"):
            ingest_paths(ingest, [name[5:]])
        elif name.startswith("spool:"):
            if default_storage.exists(name[6:]):
                for data in read_spool(default_storage.path(name[6:])):
                    ingest.add_bytes(data, label)
        elif label.lower().endswith(".zip"):
            with default_storage.open(name, "rb") as f:
                ingest.add_zip(f, label)
        elif default_storage.exists(name):  # a listener's temporary file is gone once it was indexed
            with default_storage.open(name, "rb") as f:
                ingest.add_bytes(f.read(), label)
    fields = ingest.finish()
    for name, label in entries:  # uploaded archives are unpacked into their originals: drop the zip
        if label.lower().endswith(".zip") and name.startswith("uploads/"):
            default_storage.delete(name)
        elif name.startswith("spool:"):  # a listener's spool, now fully accounted for
            default_storage.delete(name[6:])
    manifest.unlink(missing_ok=True)
    return fields


def _database_unavailable(exc):
    """The database refused work for a reason that passes (a lock, a lost connection), not for this file."""
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))


class IngestIncomplete(JobRetry):
    """Some acknowledged files could not be accounted for this time; the job is re-run from its manifest."""


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
    digest = hashlib.sha256()
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    name = content_name(digest.hexdigest(), prefix=prefix, suffix=suffix)
    if not default_storage.exists(name):
        uploaded_file.seek(0)
        saved = default_storage.save(name, uploaded_file)
        if saved != name:  # stored meanwhile by a concurrent upload of the same content
            default_storage.delete(saved)
    job_manifest_append(job, name, filename, handle)
    return name


def iter_input_files(paths):
    """Files under ``paths`` (files as given, folders recursively in name order)."""
    for path in map(Path, paths):
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for filename in sorted(files):
                    if filename not in SKIPPED_NAMES and not filename.startswith("."):
                        yield Path(root) / filename
        else:
            yield path


def _is_zip(path):
    return path.suffix.lower() == ".zip"


def count_inputs(paths):
    """How many files ``ingest_paths`` will read (zip members counted one by one), for progress bars."""
    total = 0
    for path in iter_input_files(paths):
        if _is_zip(path):
            try:
                with zipfile.ZipFile(path) as archive:
                    total += sum(1 for _ in zip_members(archive))
            except (zipfile.BadZipFile, OSError):
                total += 1
        else:
            total += 1
    return total


def ingest_paths(ingest, paths):
    for path in iter_input_files(paths):
        if _is_zip(path):
            ingest.add_zip(path, str(path))
        else:
            ingest.add_bytes(path.read_bytes(), str(path))
