"""A faster receive path for pynetdicom's C-STORE SCP, installed per association by ``imaging.listener``.

dcmtk's ``storescu`` (and most PACS) wait for each C-STORE response before sending the next instance, so the
receiver's per-instance latency is its throughput. Stock pynetdicom 3.0 spends most of that latency outside the
application (measured on the project's 2-core machine with 512 x 512 CT slices, see ``docs/imaging.md``):

* its two reactor threads (the DUL's and the association's) poll their queues and the socket with fixed sleeps
  of 1 ms, so every hand-off between them waits for the next tick and the idle loops burn CPU;
* a P-DATA-TF PDU is copied about eight times on its way to the handler (4 KB ``recv`` chunks appended to a
  bytearray, then ``bytes()``, PDU slicing, PDV slicing, ``data[1:]``), each copy into freshly mapped memory;
* each C-STORE response is built and encoded through pydicom datasets (~0.3 ms);
* its standard logging handlers, bound to every association, format a record for every PDU and message (and
  copy the whole data set of every C-STORE request to log whether it has one).

Each shortcut below keeps pynetdicom's state machine, queues and threads; it replaces only how a thread waits,
how a P-DATA-TF PDU is read, and how a plain C-STORE response is encoded:

* **logging** — the standard log handlers are unbound from the association unless the ``pynetdicom`` logger is
  enabled for DEBUG;

* **waits** — ``time.sleep`` in those two modules is a stand-in (:class:`_ReactorTime`) that, in a reactor thread
  of an accelerated association, waits for that thread's next event with the same timeout: the association
  thread on its DIMSE message queue, the DUL thread on its socket and on a wake-up pipe written whenever a
  primitive is queued for sending. Other threads and other associations sleep as before.
* **P-DATA-TF reads** — the PDU is received into one buffer (``recv_into``, grown as the data arrives) and its
  presentation data values are memoryviews into it; the DIMSE layer copies them once into the message's data set.
  Every PDU's declared length is checked first (:data:`MAX_PDU_LENGTH`, :data:`MAX_CONTROL_PDU_LENGTH`): a larger
  one aborts the association.
* **C-STORE responses** without error attributes are encoded directly (implicit VR little endian); the first
  one of every association is compared byte for byte with pynetdicom's own encoding, and the association falls
  back to pynetdicom's encoder for good on any difference.

Anything outside the data path (association negotiation, release, abort, other PDU types, bound debug handlers
for PDU/data events) goes through pynetdicom unchanged. Installed only on the pynetdicom versions this was
checked against (:data:`CHECKED_VERSIONS`); on others the listener runs stock pynetdicom (correct, slower).
"""
from __future__ import annotations

import logging
import os
import select
import struct
import threading
import time
import weakref

import pynetdicom
import pynetdicom.association as _association_module
import pynetdicom.dul as _dul_module
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION, _handlers, evt
from pynetdicom.dimse_messages import C_STORE_RSP
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import encode
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.pdu_items import PresentationDataValueItem
from pynetdicom.pdu_primitives import P_DATA

logger = logging.getLogger(__name__)

#: pynetdicom releases whose internals (reactor loops, ``_read_pdu_data``, ``send_msg``) these shortcuts mirror.
CHECKED_VERSIONS = ("3.0.",)

#: pynetdicom binds these to every association (``_config.LOG_HANDLER_LEVEL = "standard"``): they format a log
#: record for every PDU and DIMSE message, and the C-STORE one copies the whole data set to see whether it is
#: empty. Unbound unless pynetdicom's logger is enabled for DEBUG (someone is debugging the network).
STANDARD_LOG_HANDLERS = (
    (evt.EVT_DIMSE_RECV, _handlers.standard_dimse_recv_handler),
    (evt.EVT_DIMSE_SENT, _handlers.standard_dimse_sent_handler),
    (evt.EVT_PDU_RECV, _handlers.standard_pdu_recv_handler),
    (evt.EVT_PDU_SENT, _handlers.standard_pdu_sent_handler),
)

_P_DATA_TF = 0x04
_PDU_TYPES = frozenset(range(0x01, 0x08))
_C_STORE_RSP_COMMAND_FIELD = 0x8001
_NO_DATA_SET = 0x0101

#: Maximum length of received P-DATA-TF PDUs (PS3.8 maximum length sub-item), advertised by ``imaging.listener``
#: and enforced by :func:`_pdu_reader`. 4 MiB: a whole CT/MR slice (512 x 512 x 16 bit = 512 KiB) or a 1k x 1k
#: radiograph still travels in one PDU, as with the unlimited size advertised before, so per-PDU overhead stays
#: negligible (pynetdicom's default 16382 would mean ~32 PDUs per CT slice); bounded so that 32 associations can
#: never make the receiver hold more than ~128 MiB of PDU buffers, whatever a peer declares.
MAX_PDU_LENGTH = 4 * 1024 * 1024
#: Maximum length of the other PDUs (A-ASSOCIATE-RQ/AC/RJ; A-RELEASE and A-ABORT are 4 bytes): 128 presentation
#: contexts with several transfer syntaxes each take ~25 KiB, a user identity item at most 2 x 64 KiB.
MAX_CONTROL_PDU_LENGTH = 256 * 1024
#: First allocation for a PDU body; grown (doubled) only as the data arrives.
_FIRST_RECV = 256 * 1024


def supported():
    return pynetdicom.__version__.startswith(CHECKED_VERSIONS)


# --------------------------------------------------------------------------- waiting for events, not for ticks


class _ReactorTime:
    """Stands in for the ``time`` module inside ``pynetdicom.association`` and ``pynetdicom.dul``."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def sleep(self, seconds):
        wait = getattr(threading.current_thread(), "_radimmuno_wait", None)
        if wait is None:
            self._real.sleep(seconds)
        else:
            wait(seconds)


def _install_reactor_time():
    for module in (_association_module, _dul_module):
        if not isinstance(module.time, _ReactorTime):
            module.time = _ReactorTime(module.time)


def _association_wait(assoc):
    """The association reactor sleeps 1 ms per loop before looking for a DIMSE message: wake on the message."""
    messages = assoc.dimse.msg_queue

    def wait(seconds):
        with messages.not_empty:
            if not messages._qsize():  # noqa: SLF001 - the lock is held: Queue.qsize() would deadlock
                messages.not_empty.wait(seconds)

    return wait


def _dul_wait(dul):
    """The DUL reactor sleeps when a loop found nothing to do: wake on data from the peer or on a primitive that
    the association queued for sending (its queue's ``put`` writes to a pipe)."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    weakref.finalize(dul, os.close, wake_r)
    weakref.finalize(dul, os.close, wake_w)
    outgoing = dul.to_provider_queue
    queue_put = outgoing.put

    def put(item, block=True, timeout=None):
        queue_put(item, block, timeout)
        try:
            os.write(wake_w, b"\x00")
        except OSError:  # pipe full (the DUL is busy and will find the item) or closed
            pass

    outgoing.put = put

    def wait(seconds):
        association_socket = dul.socket
        sock = getattr(association_socket, "socket", None)
        watched = [wake_r]
        if sock is not None and getattr(association_socket, "_is_connected", False) and sock.fileno() >= 0:
            watched.append(sock)
        try:
            ready, _, _ = select.select(watched, [], [], seconds)
        except (OSError, ValueError):  # the socket was closed under us
            time.sleep(seconds)
            return
        if wake_r in ready:
            try:
                os.read(wake_r, 4096)
            except OSError:
                pass

    return wait


# --------------------------------------------------------------------------- P-DATA-TF without copies


def _recv_exactly(sock, n):
    """``n`` bytes from ``sock`` in one buffer (fewer if the peer closed the connection).

    The buffer grows only as data arrives (first :data:`_FIRST_RECV` bytes, then doubled when full), never to a
    length the peer merely declared: a 6-byte header declaring 4 GiB costs at most ``_FIRST_RECV`` bytes.
    """
    size = min(n, _FIRST_RECV)
    buffer = bytearray(size)
    got = 0
    while got < n:
        if got == size:
            grow = min(n, 2 * size) - size
            buffer.extend(bytes(grow))
            size += grow
        with memoryview(buffer) as view, view[got:size] as free:
            received = sock.recv_into(free, size - got)
        if not received:
            break
        got += received
    if got < size:
        del buffer[got:]
    return buffer


def _pdu_limit(assoc, pdu_type):
    """The largest PDU (length field) accepted from the peer for ``pdu_type``."""
    if pdu_type != _P_DATA_TF:
        return MAX_CONTROL_PDU_LENGTH
    advertised = getattr(getattr(assoc, "acceptor", None), "maximum_length", 0)
    return advertised if isinstance(advertised, int) and 0 < advertised <= MAX_PDU_LENGTH else MAX_PDU_LENGTH


def _pdv_items(body):
    """The presentation data value items of a P-DATA-TF PDU's variable field, as memoryviews into ``body``."""
    view = memoryview(body)
    size, offset, items = len(body), 0, []
    while offset < size:
        if size - offset < 6:
            raise ValueError(f"{size - offset} stray bytes after the last PDV item")
        (length,) = struct.unpack_from(">L", body, offset)
        if length < 2 or offset + 4 + length > size:
            raise ValueError(f"PDV item length {length} does not fit the PDU")
        item = PresentationDataValueItem()
        item.presentation_context_id = body[offset + 4]
        item.presentation_data_value = view[offset + 5: offset + 4 + length]
        items.append(item)
        offset += 4 + length
    return items


def _pdu_reader(dul):
    """``DULServiceProvider._read_pdu_data`` (pynetdicom 3.0) with P-DATA-TF PDUs read without copies.

    Same events on the same failures; other PDU types, and any association with PDU/data event handlers bound,
    are decoded by pynetdicom itself.
    """
    stock = dul._read_pdu_data  # noqa: SLF001
    assoc = dul.assoc

    def closed(exc):
        _dul_module.LOGGER.error("Connection closed before the entire PDU was received")
        _dul_module.LOGGER.exception(exc)
        dul.event_queue.put("Evt17")

    def read_pdu_data():
        if assoc.get_handlers(evt.EVT_DATA_RECV) or assoc.get_handlers(evt.EVT_PDU_RECV):
            return stock()
        sock = dul.socket.socket
        try:
            head = _recv_exactly(sock, 6)
        except (OSError, TimeoutError) as exc:
            return closed(exc)
        if len(head) < 6:
            dul.event_queue.put("Evt17")
            return None
        pdu_type, _, pdu_length = struct.unpack(">BBL", head)
        if pdu_type not in _PDU_TYPES:
            _dul_module.LOGGER.error(f"Unknown PDU type received '0x{pdu_type:02X}'")
            dul.event_queue.put("Evt19")
            return None
        limit = _pdu_limit(assoc, pdu_type)
        if pdu_length > limit:  # Evt19: the state machine aborts (A-ABORT) and closes the connection
            _dul_module.LOGGER.error(
                f"PDU type 0x{pdu_type:02X} declares {pdu_length} bytes, more than the {limit} accepted; aborting")
            dul.event_queue.put("Evt19")
            return None
        try:
            body = _recv_exactly(sock, pdu_length)
        except (OSError, TimeoutError) as exc:
            return closed(exc)
        if len(body) != pdu_length:
            _dul_module.LOGGER.error(
                f"The received PDU is shorter than expected ({6 + len(body)} of {6 + pdu_length} bytes received)")
            dul.event_queue.put("Evt17")
            return None
        try:
            if pdu_type == _P_DATA_TF:
                pdu = P_DATA_TF()
                pdu.presentation_data_value_items = _pdv_items(body)
                event = "Evt10"
            else:
                pdu, event = dul._decode_pdu(head + body)  # noqa: SLF001
        except Exception as exc:  # noqa: BLE001 - as pynetdicom: an undecodable PDU is Evt19
            _dul_module.LOGGER.error("Unable to decode the received PDU data")
            _dul_module.LOGGER.exception(exc)
            dul.event_queue.put("Evt19")
            return None
        dul.event_queue.put(event)
        dul._recv_pdu.put(pdu)  # noqa: SLF001
        return None

    return read_pdu_data


# --------------------------------------------------------------------------- C-STORE responses


def _element(group, element, value):
    """One implicit VR little endian element."""
    return struct.pack("<HHL", group, element, len(value)) + value


def _uid(value):
    raw = str(value).encode("ascii")
    return raw + b"\x00" if len(raw) % 2 else raw


def c_store_rsp_command(*, message_id, sop_class_uid, sop_instance_uid, status):
    """The encoded command set of a C-STORE response without error attributes (PS3.7 Table 9.3-2)."""
    body = b"".join((
        _element(0x0000, 0x0002, _uid(sop_class_uid)),
        _element(0x0000, 0x0100, struct.pack("<H", _C_STORE_RSP_COMMAND_FIELD)),
        _element(0x0000, 0x0120, struct.pack("<H", message_id)),
        _element(0x0000, 0x0800, struct.pack("<H", _NO_DATA_SET)),
        _element(0x0000, 0x0900, struct.pack("<H", status)),
        _element(0x0000, 0x1000, _uid(sop_instance_uid)),
    ))
    return _element(0x0000, 0x0000, struct.pack("<L", len(body))) + body


def _pynetdicom_command(primitive):
    message = C_STORE_RSP()
    message.primitive_to_message(primitive)
    return encode(message.command_set, True, True)


def _plain_store_response(primitive):
    return (isinstance(primitive, C_STORE) and primitive.MessageIDBeingRespondedTo is not None
            and isinstance(primitive.Status, int) and primitive.ErrorComment is None
            and primitive.OffendingElement is None and primitive.DataSet is None
            and primitive.AffectedSOPClassUID is not None and primitive.AffectedSOPInstanceUID is not None)


def _response_sender(assoc, stats):
    dimse = assoc.dimse
    stock = dimse.send_msg

    def send_msg(primitive, context_id):  # stats["fast_response"]: None until the first one was checked
        if (not _plain_store_response(primitive) or stats.get("fast_response") is False
                or assoc.get_handlers(evt.EVT_DIMSE_SENT)):
            return stock(primitive, context_id)
        try:
            command = c_store_rsp_command(
                message_id=primitive.MessageIDBeingRespondedTo, sop_class_uid=primitive.AffectedSOPClassUID,
                sop_instance_uid=primitive.AffectedSOPInstanceUID, status=primitive.Status)
        except (UnicodeError, struct.error, TypeError, ValueError):
            return stock(primitive, context_id)
        limit = dimse.maximum_pdu_size
        if limit and len(command) + 7 > limit:  # one PDV with its 6-byte PDU header and control byte
            return stock(primitive, context_id)
        if stats.get("fast_response") is None:
            stats["fast_response"] = command == _pynetdicom_command(primitive)
            if not stats["fast_response"]:
                logger.warning("C-STORE response encoding differs from pynetdicom's; using pynetdicom's encoder")
                return stock(primitive, context_id)
        pdata = P_DATA()
        pdata.presentation_data_value_list.append((context_id, b"\x03" + command))
        dimse.dul.send_pdu(pdata)
        return None

    return send_msg


# --------------------------------------------------------------------------- received files


def _meta_element(group, element, vr, value):
    """One explicit VR little endian element of the file meta group (short-length VRs and OB)."""
    if vr == b"OB":
        return struct.pack("<HH2sHL", group, element, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, element, vr, len(value)) + value


def file_meta_bytes(sop_class_uid, sop_instance_uid, transfer_syntax_uid):
    """Preamble, prefix and file meta group of a received instance: the bytes pynetdicom's
    ``Event.encoded_dataset()`` puts in front of the data set, built directly (pydicom's writer costs ~0.2 ms per
    instance). :class:`ReceivedFiles` checks them against pynetdicom's own for an association's first instance."""
    version = PYNETDICOM_IMPLEMENTATION_VERSION.encode("ascii")
    body = b"".join((
        _meta_element(0x0002, 0x0001, b"OB", b"\x00\x01"),
        _meta_element(0x0002, 0x0002, b"UI", _uid(sop_class_uid)),
        _meta_element(0x0002, 0x0003, b"UI", _uid(sop_instance_uid)),
        _meta_element(0x0002, 0x0010, b"UI", _uid(transfer_syntax_uid)),
        _meta_element(0x0002, 0x0012, b"UI", _uid(PYNETDICOM_IMPLEMENTATION_UID)),
        _meta_element(0x0002, 0x0013, b"SH", version + b" " if len(version) % 2 else version),
    ))
    return b"".join((b"\x00" * 128, b"DICM", _meta_element(0x0002, 0x0000, b"UL", struct.pack("<L", len(body))),
                     body))


class ReceivedFiles:
    """``event.encoded_dataset()`` for one association: the file as received (file meta + the data set's bytes,
    unchanged), with the file meta built directly once it proved identical to pynetdicom's."""

    def __init__(self, stats=None):
        self.fast = None  # None: not checked yet
        self.stats = stats if stats is not None else {}

    def encoded(self, event):
        if self.fast is False:
            return event.encoded_dataset()
        request = event.request
        try:
            meta = file_meta_bytes(request.AffectedSOPClassUID, request.AffectedSOPInstanceUID,
                                   event.context.transfer_syntax)
        except (UnicodeError, struct.error, TypeError, ValueError):  # odd UIDs: let pynetdicom encode them
            return event.encoded_dataset()
        if self.fast is None:
            reference = event.encoded_dataset()
            self.fast = self.stats["fast_file_meta"] = reference == meta + request.DataSet.getvalue()
            if not self.fast:
                logger.warning("received file meta differs from pynetdicom's; using pynetdicom's encoder")
            return reference
        with request.DataSet.getbuffer() as view:
            return meta + view


# --------------------------------------------------------------------------- per association


def accelerate(assoc):
    """Install the shortcuts on an accepted association (call from its EVT_CONN_OPEN handler, before it runs).

    Returns a dict that reports which shortcuts ran (``fast_response``: True/False once the first response was
    checked), or None when this pynetdicom version is not one they were checked against.
    """
    if not supported():
        return None
    _install_reactor_time()
    stats = {"version": pynetdicom.__version__, "log_handlers": True}
    if not logging.getLogger("pynetdicom").isEnabledFor(logging.DEBUG):
        for event, handler in STANDARD_LOG_HANDLERS:
            assoc.unbind(event, handler)
        stats["log_handlers"] = False
    dul = assoc.dul
    assoc._radimmuno_wait = _association_wait(assoc)  # noqa: SLF001
    dul._radimmuno_wait = _dul_wait(dul)  # noqa: SLF001
    dul._read_pdu_data = _pdu_reader(dul)  # noqa: SLF001
    assoc.dimse.send_msg = _response_sender(assoc, stats)
    return stats
