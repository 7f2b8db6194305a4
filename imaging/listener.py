"""The DICOM C-STORE receiver (``manage.py dicom_listener``): a pynetdicom SCP in front of the ingest service.

Per association: the first C-STORE opens an IngestJob (source "network", the calling AE title and address);
every instance is checked (header read without pixels) and stored content-addressed while the sender waits,
so a bad file gets a DICOM failure status with the reason in ErrorComment instead of a dropped association;
valid instances are indexed in batches (``Ingest.flush``), and the work that needs a complete series (volume
checks, segmentations) runs when the association is released. Every accepted file is listed in the job's
manifest, so a listener that dies mid-association loses nothing: the reconciler re-runs the job.

Speed: dcmtk's ``storescu`` waits for each C-STORE response before sending the next instance, so per-instance
latency is throughput. Accepted sockets get TCP_NODELAY (Nagle would add ~40 ms per response), the receiver
advertises an unlimited PDU size, and pynetdicom's reactors poll every 0.1 ms instead of 1 ms while an
association is open (see ``POLL_INTERVAL_S``).
"""
import logging
import socket
import struct
import threading
import time as _time
import types

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
from pynetdicom import AE, PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION, evt
from pynetdicom.sop_class import Verification

from .compute.dicom_headers import ACCEPTED_SOP_CLASSES
from .ingest import CONFLICT, REJECTED, Ingest, job_manifest
from .models import IngestJob, IngestSource
from .models.dicom import QuarantineReason

logger = logging.getLogger(__name__)

TRANSFER_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
                     ExplicitVRBigEndian, RLELossless]
#: pynetdicom's association reactor sleeps 1 ms per loop (and the DUL reactor when idle): with a sender that
#: waits for every response that is ~2 ms per instance. Polling at 0.1 ms removes most of it.
POLL_INTERVAL_S = 0.0001

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


def _patch_pynetdicom_polling(interval):
    """Make pynetdicom's association reactor poll every ``interval`` s instead of 1 ms (module-level sleep)."""
    import pynetdicom.association as association_module

    if getattr(association_module.time, "_radimmuno_interval", None) == interval:
        return
    real = _time.sleep
    shim = types.SimpleNamespace(**{k: getattr(_time, k) for k in dir(_time) if not k.startswith("__")})
    shim.sleep = lambda seconds: real(min(seconds, interval))
    shim._radimmuno_interval = interval
    association_module.time = shim


def _element(tag_group, tag_element, vr, value):
    """One explicit VR little endian element of the file meta group (short-length VRs and OB)."""
    if vr == b"OB":
        return struct.pack("<HH2sHL", tag_group, tag_element, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", tag_group, tag_element, vr, len(value)) + value


def _ui(uid):
    value = str(uid).encode("ascii")
    return value + b"\x00" if len(value) % 2 else value


def file_meta_bytes(sop_class_uid, sop_instance_uid, transfer_syntax_uid):
    """Preamble, prefix and file meta group of a received instance: the bytes pynetdicom's
    ``Event.encoded_dataset()`` puts in front of the data set, built directly (pydicom's writer costs ~0.2 ms per
    instance). Checked against pynetdicom's own encoding for the first instance of every association."""
    version = PYNETDICOM_IMPLEMENTATION_VERSION.encode("ascii")
    body = b"".join((
        _element(0x0002, 0x0001, b"OB", b"\x00\x01"),
        _element(0x0002, 0x0002, b"UI", _ui(sop_class_uid)),
        _element(0x0002, 0x0003, b"UI", _ui(sop_instance_uid)),
        _element(0x0002, 0x0010, b"UI", _ui(transfer_syntax_uid)),
        _element(0x0002, 0x0012, b"UI", _ui(PYNETDICOM_IMPLEMENTATION_UID)),
        _element(0x0002, 0x0013, b"SH", version + b" " if len(version) % 2 else version),
    ))
    return b"".join((b"\x00" * 128, b"DICM", _element(0x0002, 0x0000, b"UL", struct.pack("<L", len(body))), body))


def encoded_dataset(event, state):
    """``event.encoded_dataset()`` (the file as received: file meta + the data set's bytes, unchanged)."""
    if state.fast_meta is False:
        return event.encoded_dataset()
    request = event.request
    try:
        fast = file_meta_bytes(request.AffectedSOPClassUID, request.AffectedSOPInstanceUID,
                               event.context.transfer_syntax[0])
    except (UnicodeError, struct.error, TypeError, ValueError):  # odd UIDs: let pynetdicom encode them
        return event.encoded_dataset()
    if state.fast_meta is None:  # first instance: use the fast path only if it gives pynetdicom's bytes
        reference = event.encoded_dataset()
        state.fast_meta = reference == fast + request.DataSet.getvalue()
        return reference
    with request.DataSet.getbuffer() as view:
        return fast + view


def failure(status, comment):
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = comment[:64]  # LO
    return ds


class _AssociationState:
    def __init__(self, job, ingest, journal):
        self.job, self.ingest, self.journal = job, ingest, journal
        self.finished = False
        self.fast_meta = None  # file_meta_bytes() matches pynetdicom's: None = not checked yet


class Listener:
    """A C-STORE SCP (and C-ECHO) that ingests what it receives.

    Parameters
    ----------
    ae_title : str
    host, port : where to listen (port 0 = a free port; see ``port`` after ``start``).
    batch_size : image instances indexed per transaction.
    """

    def __init__(self, *, ae_title="RADIMMUNO", host="0.0.0.0", port=11112, batch_size=200,
                 poll_interval=POLL_INTERVAL_S):
        self.ae_title, self.host, self.port = ae_title, host, port
        self.batch_size, self.poll_interval = batch_size, poll_interval
        self._states = {}
        self._finishing = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.server = None
        self.ae = AE(ae_title=ae_title)
        self.ae.maximum_pdu_size = 0  # unlimited: senders use their largest PDUs
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
        if self.poll_interval:
            _patch_pynetdicom_polling(self.poll_interval)
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
        if self.poll_interval:
            event.assoc.dul._run_loop_delay = self.poll_interval

    def _state(self, event):
        key = id(event.assoc)
        state = self._states.get(key)
        if state is None:
            close_old_connections()
            requestor = event.assoc.requestor
            address = f"{requestor.address}:{requestor.port}"
            job = IngestJob.objects.create(
                source=IngestSource.NETWORK, status="running", started_at=timezone.now(),
                peer_ae_title=str(requestor.ae_title)[:16], peer_address=address[:64],
                label=f"C-STORE from {requestor.ae_title} at {address}"[:255],
            )
            journal = open(job_manifest(job), "a", encoding="utf-8", buffering=1)
            ingest = Ingest(job, batch_size=self.batch_size, journal=journal, background=True)
            state = _AssociationState(job, ingest, journal)
            with self._lock:
                self._states[key] = state
        return state

    def _on_store(self, event):
        try:
            state = self._state(event)
            sop_uid = str(event.request.AffectedSOPInstanceUID)
            data = encoded_dataset(event, state)
            outcome = state.ingest.add_bytes(data, f"{state.job.peer_ae_title} {sop_uid}")
        except Exception as exc:  # noqa: BLE001 - never let one file take the association down
            logger.exception("C-STORE failed")
            return failure(STATUS_OUT_OF_RESOURCES, f"radimmuno: {type(exc).__name__}: {exc}")
        if outcome == REJECTED:
            code, reason = state.ingest.last_problem
            return failure(_STATUS_BY_REASON.get(code, STATUS_CANNOT_UNDERSTAND), f"{code}: {reason}")
        if outcome == CONFLICT:
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
            job.finish(**fields)
            job_manifest(job).unlink(missing_ok=True)
        except Exception as exc:  # noqa: BLE001 - recorded on the job; the reconciler can re-run it
            logger.exception("finishing association job %s failed", job.pk)
            state.journal.close()
            job.fail(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()
            with self._idle:
                self._finishing -= 1
                self._idle.notify_all()
