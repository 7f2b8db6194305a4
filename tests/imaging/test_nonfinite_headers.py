"""NaN/Inf in DS values: geometry/rescale is refused, optional numbers become a warning and None; both readers agree."""
from __future__ import annotations

import json

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from imaging.compute.dicom_headers import DicomHeaderError, read_dicom_header

from .test_compute_dicom_headers_fast import _encode, _fast_way, _pydicom_way, _variant, ct_slice  # noqa: F401


def _raw(tag, text):
    value = text.encode("ascii")
    value += b" " * (len(value) % 2)
    return lambda ds: ds._dict.__setitem__(  # noqa: SLF001 - written as it is
        Tag(tag), RawDataElement(Tag(tag), "DS", len(value), value, 0, False, True))


REFUSED = {
    "PixelSpacing nan": (0x00280030, "nan\\0.7"),
    "PixelSpacing 1e999": (0x00280030, "0.7\\1e999"),
    "ImagePositionPatient inf": (0x00200032, "-10\\inf\\30"),
    "ImageOrientationPatient nan": (0x00200037, "1\\0\\0\\0\\NaN\\0"),
    "RescaleSlope -inf": (0x00281053, "-Inf"),
    "RescaleIntercept nan": (0x00281052, "nan"),
}
WARNED = {
    "KVP inf": (0x00180060, "inf", "kvp", "KVP"),
    "KVP -inf": (0x00180060, "-inf", "kvp", "KVP"),
    "SliceThickness NaN": (0x00180050, "NaN", "slice_thickness_mm", "SliceThickness"),
    "PatientWeight nan": (0x00101030, "nan", "patient_weight_kg", "PatientWeight"),
}
SYNTAXES = pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian],
                                   ids=["explicit", "implicit"])


@SYNTAXES
@pytest.mark.parametrize("name", list(REFUSED))
def test_non_finite_geometry_or_rescale_is_refused_like_malformed(ct_slice, name, syntax):  # noqa: F811
    data = _encode(_variant(ct_slice, _raw(*REFUSED[name])), syntax)
    assert _pydicom_way(data) == ("error", "missing_attributes")
    assert _fast_way(data) in (None, ("error", "missing_attributes"))
    with pytest.raises(DicomHeaderError) as caught:
        read_dicom_header(data)
    assert caught.value.code == "missing_attributes" and "not a number" in caught.value.reason
    assert "finite" in caught.value.reason


@SYNTAXES
@pytest.mark.parametrize("name", list(WARNED))
def test_non_finite_optional_number_is_a_warning_and_none(ct_slice, name, syntax):  # noqa: F811
    tag, text, key, keyword = WARNED[name]
    data = _encode(_variant(ct_slice, _raw(tag, text)), syntax)
    header = read_dicom_header(data)
    assert header[key] is None
    assert len(header["warnings"]) == 1 and header["warnings"][0].startswith(f"{keyword} ")
    assert "not a finite number; stored as empty" in header["warnings"][0]
    fast = _fast_way(data)
    assert fast is None or fast == _pydicom_way(data) == header
    json.dumps(header, default=str, allow_nan=False)  # what is stored serialises as strict JSON


def test_an_accepted_header_serialises_as_strict_json(ct_slice):  # noqa: F811
    header = read_dicom_header(_encode(ct_slice))
    json.dumps(header, default=str, allow_nan=False)
