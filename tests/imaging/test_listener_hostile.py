"""A hostile peer declaring a huge PDU: the listener aborts the association at once, without allocating what was
declared, and keeps serving (imaging.dimse_speedups bounds every PDU and grows its buffer as data arrives)."""
import os
import resource
import socket
import struct
import time

import pytest
from pydicom.uid import ImplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from imaging import dimse_speedups
from imaging.listener import Listener

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("vocabularies")]

#: ~4 GiB; the before-fix check ran with HOSTILE_PDU_LENGTH=0x60000000 (1.5 GiB) to spare the machine.
DECLARED = int(os.environ.get("HOSTILE_PDU_LENGTH", "0xFFFFFFF0"), 0)
RSS_GROWTH_LIMIT_KB = 200 * 1024


@pytest.fixture
def listener():
    server = Listener(ae_title="RADIMMUNO", host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


def _peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _closed_or_aborted(sock, timeout=5.0):
    """What the listener sends back until it closes the connection: True once closed within ``timeout``."""
    sock.settimeout(0.2)
    deadline, received = time.monotonic() + timeout, b""
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, received
        if not chunk:
            return True, received
        received += chunk
    return False, received


def _echo(port):
    ae = AE(ae_title="ECHOSCU")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="RADIMMUNO")
    assert assoc.is_established
    status = assoc.send_c_echo()
    assoc.release()
    return status.Status


def test_the_listener_advertises_a_finite_maximum_pdu_size(listener):
    assert 0 < listener.ae.maximum_pdu_size == dimse_speedups.MAX_PDU_LENGTH <= 16 * 1024 * 1024
    ae = AE(ae_title="ECHOSCU")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", listener.port, ae_title="RADIMMUNO")
    assert assoc.is_established and assoc.acceptor.maximum_length == dimse_speedups.MAX_PDU_LENGTH
    assoc.release()


def test_a_huge_a_associate_rq_header_is_aborted_without_allocating_it(listener):
    before = _peak_rss_kb()
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(struct.pack(">BBL", 0x01, 0, DECLARED))
        closed, received = _closed_or_aborted(sock)
    assert closed and time.monotonic() - started < 5, "the listener kept the hostile connection open"
    assert received[:1] in (b"", b"\x07")  # an A-ABORT PDU, if anything
    assert _peak_rss_kb() - before < RSS_GROWTH_LIMIT_KB
    assert _echo(listener.port) == 0x0000


def test_a_huge_p_data_tf_header_after_association_is_aborted_without_allocating_it(listener):
    ae = AE(ae_title="HOSTILE")
    ae.add_requested_context(Verification, [ImplicitVRLittleEndian])
    assoc = ae.associate("127.0.0.1", listener.port, ae_title="RADIMMUNO")
    assert assoc.is_established
    # Take the association's socket from pynetdicom: its reactor must not read what the listener answers.
    sock = assoc.dul.socket.socket
    raw = socket.socket(fileno=os.dup(sock.fileno()))
    assoc.dul.kill_dul()
    assoc.kill()
    before = _peak_rss_kb()
    try:
        started = time.monotonic()
        raw.sendall(struct.pack(">BBL", 0x04, 0, DECLARED))
        closed, received = _closed_or_aborted(raw)
    finally:
        raw.close()
    assert closed and time.monotonic() - started < 5, "the listener kept the hostile association open"
    assert b"\x07\x00" in received or received == b""  # A-ABORT
    assert _peak_rss_kb() - before < RSS_GROWTH_LIMIT_KB
    assert listener.wait_idle()
    assert _echo(listener.port) == 0x0000


def test_pdu_buffers_grow_only_as_data_arrives():
    a, b = socket.socketpair()
    try:
        a.sendall(b"x" * 1000)
        a.shutdown(socket.SHUT_WR)
        body = dimse_speedups._recv_exactly(b, DECLARED)  # noqa: SLF001
        assert body == b"x" * 1000
        payload = os.urandom(3 * dimse_speedups._FIRST_RECV + 17)  # noqa: SLF001
        c, d = socket.socketpair()
        with c, d:
            import threading

            sender = threading.Thread(target=c.sendall, args=(payload,))
            sender.start()
            assert dimse_speedups._recv_exactly(d, len(payload)) == payload  # noqa: SLF001
            sender.join()
    finally:
        a.close()
        b.close()
