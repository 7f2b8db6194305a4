"""Can a DICOM file's pixel data be decoded into the frames its header declares?

The header check (:mod:`imaging.compute.dicom_headers`) reads a file without its pixels, so a file whose Pixel
Data is 10 bytes long, whose Rows is 0, whose Number of Frames promises 5 frames of a one-frame payload, or
whose transfer syntax says "JPEG" over uncompressed bytes, passes it and would be stored with a volume status of
"ok" that no reader can honour. :func:`pixel_data_problem` answers for such a file before it is stored, with a
reason a curator can act on, or None.

It must be cheap (the DICOM listener checks ~1,000 slices a second while the sender waits), so:

* **native** (uncompressed) transfer syntaxes: the pixels are never decoded. The Image Pixel description is
  checked as pydicom's decoders check it (Rows, Columns > 0; Bits Allocated 1 or a multiple of 8 up to 64;
  Bits Stored, Pixel Representation, Photometric Interpretation, Samples per Pixel, Planar Configuration
  present and valid; Number of Frames >= 1), and the value length must be exactly
  Rows x Columns x Samples x Frames x Bits Allocated / 8 (1-bit data packed, YBR_FULL_422 sub-sampled as in
  PS3.3 C.7.6.3.1.2), plus the one trailing pad byte that makes an odd length even. A longer value is refused
  too, although pydicom would decode its first part: the header then describes other pixels than the file holds
  (e.g. Number of Frames 1 over a 5-frame payload would silently lose 4 frames).
* **encapsulated** (compressed) transfer syntaxes: the value must be encapsulated (an item for the Basic Offset
  Table, one or more fragment items, a sequence delimiter; PS3.5 A.4); the fragments, the Basic or Extended Offset
  Table must fit Number of Frames (RLE: exactly one fragment per frame, PS3.5 G.1); and the first frame is
  decoded with pydicom's decoder for that syntax (~1-10 ms for a 512 x 512 frame) and must have Rows x Columns.
  Every object radimmuno accepts with pixel data needs them decoded later (image series are read into volumes,
  SEG frames into masks), so a syntax for which no decoder is installed here is refused with a reason naming
  what to install; the file waits in quarantine and can be re-tried once the decoder is there.

The file's bytes are walked once, element by element, without building a pydicom dataset, for the little-endian
syntaxes with a file meta header: everything the listener accepts but Deflated and Big Endian. On the project's
2-core machine that is ~50 us for a CT slice of ~50 elements and ~90 us for one of ~250 (the header's fast
path takes longer), no more for a large image, since native pixels are never read. Deflated and Big Endian
files, files without a preamble and files the walker cannot vouch for are read with pydicom (~1 ms).

Pure Python (pydicom, numpy); no Django imports.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pydicom
from pydicom.uid import UID

__all__ = ["PixelDescription", "describe_pixel_data", "description_problem", "pixel_data_problem"]

_PIXEL_DATA, _FLOAT_PIXEL_DATA, _DOUBLE_PIXEL_DATA = 0x7FE00010, 0x7FE00008, 0x7FE00009
#: (7FE0,0001) Extended Offset Table and (7FE0,0002) its lengths -> their place in ``extended_offsets``
_EXTENDED_TABLES = {0x7FE00001: 0, 0x7FE00002: 1}
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_ITEM_TAG_BYTES = b"\xfe\xff\x00\xe0"  # (FFFE,E000) little endian
_KEYWORDS = {_PIXEL_DATA: "PixelData", _FLOAT_PIXEL_DATA: "FloatPixelData",
             _DOUBLE_PIXEL_DATA: "DoubleFloatPixelData"}
_NAMES = {"PixelData": "Pixel Data", "FloatPixelData": "Float Pixel Data",
          "DoubleFloatPixelData": "Double Float Pixel Data"}
#: (0028,xxxx) elements of the Image Pixel description: tag -> (keyword, is a number (US) or text (IS/CS)).
_DESCRIPTION_TAGS = {
    0x00280002: ("SamplesPerPixel", "US"),
    0x00280004: ("PhotometricInterpretation", "CS"),
    0x00280006: ("PlanarConfiguration", "US"),
    0x00280008: ("NumberOfFrames", "IS"),
    0x00280010: ("Rows", "US"),
    0x00280011: ("Columns", "US"),
    0x00280100: ("BitsAllocated", "US"),
    0x00280101: ("BitsStored", "US"),
    0x00280103: ("PixelRepresentation", "US"),
}
_LITTLE_ENDIAN_SYNTAXES = {  # UID -> implicit VR (the syntaxes walked without pydicom)
    "1.2.840.10008.1.2": True,
    "1.2.840.10008.1.2.1": False,
}
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_SHORT_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"PN", b"SH",
              b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
_unpack_tag = struct.Struct("<HH").unpack_from
_unpack_implicit = struct.Struct("<HHL").unpack_from
_unpack_explicit = struct.Struct("<HH2sH").unpack_from
_unpack_u16 = struct.Struct("<H").unpack_from
_unpack_u32 = struct.Struct("<L").unpack_from


@dataclass(frozen=True)
class PixelDescription:
    """What a file says about its pixels: the Image Pixel description and where its pixel data is.

    ``values``: keyword -> value as found (int for US, stripped str for IS/CS; absent when the element is absent
    or empty). ``keyword``: the pixel data element present (None: none). ``length``: its value length (None:
    undefined, i.e. encapsulated). ``value``: its bytes for encapsulated data (items, without the sequence
    delimiter), else None: native data is checked by its length only. ``extended_offsets``: the bytes of the
    Extended Offset Table and of its Lengths (either may be None), when there is a table. ``problem``: set when
    the encapsulated value's structure is broken. ``item_tagged``: a native value that starts with an item tag,
    as encapsulated data written under an uncompressed transfer syntax does.
    """

    transfer_syntax_uid: str
    values: Mapping[str, Any]
    keyword: str | None = None
    length: int | None = None
    value: bytes | memoryview | None = None
    extended_offsets: tuple[bytes | None, bytes | None] | None = None
    problem: str | None = None
    item_tagged: bool = False


@functools.lru_cache(maxsize=64)
def _syntax(uid):
    """(UID, known to pydicom as a transfer syntax, encapsulated): pydicom's UID properties cost ~8 us a call."""
    syntax = UID(uid)
    known = syntax.is_transfer_syntax
    return syntax, known, known and syntax.is_encapsulated


class _Unsure(Exception):
    """The byte walker cannot vouch for this file: let pydicom read it."""


# --------------------------------------------------------------------------- reading the description


def _explicit_header(data, offset):
    group, element = _unpack_tag(data, offset)
    vr = bytes(data[offset + 4:offset + 6])
    if vr in _LONG_VRS:
        return (group << 16) | element, vr, _unpack_u32(data, offset + 8)[0], offset + 12
    if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
        raise _Unsure("not an explicit VR")
    return (group << 16) | element, vr, _unpack_u16(data, offset + 6)[0], offset + 8


def _element_header(data, offset, implicit):
    """(tag, VR or None, length, value offset) of the little-endian element at ``offset``."""
    if implicit:
        group, element = _unpack_tag(data, offset)
        return (group << 16) | element, None, _unpack_u32(data, offset + 4)[0], offset + 8
    return _explicit_header(data, offset)


def _skip_undefined(data, offset, implicit, end_tag):
    """The offset after the delimiter ``end_tag`` closing the undefined-length value that starts at ``offset``."""
    size = len(data)
    while offset + 8 <= size:
        group, element = _unpack_tag(data, offset)
        tag = (group << 16) | element
        if tag == end_tag:
            return offset + 8
        if tag == _ITEM:
            (length,) = _unpack_u32(data, offset + 4)
            offset = _skip_undefined(data, offset + 8, implicit, _ITEM_END) if length == _UNDEFINED \
                else offset + 8 + length
            continue
        tag, vr, length, offset = _element_header(data, offset, implicit)
        if length == _UNDEFINED:
            offset = _skip_undefined(data, offset, implicit or vr == b"UN", _SEQUENCE_END)
        else:
            offset += length
    raise _Unsure("an undefined-length value runs past the end of the file")


def _encapsulated_extent(data, offset):
    """(end of the items, structure problem or None) of the encapsulated value starting at ``offset``."""
    size, first = len(data), True
    while True:
        if offset + 8 > size:
            return offset, "the file ends before the sequence delimiter that closes the encapsulated value"
        group, element = _unpack_tag(data, offset)
        tag, (length,) = (group << 16) | element, _unpack_u32(data, offset + 4)
        if tag == _SEQUENCE_END:
            return offset, None
        if tag != _ITEM:
            what = "Basic Offset Table item" if first else "fragment item or sequence delimiter"
            return offset, (f"a {what} (FFFE,E000) was expected at byte {offset:,} but the tag there is "
                            f"({group:04X},{element:04X})")
        if length == _UNDEFINED or offset + 8 + length > size:
            return offset, f"an item at byte {offset:,} declares {length:,} bytes, more than the file holds"
        offset += 8 + length
        first = False


def _description_value(raw, kind):
    if kind == "US":
        return int.from_bytes(raw[:2], "little") if len(raw) >= 2 else None
    text = bytes(raw).decode("ascii", "replace").strip(" \x00")
    return text or None


def _file_meta(data):
    """(transfer syntax UID, offset of the data set) from a file meta group, or raise _Unsure."""
    if len(data) < 144 or bytes(data[128:132]) != b"DICM":
        raise _Unsure("no DICM prefix")
    offset, syntax, size = 132, None, len(data)
    while offset + 8 <= size:
        group, _ = _unpack_tag(data, offset)
        if group != 0x0002:
            break
        tag, _, length, value_at = _explicit_header(data, offset)
        if length == _UNDEFINED or value_at + length > size:
            raise _Unsure("odd file meta group")
        if tag == 0x00020010:
            syntax = bytes(data[value_at:value_at + length]).decode("ascii", "replace").strip(" \x00")
        offset = value_at + length
    if syntax is None:
        raise _Unsure("no transfer syntax")
    return syntax, offset


def _walk(data):
    """The description of a little-endian file with a file meta group, without pydicom, or raise _Unsure."""
    syntax, offset = _file_meta(data)
    implicit = _LITTLE_ENDIAN_SYNTAXES.get(syntax)
    if implicit is None:
        _, _, encapsulated = _syntax(syntax)
        if not encapsulated:  # Deflated, Big Endian, private: pydicom knows how to read them
            raise _Unsure("not a little-endian syntax")
        implicit = False  # every encapsulated syntax encodes its data set as explicit VR little endian
    size, values, pixels, extended = len(data), {}, None, [None, None]
    while offset + 8 <= size:
        # inlined _element_header: this loop runs for every element of every received file
        if implicit:
            group, element, length = _unpack_implicit(data, offset)
            vr, value_at = None, offset + 8
        else:
            group, element, vr, length = _unpack_explicit(data, offset)
            if vr in _LONG_VRS:
                (length,) = _unpack_u32(data, offset + 8)
                value_at = offset + 12
            elif vr in _SHORT_VRS:
                value_at = offset + 8
            else:
                raise _Unsure("not an explicit VR")
        if group < 0x0028 and length != _UNDEFINED:  # most elements: nothing to read
            offset = value_at + length
            continue
        tag = (group << 16) | element
        if tag in _KEYWORDS:
            if length == _UNDEFINED:
                end, problem = _encapsulated_extent(data, value_at)
                pixels = (tag, None, data[value_at:end], problem, False)
                break  # (only Pixel Data may be encapsulated; nothing after it describes the pixels)
            if value_at + length > size:
                raise _Unsure("pixel data runs past the end of the file")
            pixels = (tag, length, None, None, bytes(data[value_at:value_at + 4]) == _ITEM_TAG_BYTES)
            if tag == _PIXEL_DATA:
                break
            offset = value_at + length
            continue
        if tag in (_ITEM, _ITEM_END, _SEQUENCE_END) or tag > _PIXEL_DATA:
            break
        if length == _UNDEFINED:
            offset = _skip_undefined(data, value_at, implicit or vr == b"UN", _SEQUENCE_END)
            continue
        if value_at + length > size:
            raise _Unsure("an element runs past the end of the file")
        spec = _DESCRIPTION_TAGS.get(tag)
        if spec is not None:
            value = _description_value(data[value_at:value_at + length], spec[1])
            if value is not None:
                values[spec[0]] = value
        elif tag in _EXTENDED_TABLES:
            extended[_EXTENDED_TABLES[tag]] = bytes(data[value_at:value_at + length])
        offset = value_at + length
    if offset > size:
        raise _Unsure("an element runs past the end of the file")
    extended = tuple(extended) if extended[0] is not None else None
    if pixels is None:
        return PixelDescription(syntax, values, extended_offsets=extended)
    tag, length, value, problem, item_tagged = pixels
    return PixelDescription(syntax, values, _KEYWORDS[tag], length, value, extended, problem, item_tagged)


def _with_pydicom(data):
    """The description of any file pydicom reads (Deflated, Big Endian, no preamble): ~1 ms."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (pydicom warns about the very values we are here to judge)
        return _read_with_pydicom(data)


def _read_with_pydicom(data):
    ds = pydicom.dcmread(io.BytesIO(bytes(data)), force=True)
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "") if meta is not None else "") or (
        "1.2.840.10008.1.2" if ds.is_implicit_VR else "1.2.840.10008.1.2.1" if ds.is_little_endian
        else "1.2.840.10008.1.2.2")
    values = {}
    for tag, (keyword, kind) in _DESCRIPTION_TAGS.items():
        raw = ds.get_item(tag, keep_deferred=True)
        if raw is None:
            continue
        try:
            value = ds[tag].value
        except Exception:  # noqa: BLE001 - a malformed value is as good as a missing one here
            continue
        if isinstance(value, (bytes, bytearray)):
            value = _description_value(value, kind)
        elif value is not None and value != "":
            value = int(value) if kind == "US" else str(value).strip(" \x00")
        if value is not None and value != "":
            values[keyword] = value
    tables = [ds.get_item(tag, keep_deferred=True) for tag in _EXTENDED_TABLES]
    extended = tuple(bytes(t.value) if t is not None and t.value is not None else None for t in tables)
    extended = extended if extended[0] is not None else None
    for tag in (_PIXEL_DATA, _FLOAT_PIXEL_DATA, _DOUBLE_PIXEL_DATA):
        raw = ds.get_item(tag, keep_deferred=True)
        if raw is None:
            continue
        value = raw.value if raw.value is not None else b""
        if getattr(raw, "length", None) == _UNDEFINED or getattr(raw, "is_undefined_length", False):
            buffer = bytes(value) + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"  # pydicom drops the delimiter
            end, problem = _encapsulated_extent(buffer, 0)
            return PixelDescription(syntax, values, _KEYWORDS[tag], None, buffer[:end], extended, problem)
        return PixelDescription(syntax, values, _KEYWORDS[tag], len(value), None, extended,
                                item_tagged=bytes(value[:4]) == _ITEM_TAG_BYTES)
    return PixelDescription(syntax, values, extended_offsets=extended)


def describe_pixel_data(data: bytes | bytearray | memoryview) -> PixelDescription:
    """The Image Pixel description and the pixel data element of a DICOM file's bytes.

    Raises
    ------
    ValueError
        (or another pydicom error) when pydicom cannot read the file at all.
    """
    try:
        return _walk(data)
    except (_Unsure, struct.error, UnicodeError, ValueError, IndexError, RecursionError):
        return _with_pydicom(data)


# --------------------------------------------------------------------------- judging it


def _plural(n, word):
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _description_problem(d: PixelDescription, frames_text) -> str | None:
    """The checks pydicom's decoders make of the Image Pixel description (``pydicom.pixels.common``)."""
    v = d.values
    float_data = d.keyword != "PixelData"
    required = ["Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "PhotometricInterpretation"]
    if not float_data:
        required += ["BitsStored", "PixelRepresentation"]
    if v.get("SamplesPerPixel") == 3:
        required.append("PlanarConfiguration")
    missing = [k for k in required if v.get(k) is None]
    if missing:
        return (f"the Image Pixel module lacks {', '.join(missing)}, which are needed to decode Pixel Data; "
                "the export is incomplete - ask the sender for a complete one")
    for keyword in ("Rows", "Columns"):
        if v[keyword] == 0:
            return (f"{keyword} is 0: the image has no pixels to decode; the header is damaged - re-send or "
                    "re-export the file from the source")
    if frames_text is not None:
        return (f"Number of Frames is {frames_text!r}, not a whole number of at least 1; the frames cannot be "
                "located - the header is damaged")
    bits = v["BitsAllocated"]
    if not 1 <= bits <= 64 or (bits != 1 and bits % 8):
        return f"Bits Allocated is {bits}; it must be 1 or a multiple of 8 up to 64 - the header is damaged"
    if not float_data and not 1 <= v["BitsStored"] <= bits:
        return f"Bits Stored is {v['BitsStored']}, more than Bits Allocated ({bits}) or 0 - the header is damaged"
    if float_data and bits != (32 if d.keyword == "FloatPixelData" else 64):
        return f"{d.keyword} needs Bits Allocated {32 if d.keyword == 'FloatPixelData' else 64}, not {bits}"
    if not float_data and v["PixelRepresentation"] not in (0, 1):
        return f"Pixel Representation is {v['PixelRepresentation']}; it must be 0 or 1 - the header is damaged"
    if v["SamplesPerPixel"] not in (1, 3):
        return f"Samples per Pixel is {v['SamplesPerPixel']}; pydicom decodes 1 or 3"
    if v["SamplesPerPixel"] == 3 and v["PlanarConfiguration"] not in (0, 1):
        return f"Planar Configuration is {v['PlanarConfiguration']}; it must be 0 or 1"
    return None


def _frames(d: PixelDescription):
    """(number of frames, None) or (1, the malformed Number of Frames text)."""
    text = d.values.get("NumberOfFrames")
    if text is None:
        return 1, None
    try:
        frames = int(str(text).strip())
    except ValueError:
        return 1, str(text)
    return (frames, None) if frames >= 1 else (1, str(text))


def _native_problem(d: PixelDescription, frames) -> str | None:
    v = d.values
    rows, columns, samples, bits = v["Rows"], v["Columns"], v["SamplesPerPixel"], v["BitsAllocated"]
    values = rows * columns * samples * frames
    expected = (values + 7) // 8 if bits == 1 else values * (bits // 8)
    if v.get("PhotometricInterpretation") == "YBR_FULL_422" and d.keyword == "PixelData":
        expected = expected // 3 * 2  # PS3.3 C.7.6.3.1.2: two chroma samples per two pixels
    if d.length == expected or (expected % 2 and d.length == expected + 1):
        return None
    if d.item_tagged:
        return (f"Pixel Data holds {_plural(d.length, 'byte')} that start like encapsulated (compressed) data, but "
                f"the transfer syntax {_syntax(d.transfer_syntax_uid)[0].name} says it is not compressed: the file's "
                "transfer syntax does not match its data - re-export it")
    shape = f"{rows}×{columns}" + (f"×{samples} samples" if samples != 1 else "")
    return (f"{_NAMES[d.keyword]} holds {_plural(d.length, 'byte')}; "
            f"{shape}×{_plural(frames, 'frame')}×{bits} bits needs {_plural(expected, 'byte')}. The file is "
            "damaged, or its Rows, Columns, Number of Frames or Bits Allocated are wrong - re-send or re-export "
            "it from the source")


def _fragments(value):
    """(Basic Offset Table bytes, [fragment memoryviews]) of a well-formed encapsulated value."""
    view, offset, items = memoryview(value), 0, []
    while offset + 8 <= len(view):
        (length,) = _unpack_u32(view, offset + 4)
        items.append(view[offset + 8:offset + 8 + length])
        offset += 8 + length
    return (items[0], items[1:]) if items else (b"", [])


def _offset_table_problem(d, syntax, bot, fragments, frames):
    """Do the fragments, the Basic Offset Table and the Extended Offset Table fit Number of Frames?"""
    total = sum(8 + len(f) for f in fragments)
    if d.extended_offsets:
        entries = len(d.extended_offsets[0]) // 8
        if entries != frames:
            return (f"the Extended Offset Table lists {_plural(entries, 'frame')} but Number of Frames is "
                    f"{frames}; the frames cannot be located - re-export the file")
    if len(bot):
        if len(bot) % 4:
            return f"the Basic Offset Table is {len(bot)} bytes long, not a multiple of 4; the file is damaged"
        offsets = struct.unpack(f"<{len(bot) // 4}L", bot)
        if len(offsets) != frames:
            return (f"the Basic Offset Table lists {_plural(len(offsets), 'frame')} but Number of Frames is "
                    f"{frames}; the header does not describe the data - re-export the file")
        if offsets[0] != 0 or any(b <= a for a, b in zip(offsets, offsets[1:])) or offsets[-1] >= total:
            return "the Basic Offset Table's offsets do not point into the fragments; the file is damaged"
    if syntax == pydicom.uid.RLELossless and len(fragments) != frames:
        return (f"RLE Lossless Pixel Data holds {_plural(len(fragments), 'fragment')} but Number of Frames is "
                f"{frames}; RLE encodes each frame in exactly one fragment (PS3.5 G.1) - the header does not "
                "describe the data")
    if len(fragments) < frames:
        return (f"the encapsulated Pixel Data holds {_plural(len(fragments), 'fragment')} but Number of Frames is "
                f"{frames}; every frame needs at least one fragment - the header does not describe the data")
    return None


def _decode_first_frame(d, syntax, frames):
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        decoder = None
    if decoder is None or not decoder.is_available:
        needs = "; ".join(getattr(decoder, "missing_dependencies", None) or ()) or "a decoder pydicom does not have"
        return (f"the pixel data is compressed as {syntax.name} ({syntax}), and no decoder for it is installed "
                f"here ({needs}); radimmuno cannot read it into a volume or mask. Install the decoder and re-try "
                "this file from quarantine, or ask the sender for an uncompressed (Explicit VR Little Endian) copy")
    v = d.values
    options = dict(
        rows=v["Rows"], columns=v["Columns"], samples_per_pixel=v["SamplesPerPixel"],
        bits_allocated=v["BitsAllocated"], bits_stored=v["BitsStored"],
        pixel_representation=v["PixelRepresentation"], photometric_interpretation=v["PhotometricInterpretation"],
        number_of_frames=frames, transfer_syntax_uid=syntax,
    )
    if v["SamplesPerPixel"] == 3:
        options["planar_configuration"] = v["PlanarConfiguration"]
    if d.extended_offsets and d.extended_offsets[1] is not None:
        options["extended_offsets"] = d.extended_offsets
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array, _ = decoder.as_array(bytes(d.value), index=0, raw=True, **options)
    except Exception as exc:  # noqa: BLE001 - decoders raise many types
        return (f"the first frame cannot be decoded as {syntax.name} ({type(exc).__name__}: {exc}); the data "
                "is not what the transfer syntax says, or it is damaged - re-send or re-export it")
    if tuple(array.shape[:2]) != (v["Rows"], v["Columns"]):
        return (f"the first frame decodes to {array.shape[0]}×{array.shape[1]} pixels but Rows×Columns is "
                f"{v['Rows']}×{v['Columns']}; the header does not describe the data")
    return None


def description_problem(d: PixelDescription, *, decode: bool = True) -> str | None:
    """Why the pixel data ``d`` describes cannot be decoded into its declared frames, or None (see the module)."""
    if d.keyword is None:
        return None  # no pixel data at all is the header check's business ("no_pixel_data")
    syntax, known, encapsulated = _syntax(d.transfer_syntax_uid)
    if not known:
        return (f"the transfer syntax {d.transfer_syntax_uid!r} is not one pydicom knows, so the pixel data cannot "
                "be decoded; ask the sender for a standard transfer syntax (e.g. Explicit VR Little Endian)")
    frames, frames_text = _frames(d)
    problem = _description_problem(d, frames_text)
    if problem:
        return problem
    if not encapsulated:
        if d.length is None:
            return (f"Pixel Data is encapsulated (compressed fragments) but the transfer syntax {syntax.name} "
                    "says it is not compressed: the file's transfer syntax does not match its data - re-export it")
        return _native_problem(d, frames)
    if d.length is not None:
        return (f"the transfer syntax {syntax.name} says the pixel data is compressed, but Pixel Data is a plain "
                f"{d.length:,}-byte value without item tags (not encapsulated): the file's transfer syntax does "
                "not match its data - re-export it")
    if d.problem:
        return f"the encapsulated Pixel Data is malformed: {d.problem}"
    bot, fragments = _fragments(d.value)
    if not fragments:
        return "the encapsulated Pixel Data holds no fragments: there is no image to decode"
    problem = _offset_table_problem(d, syntax, bot, fragments, frames)
    if problem or not decode:
        return problem
    return _decode_first_frame(d, syntax, frames)


def pixel_data_problem(data: bytes | bytearray | memoryview, header: Mapping[str, Any] | None = None, *,
                       decode: bool = True) -> str | None:
    """Why a DICOM file's pixel data cannot be decoded into the frames its header declares, or None.

    Parameters
    ----------
    data : bytes-like
        The whole file, as received.
    header : dict, optional
        What :func:`imaging.compute.dicom_headers.read_dicom_header` returned for it; a header without pixel
        data (``has_pixel_data`` false, e.g. an RTSTRUCT) is answered at once, without reading the bytes.
    decode : bool
        Decode the first frame of encapsulated data (default); False checks only its structure.

    Returns
    -------
    str or None
        A reason written for the curator ("Pixel Data holds 10 bytes; 512×512×1 frame×16 bits needs 524,288
        bytes. ..."), to quarantine the file with as "unreadable"; None when the pixels are decodable.
    """
    if header is not None and not header.get("has_pixel_data", True):
        return None
    try:
        description = describe_pixel_data(data)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on garbage
        return f"pydicom could not read the file to locate its pixel data ({type(exc).__name__}: {exc})"
    return description_problem(description, decode=decode)
