"""The common case, without pydicom.

A DICOM listener reads a header for every instance while the sender waits; pydicom's dataset machinery costs
~1 ms per 512 x 512 CT slice, most of it per-element conversion and validation that a plain single-frame CT
or MR slice does not need. ``_plain_image_elements`` walks such a file's bytes once and hands
``header_from_dataset`` the few values it reads, as pydicom would give them. It answers only for files it is
sure about; anything else (another SOP class or transfer syntax, a character set escape, a NUL or non-ASCII text in
a value we read, multi-valued text, a value that is odd or does not convert, an element or sequence that
does not fit the file, encapsulated pixel data, a missing attribute) returns None and goes the
pydicom way, which also writes the curator's explanation. Tests check both ways give equal headers.

Pure Python; no Django imports.
"""

from __future__ import annotations

import struct

from .sop_classes import _REQUIRED_ALL, _REQUIRED_SINGLE_FRAME_IMAGE, CT_IMAGE_STORAGE, MR_IMAGE_STORAGE

_PLAIN_SOP_CLASSES = frozenset({CT_IMAGE_STORAGE, MR_IMAGE_STORAGE})
_PLAIN_TRANSFER_SYNTAXES = {"1.2.840.10008.1.2.1": False, "1.2.840.10008.1.2": True}  # UID -> implicit VR
#: Character sets in which bytes below 0x80 (without escape sequences) are ASCII.
_ASCII_COMPATIBLE_CHARSETS = frozenset({
    "", "ISO_IR 6", "ISO_IR 100", "ISO_IR 101", "ISO_IR 109", "ISO_IR 110", "ISO_IR 126", "ISO_IR 127",
    "ISO_IR 138", "ISO_IR 144", "ISO_IR 148", "ISO_IR 166", "ISO_IR 203", "ISO_IR 192", "GB18030", "GBK",
})
#: tag -> (keyword, VR, multi-valued) for every element ``header_from_dataset`` reads from a single-frame image.
_PLAIN_TAGS = {
    0x00080016: ("SOPClassUID", "UI", False),
    0x00080018: ("SOPInstanceUID", "UI", False),
    0x00080020: ("StudyDate", "DA", False),
    0x00080022: ("AcquisitionDate", "DA", False),
    0x0008002A: ("AcquisitionDateTime", "DT", False),
    0x00080030: ("StudyTime", "TM", False),
    0x00080032: ("AcquisitionTime", "TM", False),
    0x00080060: ("Modality", "CS", False),
    0x00080070: ("Manufacturer", "LO", False),
    0x00081030: ("StudyDescription", "LO", False),
    0x0008103E: ("SeriesDescription", "LO", False),
    0x00081090: ("ManufacturerModelName", "LO", False),
    0x00100020: ("PatientID", "LO", False),
    0x00101020: ("PatientSize", "DS", False),
    0x00101030: ("PatientWeight", "DS", False),
    0x00180010: ("ContrastBolusAgent", "LO", False),
    0x00180050: ("SliceThickness", "DS", False),
    0x00180060: ("KVP", "DS", False),
    0x00181210: ("ConvolutionKernel", "SH", False),
    0x0020000D: ("StudyInstanceUID", "UI", False),
    0x0020000E: ("SeriesInstanceUID", "UI", False),
    0x00200011: ("SeriesNumber", "IS", False),
    0x00200013: ("InstanceNumber", "IS", False),
    0x00200032: ("ImagePositionPatient", "DS", True),
    0x00200037: ("ImageOrientationPatient", "DS", True),
    0x00200052: ("FrameOfReferenceUID", "UI", False),
    0x00280008: ("NumberOfFrames", "IS", False),
    0x00280010: ("Rows", "US", False),
    0x00280011: ("Columns", "US", False),
    0x00280030: ("PixelSpacing", "DS", True),
    0x00281052: ("RescaleIntercept", "DS", False),
    0x00281053: ("RescaleSlope", "DS", False),
    0x00281054: ("RescaleType", "LO", False),
}
_PLAIN_REQUIRED = (*_REQUIRED_ALL, *_REQUIRED_SINGLE_FRAME_IMAGE)
_PIXEL_DATA_TAG = 0x7FE00010
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_UNDEFINED = 0xFFFFFFFF
_unpack_tag_explicit = struct.Struct("<HH2sH").unpack_from
_unpack_tag_implicit = struct.Struct("<HHL").unpack_from
_unpack_u32 = struct.Struct("<L").unpack_from


class _Unsure(Exception):
    """The fast reader cannot vouch for this file: let pydicom read it."""


class _PlainElements:
    """The values ``header_from_dataset`` reads, as pydicom returns them (str, int, list of str)."""

    def __init__(self, values, file_meta=None):
        self._values = values
        self.file_meta = file_meta

    def get(self, keyword, default=None):
        return self._values.get(keyword, default)

    def __getattr__(self, keyword):
        try:
            return self.__dict__["_values"][keyword]
        except KeyError:
            raise AttributeError(keyword) from None

    def __contains__(self, keyword):
        return keyword in self._values


def _element_header(data, offset, implicit):
    """(tag, VR or None, length, value offset) of the element at ``offset`` (little endian)."""
    if implicit:
        group, element, length = _unpack_tag_implicit(data, offset)
        return (group << 16) | element, None, length, offset + 8
    group, element, vr, short = _unpack_tag_explicit(data, offset)
    if vr in _LONG_VRS:
        (length,) = _unpack_u32(data, offset + 8)
        return (group << 16) | element, vr, length, offset + 12
    if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
        raise _Unsure("not an explicit VR")
    return (group << 16) | element, vr, short, offset + 8


def _skip_undefined(data, offset, implicit, end_tag):
    """Offset just after the delimiter ``end_tag`` that closes the undefined-length value starting at ``offset``."""
    size = len(data)
    while offset + 8 <= size:
        group, element, length = _unpack_tag_implicit(data, offset)
        tag = (group << 16) | element
        if tag == end_tag:
            return offset + 8
        if tag == _ITEM:  # an item of a sequence
            offset = _skip_undefined(data, offset + 8, implicit, _ITEM_END) if length == _UNDEFINED \
                else offset + 8 + length
            continue
        tag, vr, length, offset = _element_header(data, offset, implicit)
        if length == _UNDEFINED:
            if vr not in (None, b"SQ", b"UN"):
                raise _Unsure("undefined length outside a sequence")
            offset = _skip_undefined(data, offset, implicit, _SEQUENCE_END)
        else:
            offset += length
    raise _Unsure("an undefined-length value runs past the end of the file")


def _text(raw, vr):
    if any(b >= 0x80 or b == 0x1B for b in raw):
        raise _Unsure("non-ASCII text")
    text = raw.decode("ascii")
    if vr == "UI":
        text = text.rstrip("\x00 ")
        if text.strip("0123456789."):
            raise _Unsure("not a plain UID")
    elif "\x00" in text:  # pydicom strips a trailing NUL from text, and an inner one is not plain text
        raise _Unsure("NUL in text")
    return text


_EMPTY = object()


def _plain_value(raw, vr, multi):
    """A value as pydicom returns it, or ``_EMPTY`` (``header_from_dataset`` reads "" like a missing value)."""
    if vr == "US":
        if not raw:
            return _EMPTY
        if len(raw) != 2:
            raise _Unsure("US value of another length")
        return int.from_bytes(raw, "little")
    text = _text(raw, vr)
    if not text.strip(" "):
        return _EMPTY
    if multi:
        values = text.split("\\")
        for v in values:
            float(v)  # ValueError -> pydicom decides
        return values
    if "\\" in text:
        raise _Unsure("multi-valued")
    if vr == "IS":
        return int(text)
    if vr == "DS":
        float(text)
    return text


def _plain_file_meta(data):
    """(transfer syntax UID, offset of the data set) from the file meta group, or raise _Unsure."""
    if len(data) < 144 or data[128:132] != b"DICM":
        raise _Unsure("no DICM prefix")
    tag, vr, length, value_at = _element_header(data, 132, False)
    if tag != 0x00020000 or vr != b"UL" or length != 4:
        raise _Unsure("no file meta group length")
    end = value_at + 4 + _unpack_u32(data, value_at)[0]
    offset, syntax = value_at + 4, None
    while offset < end:
        tag, vr, length, value_at = _element_header(data, offset, False)
        if tag >> 16 != 0x0002 or length == _UNDEFINED or value_at + length > end:
            raise _Unsure("odd file meta group")
        if tag == 0x00020010:
            syntax = _text(bytes(data[value_at:value_at + length]), "UI")
        offset = value_at + length
    if offset != end or syntax is None:
        raise _Unsure("odd file meta group")
    return syntax, end


def _plain_image_elements(data):
    """The values of a plain single-frame CT/MR file (see above), or None when pydicom should read it."""
    try:
        syntax, offset = _plain_file_meta(data)
        implicit = _PLAIN_TRANSFER_SYNTAXES.get(syntax)
        if implicit is None:
            return None
        size, values, pixels = len(data), {}, False
        while offset < size:
            if size - offset < 8:
                return None
            tag, vr, length, value_at = _element_header(data, offset, implicit)
            if tag == _PIXEL_DATA_TAG:  # native pixels; whatever follows them must fit the file too
                if length == _UNDEFINED or value_at + length > size or vr not in (None, b"OW", b"OB"):
                    return None
                pixels, offset = True, value_at + length
                continue
            if tag >> 16 == 0x0002 or tag in (_ITEM, _ITEM_END, _SEQUENCE_END):
                return None
            if length == _UNDEFINED:
                if vr not in (None, b"SQ", b"UN") or tag in _PLAIN_TAGS:
                    return None
                offset = _skip_undefined(data, value_at, implicit or vr == b"UN", _SEQUENCE_END)
                continue
            if value_at + length > size:
                return None
            spec = _PLAIN_TAGS.get(tag)
            if spec is not None:
                keyword, expected_vr, multi = spec
                if vr is not None and vr.decode("ascii") != expected_vr:
                    return None
                value = _plain_value(bytes(data[value_at:value_at + length]), expected_vr, multi)
                if value is _EMPTY:
                    values.pop(keyword, None)
                else:
                    values[keyword] = value
            elif tag == 0x00080005:  # the values we read must mean the same in it as in ASCII
                charsets = bytes(data[value_at:value_at + length]).decode("ascii").strip(" \x00").split("\\")
                if any(c.strip(" ") not in _ASCII_COMPATIBLE_CHARSETS for c in charsets):
                    return None
            offset = value_at + length
        if not pixels or values.get("SOPClassUID") not in _PLAIN_SOP_CLASSES or values.get("Modality") == "PT":
            return None
        if any(keyword not in values for keyword in _PLAIN_REQUIRED) or "NumberOfFrames" in values:
            return None
        values["PixelData"] = True  # native pixel data that fits the file (header_from_dataset asks "in")
        return _PlainElements(values, _PlainElements({"TransferSyntaxUID": syntax}))
    except (_Unsure, ValueError, struct.error, UnicodeError, RecursionError):
        return None
