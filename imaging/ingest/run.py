"""One ingest run (:class:`Ingest`), tied to an :class:`~imaging.models.IngestJob` status row: it takes files,
answers an :class:`~.outcomes.Outcome` for each, indexes image instances in batches (in a second thread for the
listener) and finishes what needs a complete series. See the package docstring for the steps."""
from __future__ import annotations

import logging
import os
import threading
import uuid
import zipfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from radimmuno.jobs import JobRetry

from .. import storage
from ..choices import QuarantineReason as R
from ..models import IngestJob, Series, Study
from .inputs import (
    SEGMENTATION_SOP_CLASSES,
    Received,
    Spool,
    examine,
    is_zip,
    iter_input_files,
    label_map_suffix,
    manifest_line,
    undecodable,
    zip_members,
)
from .outcomes import DUPLICATE, PENDING, REJECTED, STORED, Outcome, Tally, database_unavailable
from .placement import Placement
from .records import Quarantine, clip, compare, quarantine_settle, series_finalize, stored_instance
from .segmentations import Segmentations, waiting_masks

logger = logging.getLogger(__name__)


class IngestIncomplete(JobRetry):
    """Some acknowledged files could not be accounted for this time; the job is re-run from its manifest."""


class Ingest:
    """One ingest run; see the package docstring.

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
        Called with the outcome kind of every file (``"stored"``, ``"duplicate"``, ...).
    journal : file, optional
        The job's manifest, open for appending: every accepted input is listed, so a crashed run can be re-run.
    background : bool
        The listener: batches are indexed by a second thread while the next instances arrive (at most one batch
        is being indexed while the next one fills), and received files go to the run's spool.
    durable : bool
        The listener: a file is on disk (fdatasync) before it is acknowledged.
    """

    def __init__(self, job, *, batch_size=200, patient=None, resample=False, reference_series_uid="",
                 progress=None, journal=None, background=False, durable=False):
        self.job = job
        self.batch_size = batch_size
        self.progress = progress
        self.journal = journal
        self.durable = durable
        self.tally = Tally()
        self.quarantine = Quarantine(job, self.tally)
        self.placement = Placement(job, patient=patient)
        self.segmentations = Segmentations(job, placement=self.placement, quarantine=self.quarantine,
                                           tally=self.tally, resample=resample,
                                           reference_series_uid=reference_series_uid)
        self._indexer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-index") if background else None
        self._indexing = None
        self._pool = None  # hashing and writing beside the header parse
        self._spool = None
        self._lock = threading.Lock()
        self.unaccounted, self.unaccounted_reason = [], ""
        self.summary_series = None
        self._batch = []
        self._pending = {}  # SOP Instance UID -> (sha256, transfer syntax, file or spool place), not yet indexed
        self._objects = []  # SEG / RTSTRUCT, ingested in finish()
        self._label_maps = []  # (storage name, sha256, size, label)
        self._known = {}  # series pk -> {SOP Instance UID: header} for this run's volume checks
        self._touched = set()  # series pks with new instances
        self._seen_series = set()  # image series UIDs of this run (new or duplicate): label map candidates

    # -- entry points -------------------------------------------------------------------------------------------
    def add_path(self, path, label=None):
        """A file (DICOM or label map) or a zip of them."""
        path = Path(path)
        label = label or str(path)
        if is_zip(path):
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
            name, sha = storage.store_bytes(data, prefix="files", suffix=".zip")
            reason = f"not a readable zip archive ({exc})"
            return self.quarantine.hold(name, sha, len(data), label, Outcome.refused(R.NOT_DICOM, reason))
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
                name, sha, size = storage.store_stream(member, head=data, prefix="files", suffix=".bin")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
            reason = (f"this zip member cannot be read ({type(exc).__name__}: {exc}); the archive is damaged and "
                      "is kept here whole")
            archive.fp.seek(0)
            name, sha, size = storage.store_stream(archive.fp, prefix="files", suffix=".zip")
            return self._done(self.quarantine.hold(name, sha, size, label, Outcome.refused(R.UNREADABLE, reason)))
        reason = (f"{size:,} bytes inflated, more than the {limit:,} one file may have "
                  "(RADIMMUNO_INGEST_MAX_FILE_BYTES); kept here, not ingested")
        refusal = Outcome.refused(R.TOO_LARGE, reason, kind=REJECTED)
        return self._done(self.quarantine.hold(name, sha, size, label, refusal))

    def add_bytes(self, data, label):
        """One file's bytes: a DICOM object or a label map (by its name). Returns its Outcome."""
        suffix = label_map_suffix(label)
        if suffix:
            name, sha = storage.store_bytes(data, prefix="files", suffix=suffix)
            self._label_maps.append((name, sha, len(data), label))
            return self._done(Outcome(PENDING))
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ingest-store")
        local = storage.local_path("dicom") is not None
        if self._indexer is not None and local:
            return self._add_spooled(data, label)
        # Hashing and writing release the GIL: they run beside the header parse, each in its own thread.
        if local:
            hashed, written = self._pool.submit(storage.sha256_hex, data), self._pool.submit(storage.write_temporary, data)
        else:
            stored = self._pool.submit(storage.store_bytes, data)
        header = examine(data)
        if local:
            sha = hashed.result()
            name = storage.place_temporary(written.result(), sha)
        else:
            name, sha = stored.result()
        if isinstance(header, Outcome):
            return self._done(self.quarantine.hold(name, sha, len(data), label, header))
        refusal = undecodable(data, header)
        if refusal is not None:
            return self._done(self.quarantine.hold(name, sha, len(data), label, refusal, header=header))
        return self.add_received(Received(header=header, sha256=sha, name=name, size=len(data), label=label,
                                          data=data))

    def _add_spooled(self, data, label):
        """The listener's path: while the sender waits, only append the file to the run's spool and check its
        header (and UID); hashing it to its content address and indexing it is the indexer thread's work."""
        if self._spool is None:
            self._spool_open()
        place = self._spool.append(data)
        header = examine(data)
        refusal = None if isinstance(header, Outcome) else undecodable(data, header)
        if self.durable:
            self._spool.sync()
        if not isinstance(header, Outcome) and refusal is None:
            uid = header["sop_instance_uid"]
            if header["is_image"]:
                self._seen_series.add(header["series_instance_uid"])
            existing = self._pending.get(uid) or stored_instance(uid)
            if existing is None:
                return self._accept(Received(header=header, sha256="", name="", size=len(data), label=label,
                                             spooled=place))
        name, sha = storage.store_bytes(data)
        if isinstance(header, Outcome):
            return self._done(self.quarantine.hold(name, sha, len(data), label, header))
        if refusal is not None:
            return self._done(self.quarantine.hold(name, sha, len(data), label, refusal, header=header))
        return self._compare(Received(header=header, sha256=sha, name=name, size=len(data), label=label),
                             existing, data)

    def _spool_open(self):
        name = f"dicom/.incoming/job-{self.job.pk}-{uuid.uuid4().hex}.spool"
        self._spool = Spool(name)
        self._journal_add(f"spool:{name}", "listener spool")
        if self.durable:  # the spool's name in its directory, and the manifest line that lists it
            self._spool.sync_directory()
            if self.journal is not None:
                self.journal.flush()
                os.fsync(self.journal.fileno())

    def _journal_add(self, name, label):
        if self.journal is not None:
            self.journal.write(manifest_line(name, label))

    def add_received(self, received):
        header = received.header
        uid = header["sop_instance_uid"]
        if header["is_image"]:
            self._seen_series.add(header["series_instance_uid"])
        existing = self._pending.get(uid) or stored_instance(uid)
        received_data, received.data = received.data, None
        if existing is not None:
            return self._compare(received, existing, received_data)
        return self._accept(received)

    def _compare(self, received, existing, data):
        outcome = compare(received, existing, data=data, spool=self._spool)
        if outcome.kind == DUPLICATE:
            self.tally.count("duplicates")
            return self._done(outcome)
        return self._done(self.quarantine.hold_received(received, outcome))

    def _accept(self, received):
        header = received.header
        self._pending[header["sop_instance_uid"]] = (
            received.sha256 or None, clip(header["transfer_syntax_uid"], 64), received.name or received.spooled)
        if not received.spooled:  # (spooled files are listed with their spool)
            self._journal_add(received.name, received.label)
        if header["sop_class_uid"] in SEGMENTATION_SOP_CLASSES:
            self._objects.append(received)
            return self._done(Outcome(PENDING))
        self._batch.append(received)
        if len(self._batch) >= self.batch_size:
            self.flush()
        return self._done(Outcome(STORED))

    def _done(self, outcome):
        self.tally.count("files")
        if self.progress:
            self.progress(outcome.kind)
        return outcome

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
            self.placement.forget()
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
        received.name, received.sha256 = storage.store_bytes(self._spool.read(received.spooled))
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
                self.placement.forget()
                for received in group:
                    try:
                        with transaction.atomic():
                            self._index_group([received])
                    except Exception as exc:  # noqa: BLE001
                        self.placement.forget()
                        if database_unavailable(exc):  # quarantine needs the same database: re-run later
                            raise
                        self.quarantine.hold_received(
                            received, Outcome.refused(R.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))
        for received in batch:
            self._pending.pop(received.header["sop_instance_uid"], None)
        self.save_progress()

    def _index_group(self, group):
        """Instance rows for one series' instances; the files placement refused are quarantined."""
        indexed = self.placement.index(group)
        for received, refusal in indexed.refused:
            self.quarantine.hold_received(received, refusal)
        self.tally.count("duplicates", indexed.duplicates)
        if indexed.stored:
            known = self._known.setdefault(indexed.series.pk, {})  # made a dataset when checked
            for received in indexed.stored:
                known[received.header["sop_instance_uid"]] = received.header
            self._touched.add(indexed.series.pk)
        self.tally.count("stored", len(indexed.stored))

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
        try:
            finished = self._complete()
        except Exception as exc:
            if database_unavailable(exc):  # nothing of this stage is lost: the job's files are all kept for it
                raise IngestIncomplete(f"the database was unavailable while completing the run ({exc}); the job "
                                       f"is run again from its files") from exc
            raise
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.summary_series = [{"uid": s.series_instance_uid, "description": s.series_description,
                                "modality": s.modality, "instances": s.instance_count, "volume": s.volume_status,
                                "message": s.volume_message, "warnings": s.volume_warnings, **_placed(s)}
                               for s in finished]
        self.save_progress()
        return self.job_fields()

    def _complete(self):
        """What needs complete series: their volume check, then the run's segmentation objects and label maps,
        then masks that were waiting for one of them. Returns the finished series."""
        finished = [series_finalize(series, known=self._known.get(series.pk))
                    for series in Series.objects.filter(pk__in=self._touched)]
        self._touched.clear()
        for received in self._objects:
            if received.spooled:
                self._place_received(received)
            self._ingest_object(received)
        self._objects.clear()
        if self._spool is not None:  # every spooled file is placed: the spool is no longer needed
            self._spool.close(delete=True)
            self._spool = None
        self._known.clear()
        candidates = list(Series.objects.filter(series_instance_uid__in=self._seen_series)) if self._label_maps else []
        for item in self._label_maps:
            self.segmentations.ingest_label_map(*item, candidates=candidates)
        self._label_maps.clear()
        self._retry_waiting_masks([s.series_instance_uid for s in finished if s.is_image])
        return finished

    def abandon(self):
        """Stop after a failed ``finish``, keeping the spool on disk for the job's re-run."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._indexer is not None:
            self._indexer.shutdown()
            self._indexer = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _ingest_object(self, received):
        try:
            return self.segmentations.ingest_object(received, known=self._known)
        finally:
            self._pending.pop(received.header["sop_instance_uid"], None)

    def _retry_waiting_masks(self, series_uids):
        """Segmentation objects quarantined while their image series was missing, now that it is complete."""
        if not series_uids:
            return
        for q in waiting_masks(series_uids):
            self._pending.pop(q.sop_instance_uid, None)
            outcome = self.add_bytes(storage.stored_bytes(q.file.name), q.original_name)
            if outcome.kind == PENDING:
                objects, self._objects = self._objects, []
                for received in objects:
                    outcome = self._ingest_object(received)
            quarantine_settle(q, holder=outcome.entry, what="re-tried automatically when its series arrived")

    def job_fields(self):
        return self.tally.job_fields(self.job.summary or {}, series=self.summary_series)

    def save_progress(self):
        fields = self.job_fields()
        fields.pop("summary")
        fields["files_total"] = max(self.job.files_total, fields["files_done"])
        IngestJob.objects.filter(pk=self.job.pk).update(updated_at=timezone.now(), **fields)


def ingest_paths(ingest, paths):
    """Give ``ingest`` every file under ``paths`` (zip archives member by member)."""
    for path in iter_input_files(paths):
        if is_zip(path):
            ingest.add_zip(path, str(path))
        else:
            ingest.add_bytes(path.read_bytes(), str(path))


def _placed(series):
    """Where a finished series went, for the uploader's report: the patient (study ID and page), the assessment, and
    a warning when the scan is dated after the patient's recorded death (no date is named: it would identify)."""
    study = Study.objects.select_related("patient__outcome", "timepoint").get(pk=series.study_id)
    patient, timepoint = study.patient, study.timepoint
    outcome = getattr(patient, "outcome", None)
    died = outcome.death_date if outcome is not None else None
    placed = {"patient": patient.pk, "study_id": patient.study_id,
              "timepoint_date": timepoint.date.isoformat() if timepoint else None,
              "timepoint_kind": timepoint.get_kind_display() if timepoint else None}
    if died and study.study_date and study.study_date > died:
        placed["warnings"] = list(series.volume_warnings or []) + [
            "The study date is after the patient's recorded date of death: check the patient (or the date of death)."]
    return placed
