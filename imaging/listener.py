"""The DICOM C-STORE receiver (``manage.py dicom_listener``): a pynetdicom SCP in front of the ingest service.

Per association: the first C-STORE opens an IngestJob (source "network", the calling AE title and address);
every instance is checked (header read without pixels) and stored content-addressed while the sender waits,
so a bad file gets a DICOM failure status with the reason in ErrorComment instead of a dropped association;
valid instances are indexed in batches (``Ingest.flush``), and the work that needs a complete series (volume
checks, segmentations) runs when the association is released. Every accepted file is listed in the job's
manifest, so a listener that dies mid-association loses nothing: the reconciler re-runs the job.

Speed: dcmtk's ``storescu`` waits for each C-STORE response before sending the next instance, so per-instance
latency is throughput. Accepted sockets get TCP_NODELAY (Nagle would add ~40 ms per response), the receiver
advertises a 4 MiB maximum PDU size (a whole slice per PDU; a larger declared PDU aborts the association), and
``imaging.dimse_speedups`` makes pynetdicom's reactors wait for events instead of polling, reads P-DATA without copies and encodes plain C-STORE responses directly.
"""
import collections
import logging
import socket
import threading
import uuid

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification

from radimmuno.jobs import Heartbeat, JobRetry, JobStatus

from . import dimse_speedups
from .compute.dicom_headers import ACCEPTED_SOP_CLASSES
from .ingest import CONFLICT, REJECTED, Ingest, job_manifest
from .models import IngestJob
from .choices import IngestSource, QuarantineReason

logger = logging.getLogger(__name__)

TRANSFER_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
                     ExplicitVRBigEndian, RLELossless]

# DICOM failure statuses (PS3.4 Annex B.2.3 and PS3.7 Annex C).
# Storage SCPs may only answer Storage statuses (storescu prints others as "Unknown Status"): Out of Resources
# (A7xx, the sender may retry later) for our own failures, Cannot Understand (Cxxx) for content we refuse.
STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
STATUS_CANNOT_UNDERSTAND = 0xC000
STATUS_CONFLICT = 0xC001  # "cannot understand": same SOP Instance UID as a stored instance, other content
_STATUS_BY_REASON = {
    QuarantineReason.NOT_DICOM: STATUS_CANNOT_UNDERSTAND,
    QuarantineReason.TRUNCATED: STATUS_CANNOT_UNDERSTAND,
    QuarantineReason.UNREADABLE: STATUS_CANNOT_UNDERSTAND,
    QuarantineReason.MISSING_ATTRIBUTES: STATUS_DATASET_DOES_NOT_MATCH_SOP_CLASS,
    QuarantineReason.NO_PIXEL_DATA: STATUS_DATASET_DOES_NOT_MATCH_SOP_CLASS,
    QuarantineReason.UNSUPPORTED_SOP_CLASS: STATUS_DATASET_DOES_NOT_MATCH_SOP_CLASS,
}


def failure(status, comment):
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = comment[:64]  # LO
    return ds


def encoded_by_pynetdicom(event):
    """A received instance as a DICOM file, the way pynetdicom's documentation writes one: the preamble and
    ``event.file_meta`` in front of the data set's bytes as received (``Event.encoded_dataset()``)."""
    return event.encoded_dataset()


class _AssociationState:
    def __init__(self, job, ingest, journal, encode):
        self.job, self.ingest, self.journal = job, ingest, journal
        self.encode = encode  # event -> the received file's bytes
        self.finished = False
        # The association's lease on its job: while it beats, the reconciler leaves the job (and its
        # manifest) alone, however long the association or its indexing at release takes.
        self.lease = Heartbeat(job).start()


class Listener:
    """A C-STORE SCP (and C-ECHO) that ingests what it receives.

    Parameters
    ----------
    ae_title : str
    host, port : where to listen (port 0 = a free port; see ``port`` after ``start``).
    batch_size : image instances indexed per transaction.
    speedups : use ``imaging.dimse_speedups`` (default) or stock pynetdicom (``--stock-pynetdicom``): its own
        reactors, PDU reader and response encoder, and each file written as its documentation shows
        (:func:`encoded_by_pynetdicom`), without the direct file meta builder; the honest baseline for
        benchmarks, and a fallback. pynetdicom versions the speedups were not checked against run this way too.
    fsync : acknowledge a file only once it is on disk (``fdatasync`` of the spool); default the setting
        ``RADIMMUNO_LISTENER_FSYNC`` (off: acknowledged once written, as most DICOM receivers do).
    """

    def __init__(self, *, ae_title="RADIMMUNO", host="0.0.0.0", port=11112, batch_size=200, speedups=True,
                 fsync=None):
        self.ae_title, self.host, self.port = ae_title, host, port
        self.batch_size, self.speedups = batch_size, speedups
        self.fsync = settings.RADIMMUNO_LISTENER_FSYNC if fsync is None else fsync
        self.speedups_used = collections.deque(maxlen=32)  # which dimse_speedups shortcuts ran, per association
        self._states = {}
        self._finishing = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.server = None
        self.ae = AE(ae_title=ae_title)
        # finite (4 MiB, see dimse_speedups.MAX_PDU_LENGTH): a whole slice per PDU, but a bound a peer must keep
        self.ae.maximum_pdu_size = dimse_speedups.MAX_PDU_LENGTH
        self.ae.network_timeout = 60
        self.ae.acse_timeout = 30
        self.ae.dimse_timeout = 60
        self.ae.maximum_associations = 32
        for uid in ACCEPTED_SOP_CLASSES:
            self.ae.add_supported_context(uid, TRANSFER_SYNTAXES)
        self.ae.add_supported_context(Verification)

    def handlers(self):
        return [
            (evt.EVT_CONN_OPEN, self._on_open),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_RELEASED, self._on_end),
            (evt.EVT_ABORTED, self._on_end),
            (evt.EVT_CONN_CLOSE, self._on_end),
        ]

    def start(self, *, block=False):
        if block:
            self.ae.start_server((self.host, self.port), evt_handlers=self.handlers(), block=True)
            return None
        self.server = self.ae.start_server((self.host, self.port), evt_handlers=self.handlers(), block=False)
        self.port = self.server.server_address[1]
        return self.server

    def wait_idle(self, timeout=30):
        """Wait until every association that stored something has been finished (its job done or failed)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._states and not self._finishing, timeout=timeout)

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    # -- events ---------------------------------------------------------------------------------------------
    def _on_open(self, event):
        sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.speedups:
            stats = dimse_speedups.accelerate(event.assoc)
            event.assoc.radimmuno_speedups = stats
            self.speedups_used.append(stats)

    def _state(self, event):
        key = id(event.assoc)
        state = self._states.get(key)
        if state is None:
            close_old_connections()
            requestor = event.assoc.requestor
            address = f"{requestor.address}:{requestor.port}"
            now = timezone.now()
            job = IngestJob.objects.create(
                source=IngestSource.NETWORK, status=JobStatus.RUNNING, started_at=now, heartbeat_at=now,
                generation=1, claimed_generation=1, claim_token=uuid.uuid4().hex, attempts=1,
                peer_ae_title=str(requestor.ae_title)[:16], peer_address=address[:64],
                label=f"C-STORE from {requestor.ae_title} at {address}"[:255],
            )
            journal = open(job_manifest(job), "a", encoding="utf-8", buffering=1)
            ingest = Ingest(job, batch_size=self.batch_size, journal=journal, background=True, durable=self.fsync)
            stats = getattr(event.assoc, "radimmuno_speedups", None)  # None: stock pynetdicom
            encode = dimse_speedups.ReceivedFiles(stats).encoded if stats is not None else encoded_by_pynetdicom
            state = _AssociationState(job, ingest, journal, encode)
            with self._lock:
                self._states[key] = state
        return state

    def _on_store(self, event):
        try:
            state = self._state(event)
            sop_uid = str(event.request.AffectedSOPInstanceUID)
            data = state.encode(event)
            outcome = state.ingest.add_bytes(data, f"{state.job.peer_ae_title} {sop_uid}")
        except Exception as exc:  # noqa: BLE001 - never let one file take the association down
            logger.exception("C-STORE failed")
            return failure(STATUS_OUT_OF_RESOURCES, f"radimmuno: {type(exc).__name__}: {exc}")
        if outcome.kind == REJECTED:
            return failure(_STATUS_BY_REASON.get(outcome.code, STATUS_CANNOT_UNDERSTAND),
                           f"{outcome.code}: {outcome.reason}")
        if outcome.kind == CONFLICT:
            return failure(STATUS_CONFLICT, "conflict: SOP Instance UID stored with other content")
        return STATUS_SUCCESS

    def _on_end(self, event):
        with self._lock:
            state = self._states.pop(id(event.assoc), None)
            if state is None or state.finished:
                return
            self._finishing += 1
        # A stopped listener (tests) or an aborted association still finishes what it received.
        state.finished = True
        job = state.job
        try:
            fields = state.ingest.finish()
            state.journal.close()
            if job.finish(**fields) == JobStatus.DONE:  # otherwise a newer run owns the manifest
                job_manifest(job).unlink(missing_ok=True)
        except Exception as exc:  # noqa: BLE001 - the spool and manifest stay; the reconciler re-runs the job
            logger.exception("finishing association job %s failed", job.pk)
            state.journal.close()
            state.ingest.abandon()
            job.retry_later(exc if isinstance(exc, JobRetry) else f"{type(exc).__name__}: {exc}")
        finally:
            state.lease.stop()
            connections.close_all()
            with self._idle:
                self._finishing -= 1
                self._idle.notify_all()
