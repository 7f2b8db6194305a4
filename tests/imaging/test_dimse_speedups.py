"""The listener's shortcuts through pynetdicom give pynetdicom's own bytes: responses, file meta, PDV items."""
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import create_file_meta, encode_file_meta
from pynetdicom.pdu import P_DATA_TF

from imaging import dimse_speedups
from imaging.dimse_speedups import _pdv_items, _plain_store_response, _pynetdicom_command, c_store_rsp_command

uids = st.lists(st.integers(0, 10**12), min_size=2, max_size=12).map(lambda parts: "1." + ".".join(map(str, parts))
                                                                     ).filter(lambda uid: len(uid) <= 64)


def _response(message_id, sop_class, sop_instance, status):
    rsp = C_STORE()
    rsp.MessageIDBeingRespondedTo = message_id
    rsp.AffectedSOPClassUID = sop_class
    rsp.AffectedSOPInstanceUID = sop_instance
    rsp.Status = status
    return rsp


def test_the_installed_pynetdicom_is_one_the_shortcuts_were_checked_against():
    assert dimse_speedups.supported(), "pin pynetdicom to a checked version or re-check imaging/dimse_speedups.py"


@settings(max_examples=200, deadline=None)
@given(message_id=st.integers(0, 0xFFFF), sop_class=uids, sop_instance=uids,
       status=st.sampled_from([0x0000, 0xB000, 0xB007, 0xB006, 0xA700, 0xA900, 0xC000]))
def test_c_store_response_command_is_byte_identical_to_pynetdicoms(message_id, sop_class, sop_instance, status):
    rsp = _response(message_id, sop_class, sop_instance, status)
    assert _plain_store_response(rsp)
    assert c_store_rsp_command(message_id=message_id, sop_class_uid=sop_class, sop_instance_uid=sop_instance,
                               status=status) == _pynetdicom_command(rsp)


def test_responses_with_error_attributes_are_left_to_pynetdicom():
    rsp = _response(1, "1.2.840.10008.5.1.4.1.1.2", "1.2.3", 0xA900)
    rsp.ErrorComment = "no_pixel_data: ..."
    assert not _plain_store_response(rsp)


@settings(max_examples=100, deadline=None)
@given(sop_class=uids, sop_instance=uids,
       syntax=st.sampled_from([ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, RLELossless]))
def test_received_file_meta_is_byte_identical_to_pynetdicoms(sop_class, sop_instance, syntax):
    reference = b"\x00" * 128 + b"DICM" + encode_file_meta(create_file_meta(
        sop_class_uid=UID(sop_class), sop_instance_uid=UID(sop_instance), transfer_syntax=UID(syntax)))
    assert dimse_speedups.file_meta_bytes(sop_class, sop_instance, syntax) == reference


def _pdv(context_id, data):
    return struct.pack(">LB", len(data) + 1, context_id) + data


@given(st.lists(st.tuples(st.integers(1, 255), st.binary(min_size=1, max_size=300)), min_size=1, max_size=5))
def test_pdv_items_are_what_pynetdicom_decodes(items):
    body = b"".join(_pdv(cid, data) for cid, data in items)
    reference = P_DATA_TF()
    reference.decode(b"\x04\x00" + struct.pack(">L", len(body)) + body)
    ours = _pdv_items(bytearray(body))
    assert [(i.presentation_context_id, bytes(i.presentation_data_value)) for i in ours] == \
        [(i.presentation_context_id, i.presentation_data_value) for i in reference.presentation_data_value_items]


@pytest.mark.parametrize("body", [
    struct.pack(">L", 10) + b"\x01\x03abc",  # declares more than the PDU holds
    struct.pack(">L", 1) + b"\x01",  # a PDV needs a context ID and a control header
    _pdv(1, b"\x03ab") + b"\x00\x00",  # stray bytes after the last item
])
def test_malformed_pdv_items_are_refused(body):
    with pytest.raises(ValueError):
        _pdv_items(bytearray(body))
