"""imaging.compute.pixels: pixel data that cannot be decoded into its declared frames is named, with a reason,
before the file is stored (issue 9, defect 8: such files were stored with volume status "ok").

Built from real pydicom data sets, written with pydicom and then corrupted the ways a hostile tester did: a
transfer syntax that does not match the data, Rows 0, a 10-byte Pixel Data, Number of Frames 5 on a one-frame
payload; and valid ones (native in every syntax, odd lengths with their pad byte, 1-bit, YBR_FULL_422,
multi-frame, RLE and JPEG-LS written by pydicom, every decodable file pydicom ships)."""

from __future__ import annotations

import copy
import io
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.pixels import get_decoder
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

from imaging.compute import pixels
from imaging.compute.dicom_headers import read_dicom_header
from imaging.compute.pixels import describe_pixel_data, pixel_data_problem

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def _ct() -> pydicom.Dataset:
    """pydicom's CT_small: 128 x 128, 16 bits, explicit VR little endian."""
    return pydicom.dcmread(get_testdata_file("CT_small.dcm"))


def _bytes(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def relabelled(data: bytes, transfer_syntax: str) -> bytes:
    """The same data set under another Transfer Syntax UID in its file meta (pydicom refuses to write that)."""
    meta = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).file_meta
    group_length = int.from_bytes(data[140:144], "little")
    meta.TransferSyntaxUID = transfer_syntax
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_file_meta_info(fp, meta, enforce_standard=True)
    return b"\x00" * 128 + b"DICM" + fp.getvalue() + data[144 + group_length:]


def _compressed(ds: pydicom.Dataset, syntax) -> pydicom.Dataset:
    ds = copy.deepcopy(ds)
    ds.compress(syntax)
    return ds


def _pydicom_decodes(data: bytes) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pydicom.dcmread(io.BytesIO(data), force=True).pixel_array  # noqa: B018
        except Exception:  # noqa: BLE001
            return False
    return True


# --------------------------------------------------------------------------- the corrupt files of defect 8


def test_ten_bytes_of_pixel_data_are_named_with_the_length_the_header_needs():
    ds = _ct()
    ds.PixelData = b"\x00" * 10
    data = _bytes(ds)
    assert read_dicom_header(data)["has_pixel_data"]  # the header check lets it through ...
    problem = pixel_data_problem(data)  # ... this one does not
    assert problem.startswith("Pixel Data holds 10 bytes; 128×128×1 frame×16 bits needs 32,768 bytes.")
    assert not _pydicom_decodes(data)


def test_rows_zero():
    ds = _ct()
    ds.Rows = 0
    data = _bytes(ds)
    assert read_dicom_header(data)["rows"] == 0
    assert pixel_data_problem(data).startswith("Rows is 0: the image has no pixels to decode")
    assert not _pydicom_decodes(data)


def test_number_of_frames_five_on_a_one_frame_payload():
    ds = _ct()
    ds.NumberOfFrames = 5
    data = _bytes(ds)
    assert read_dicom_header(data)["number_of_frames"] == 5
    assert pixel_data_problem(data).startswith(
        "Pixel Data holds 32,768 bytes; 128×128×5 frames×16 bits needs 163,840 bytes.")
    assert not _pydicom_decodes(data)


def test_number_of_frames_five_on_one_compressed_frame():
    ds = _compressed(_ct(), RLELossless)
    ds.NumberOfFrames = 5
    assert "Basic Offset Table lists 1 frame but Number of Frames is 5" in pixel_data_problem(_bytes(ds))
    # without a Basic Offset Table the fragments are counted: RLE has exactly one per frame
    ds.PixelData = encapsulate([pydicom.encaps.get_frame(ds.PixelData, 0)], has_bot=False)
    assert "RLE Lossless Pixel Data holds 1 fragment but Number of Frames is 5" in pixel_data_problem(_bytes(ds))
    assert not _pydicom_decodes(_bytes(ds))


def test_a_compressed_transfer_syntax_over_uncompressed_pixels():
    data = relabelled(_bytes(_ct()), JPEGBaseline8Bit)
    assert read_dicom_header(data)["transfer_syntax_uid"] == JPEGBaseline8Bit
    problem = pixel_data_problem(data)
    assert "JPEG Baseline (Process 1) says the pixel data is compressed" in problem
    assert "not encapsulated" in problem and "transfer syntax does not match its data" in problem
    assert not _pydicom_decodes(data)


def test_compressed_pixels_under_an_uncompressed_transfer_syntax():
    ds = _compressed(_ct(), RLELossless)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian  # pydicom writes the items as a plain OB value
    data = _bytes(ds)
    problem = pixel_data_problem(data)
    assert "start like encapsulated (compressed) data" in problem and "Explicit VR Little Endian" in problem
    assert not _pydicom_decodes(data)


def test_data_of_another_compression_than_the_transfer_syntax_says():
    ds = _compressed(_ct(), JPEGLSLossless)
    data = relabelled(_bytes(ds), RLELossless)
    problem = pixel_data_problem(data)
    assert problem.startswith("the first frame cannot be decoded as RLE Lossless")
    assert not _pydicom_decodes(data)
    assert pixel_data_problem(data, decode=False) is None  # its structure alone is fine


def test_a_truncated_compressed_frame():
    ds = _compressed(_ct(), RLELossless)
    frame = pydicom.encaps.get_frame(ds.PixelData, 0)
    ds.PixelData = encapsulate([frame[: len(frame) // 2]])
    data = _bytes(ds)
    assert pixel_data_problem(data).startswith("the first frame cannot be decoded as RLE Lossless")
    assert not _pydicom_decodes(data)


def test_broken_item_structure():
    ds = _compressed(_ct(), RLELossless)
    data = bytearray(_bytes(ds))
    first_item = data.index(b"\xfe\xff\x00\xe0", data.index(b"\xe0\x7f\x10\x00"))
    data[first_item:first_item + 4] = b"\x34\x12\x78\x56"
    problem = pixel_data_problem(bytes(data))
    assert problem.startswith("the encapsulated Pixel Data is malformed: a Basic Offset Table item (FFFE,E000)")


def test_missing_image_pixel_attributes():
    ds = _ct()
    del ds.BitsAllocated, ds.PixelRepresentation
    problem = pixel_data_problem(_bytes(ds))
    assert problem.startswith("the Image Pixel module lacks BitsAllocated, PixelRepresentation")


@pytest.mark.parametrize("attribute, value, expected", [
    ("BitsAllocated", 12, "Bits Allocated is 12"),
    ("BitsStored", 17, "Bits Stored is 17"),
    ("NumberOfFrames", "0", "Number of Frames is '0'"),
    ("SamplesPerPixel", 2, "Samples per Pixel is 2"),
])
def test_invalid_image_pixel_values(attribute, value, expected):
    ds = _ct()
    setattr(ds, attribute, value)
    assert pixel_data_problem(_bytes(ds)).startswith(expected)


# --------------------------------------------------------------------------- valid files pass


def test_native_pixels_pass_in_every_uncompressed_syntax():
    ds = _ct()
    assert pixel_data_problem(_bytes(ds)) is None
    implicit = copy.deepcopy(ds)
    implicit.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    assert pixel_data_problem(_bytes(implicit)) is None
    big = (TEST_FILES / "MR_small_bigendian.dcm").read_bytes()
    assert describe_pixel_data(big).transfer_syntax_uid == ExplicitVRBigEndian
    assert pixel_data_problem(big) is None
    broken_big = pydicom.dcmread(io.BytesIO(big))
    broken_big.PixelData = broken_big.PixelData[:-2]
    assert pixel_data_problem(_bytes(broken_big)).startswith("Pixel Data holds 8,190 bytes; 64×64×1 frame×16 bits")
    deflated = (TEST_FILES / "image_dfl.dcm").read_bytes()
    assert pixel_data_problem(deflated) is None


def test_an_odd_length_gets_its_one_pad_byte_and_no_more():
    ds = _ct()
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 3, 3, 8, 8, 7, 0
    ds.PixelData = bytes(range(9))  # pydicom pads it to 10
    data = _bytes(ds)
    assert describe_pixel_data(data).length == 10 and pixel_data_problem(data) is None
    ds.PixelData = bytes(range(12))
    assert pixel_data_problem(_bytes(ds)).startswith("Pixel Data holds 12 bytes; 3×3×1 frame×8 bits needs 9 bytes")


def test_one_bit_pixels_are_packed_and_multi_frame_lengths_count_every_frame():
    ds = _ct()
    ds.Rows = ds.Columns = 10
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
    ds.NumberOfFrames = 3
    ds.PixelData = pydicom.pixels.pack_bits(np.ones((3, 10, 10), dtype=np.uint8))  # 300 bits: 38 bytes
    data = _bytes(ds)
    assert describe_pixel_data(data).length == 38 and pixel_data_problem(data) is None
    assert _pydicom_decodes(data)
    ds.NumberOfFrames = 4
    assert pixel_data_problem(_bytes(ds)).startswith("Pixel Data holds 38 bytes; 10×10×4 frames×1 bits needs 50")


def test_colour_and_sub_sampled_native_pixels():
    for name in ("SC_rgb_small_odd.dcm", "SC_ybr_full_422_uncompressed.dcm", "SC_rgb_rle_2frame.dcm"):
        assert pixel_data_problem((TEST_FILES / name).read_bytes()) is None, name


def test_compressed_pixels_written_by_pydicom_pass():
    ct = _ct()
    for syntax in (RLELossless, JPEGLSLossless):
        data = _bytes(_compressed(ct, syntax))
        assert describe_pixel_data(data).length is None  # encapsulated
        assert pixel_data_problem(data) is None, syntax.name
    two_frames = copy.deepcopy(ct)
    two_frames.NumberOfFrames = 2
    two_frames.PixelData = ct.PixelData * 2
    assert pixel_data_problem(_bytes(two_frames)) is None
    assert pixel_data_problem(_bytes(_compressed(two_frames, RLELossless))) is None


def test_a_syntax_without_an_installed_decoder_says_what_to_install(monkeypatch):
    """Every accepted object with pixel data is decoded later (volumes, SEG masks): no decoder, no ingest."""
    jpeg_lossless = (TEST_FILES / "SC_rgb_jpeg_gdcm.dcm").read_bytes()  # JPEG Lossless SV1
    syntax = pydicom.dcmread(io.BytesIO(jpeg_lossless)).file_meta.TransferSyntaxUID
    problem = pixel_data_problem(jpeg_lossless)
    if get_decoder(syntax).is_available:  # (a machine with pylibjpeg or gdcm)
        assert problem is None
    else:
        assert "no decoder for it is installed here" in problem and "re-try this file from quarantine" in problem

    class Missing:
        is_available = False
        missing_dependencies = ["pylibjpeg: requires pylibjpeg and pylibjpeg-rle"]

    monkeypatch.setattr(pydicom.pixels, "get_decoder", lambda uid: Missing())
    problem = pixel_data_problem(_bytes(_compressed(_ct(), RLELossless)))
    assert problem.startswith("the pixel data is compressed as RLE Lossless (1.2.840.10008.1.2.5), and no decoder")
    assert "pylibjpeg: requires pylibjpeg and pylibjpeg-rle" in problem


def test_objects_without_pixels_are_not_read():
    assert pixel_data_problem(b"not even DICOM", {"has_pixel_data": False}) is None
    rtstruct = (TEST_FILES / "rtstruct.dcm").read_bytes()
    assert describe_pixel_data(rtstruct).keyword is None and pixel_data_problem(rtstruct) is None


def _bundled_files_with_pixels():
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in sorted(TEST_FILES.glob("*.dcm")):
            try:
                ds = pydicom.dcmread(path, force=True)
            except Exception:  # noqa: BLE001
                continue
            if any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
                out.append(path.name)
    return out


#: pydicom decodes it (warning that there are more bytes than needed); the exact-length rule refuses it: the
#: header then describes other pixels than the file holds.
STRICTER_THAN_PYDICOM = {"MR_small_padded.dcm"}


@pytest.mark.parametrize("name", _bundled_files_with_pixels())
def test_agrees_with_pydicom_on_every_file_pydicom_ships(name):
    data = (TEST_FILES / name).read_bytes()
    problem = pixel_data_problem(data)
    if name in STRICTER_THAN_PYDICOM:
        assert _pydicom_decodes(data) and "holds 8,320 bytes" in problem
    else:
        assert (problem is None) == _pydicom_decodes(data), problem


#: Read with pydicom instead of the byte walker: Big Endian and Deflated data sets, no Transfer Syntax UID in the
#: file meta, an implicit VR data set under an explicit VR syntax, a file cut inside its pixel data.
NOT_WALKED = {
    **dict.fromkeys(["ExplVR_BigEnd.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm", "image_dfl.dcm",
                     "SC_rgb_small_odd_big_endian.dcm", "liver_expb_1frame.dcm", "rtdose_expb.dcm",
                     "rtdose_expb_1frame.dcm"], "not a little-endian syntax"),
    "meta_missing_tsyntax.dcm": "no transfer syntax",
    "SC_rgb_jpeg.dcm": "not an explicit VR",
    "MR_truncated.dcm": "pixel data runs past the end of the file",
}


@pytest.mark.parametrize("name", sorted(set(_bundled_files_with_pixels()) - set(NOT_WALKED)))
def test_the_byte_walker_reads_what_pydicom_reads(name):
    data = (TEST_FILES / name).read_bytes()
    walked = pixels._walk(data)
    read = pixels._with_pydicom(data)
    assert walked.transfer_syntax_uid == read.transfer_syntax_uid
    assert dict(walked.values) == dict(read.values)
    assert (walked.keyword, walked.length, walked.extended_offsets, walked.problem, walked.item_tagged) == (
        read.keyword, read.length, read.extended_offsets, read.problem, read.item_tagged)
    assert (None if walked.value is None else bytes(walked.value)) == (None if read.value is None else bytes(read.value))


@pytest.mark.parametrize("name", sorted(NOT_WALKED))
def test_files_the_walker_cannot_vouch_for_are_read_with_pydicom(name, monkeypatch):
    data = (TEST_FILES / name).read_bytes()
    with pytest.raises(pixels._Unsure, match=NOT_WALKED[name]):
        pixels._walk(data)
    read = []
    real = pixels._with_pydicom
    monkeypatch.setattr(pixels, "_with_pydicom", lambda data: read.append(1) or real(data))
    assert describe_pixel_data(data).keyword == "PixelData" and read == [1]


def test_native_pixels_cost_a_walk_over_the_elements_not_a_decode(monkeypatch):
    """The listener checks every slice while the sender waits: no pydicom data set, no decoder, well under 1 ms."""
    ds = _ct()
    ds.Rows = ds.Columns = 512
    ds.PixelData = np.zeros((512, 512), dtype=np.int16).tobytes()
    data = _bytes(ds)

    def refused(*args, **kwargs):
        raise AssertionError("native pixel data must not be read with pydicom or decoded")

    monkeypatch.setattr(pixels, "_with_pydicom", refused)
    monkeypatch.setattr(pydicom.pixels, "get_decoder", refused)
    timings = []
    for _ in range(30):
        started = time.perf_counter()
        assert pixel_data_problem(data) is None
        timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 1e-3
