"""The listener's fast header reader gives exactly what the pydicom reader gives, or steps aside."""
from __future__ import annotations

import copy
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.data.data_manager import DATA_ROOT
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from imaging.compute.dicom_headers import (
    DicomHeaderError,
    header_from_dataset,
    load_dataset,
    read_dicom_header,
)
from imaging.compute.dicom_headers.fast import _plain_image_elements
from imaging.compute.volume import Geometry
from imaging.compute.writers import write_ct_series


def _pydicom_way(data):
    """read_dicom_header as it was before the fast reader: pydicom parses, header_from_dataset extracts."""
    try:
        return header_from_dataset(load_dataset(data, with_pixels=False), source="<bytes>")
    except DicomHeaderError as exc:
        return ("error", exc.code)


def _fast_way(data):
    elements = _plain_image_elements(data)
    if elements is None:
        return None
    try:
        return header_from_dataset(elements, source="<bytes>")
    except DicomHeaderError as exc:
        return ("error", exc.code)


def _encode(ds, syntax=ExplicitVRLittleEndian):
    ds.file_meta.TransferSyntaxUID = syntax
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True, implicit_vr=syntax == ImplicitVRLittleEndian, little_endian=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def ct_slice(tmp_path_factory):
    """A slice as our writer makes it (the demo, the benchmark and the tests push these)."""
    array = np.arange(16 * 16, dtype=np.int16).reshape(1, 16, 16) - 1000
    geometry = Geometry(size=(16, 16, 1), origin=(-10.0, -12.5, 30.0), spacing=(0.7, 0.7, 1.25),
                        direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    written = write_ct_series(array, tmp_path_factory.mktemp("ct"), geometry=geometry, patient_id="FAST-1",
                              study_date="20240301", series_description="chest", convolution_kernel="B30f")
    return pydicom.dcmread(written.paths[0])


def test_a_plain_ct_slice_is_read_fast_and_equal(ct_slice):
    data = _encode(ct_slice)
    assert _plain_image_elements(data) is not None
    assert _fast_way(data) == _pydicom_way(data) == read_dicom_header(data)


def _variant(ds, change):
    ds = copy.deepcopy(ds)
    change(ds)
    return ds


def _with_sequence(ds):
    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    inner = Dataset()
    inner.CodeValue, inner.CodingSchemeDesignator = "T-D3000", "SRT"
    item.AnatomicRegionSequence = Sequence([inner])
    ds.ReferencedImageSequence = Sequence([item, Dataset()])
    ds["ReferencedImageSequence"].is_undefined_length = True


VARIANTS = {
    "as written": lambda ds: None,
    "undefined-length sequences": _with_sequence,
    "empty descriptions": lambda ds: (setattr(ds, "SeriesDescription", ""), setattr(ds, "StudyDescription", "")),
    "no optional attributes": lambda ds: [delattr(ds, k) for k in ("KVP", "SliceThickness", "RescaleType",
                                                                   "AcquisitionDate", "Manufacturer") if k in ds],
    "padded values": lambda ds: (setattr(ds, "Modality", "CT"), setattr(ds, "KVP", " 120"),
                                 setattr(ds, "SeriesNumber", " 7")),
    "MR": lambda ds: (setattr(ds, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.4"), setattr(ds, "Modality", "MR")),
    "non-ASCII description": lambda ds: (setattr(ds, "SpecificCharacterSet", "ISO_IR 100"),
                                         setattr(ds, "SeriesDescription", "Thorax nativ Größe")),
    "UTF-8 patient ID": lambda ds: (setattr(ds, "SpecificCharacterSet", "ISO_IR 192"),
                                    setattr(ds, "PatientID", "Zoë-1")),
    "Japanese character set": lambda ds: setattr(ds, "SpecificCharacterSet", "ISO_IR 13"),
    "multi-valued kernel": lambda ds: setattr(ds, "ConvolutionKernel", ["B30f", "Q2"]),
    "bad date": lambda ds: setattr(ds, "StudyDate", "2024-13-45"),
    "bad number": lambda ds: ds._dict.__setitem__(  # noqa: SLF001 - a raw element is written as it is
        Tag(0x00180060), RawDataElement(Tag(0x00180060), "DS", 4, b"12O ", 0, False, True)),
    "non-finite KVP": lambda ds: ds._dict.__setitem__(  # noqa: SLF001
        Tag(0x00180060), RawDataElement(Tag(0x00180060), "DS", 4, b"inf ", 0, False, True)),
    "NaN slice thickness": lambda ds: ds._dict.__setitem__(  # noqa: SLF001
        Tag(0x00180050), RawDataElement(Tag(0x00180050), "DS", 4, b"NaN ", 0, False, True)),
    "NaN pixel spacing": lambda ds: ds._dict.__setitem__(  # noqa: SLF001
        Tag(0x00280030), RawDataElement(Tag(0x00280030), "DS", 8, b"nan\\0.7", 0, False, True)),
    "infinite rescale slope": lambda ds: ds._dict.__setitem__(  # noqa: SLF001
        Tag(0x00281053), RawDataElement(Tag(0x00281053), "DS", 4, b"-inf", 0, False, True)),
    "NUL ending a description": lambda ds: ds._dict.__setitem__(  # noqa: SLF001
        Tag(0x0008103E), RawDataElement(Tag(0x0008103E), "LO", 6, b"ches\x00 ", 0, False, True)),
    "NUL inside a description": lambda ds: ds._dict.__setitem__(  # noqa: SLF001
        Tag(0x0008103E), RawDataElement(Tag(0x0008103E), "LO", 6, b"ch\x00st ", 0, False, True)),
    "no patient ID": lambda ds: delattr(ds, "PatientID"),
    "empty patient ID": lambda ds: setattr(ds, "PatientID", ""),
    "two position values": lambda ds: setattr(ds, "ImagePositionPatient", [1.0, 2.0]),
    "no pixel data": lambda ds: delattr(ds, "PixelData"),
    "PET modality on a CT": lambda ds: setattr(ds, "Modality", "PT"),
    "multi-frame": lambda ds: setattr(ds, "NumberOfFrames", 1),
}


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian], ids=["explicit", "implicit"])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_variants_read_equal_either_way(ct_slice, name, syntax):
    data = _encode(_variant(ct_slice, VARIANTS[name]), syntax)
    fast = _fast_way(data)
    if name in ("as written", "undefined-length sequences", "empty descriptions", "no optional attributes",
                "padded values", "MR", "bad date"):
        assert fast is not None, "the common case must not fall back to pydicom"
    expected = _pydicom_way(data)
    if fast is not None:
        assert fast == expected
    if isinstance(expected, dict):
        assert read_dicom_header(data) == expected
    else:
        with pytest.raises(DicomHeaderError) as caught:
            read_dicom_header(data)
        assert caught.value.code == expected[1]


def test_pydicoms_test_files_read_equal_either_way():
    """Every file pydicom ships (the bundled ones: the others would be downloaded): where the fast reader answers,
    its answer is pydicom's."""
    answered = 0
    for path in sorted(Path(DATA_ROOT, "test_files").rglob("*.dcm")):
        with open(path, "rb") as f:
            data = f.read()
        fast = _fast_way(data)
        if fast is not None:
            answered += 1
            assert fast == _pydicom_way(data), path
    assert answered >= 3  # CT_small, MR_small and a few more are plain single-frame images


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 2000), flips=st.lists(st.tuples(st.integers(0, 1999), st.integers(0, 255)), max_size=4))
def test_damaged_copies_read_equal_or_fall_back(ct_slice, cut, flips):
    data = bytearray(_encode(ct_slice))
    for at, value in flips:
        data[128 + at % (len(data) - 128)] = value
    data = data[:len(data) - cut % len(data)]
    data = bytes(data)
    fast = _fast_way(data)
    if fast is not None:
        assert fast == _pydicom_way(data)


def test_ct_small_is_read_fast():
    with open(get_testdata_file("CT_small.dcm"), "rb") as f:
        data = f.read()
    assert _plain_image_elements(data) is not None
    assert read_dicom_header(data) == _pydicom_way(data)


def test_a_malformed_optional_number_is_a_warning_and_malformed_geometry_a_refusal(ct_slice):
    data = _encode(_variant(ct_slice, VARIANTS["bad number"]))
    header = read_dicom_header(data)
    assert header["kvp"] is None and header["warnings"] == ["KVP '12O' is not a valid number; stored as empty"]
    bad_spacing = _variant(ct_slice, lambda ds: ds._dict.__setitem__(  # noqa: SLF001
        Tag(0x00280030), RawDataElement(Tag(0x00280030), "DS", 8, b"0.7\\abc ", 0, False, True)))
    with pytest.raises(DicomHeaderError) as caught:
        read_dicom_header(_encode(bad_spacing))
    assert caught.value.code == "missing_attributes" and "not a number" in caught.value.reason
