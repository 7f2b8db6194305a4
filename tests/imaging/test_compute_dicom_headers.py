"""imaging.compute.dicom_headers: header extraction and the typed error for bad files."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from imaging.compute.dicom_headers import (
    ACCEPTED_SOP_CLASSES,
    DicomHeaderError,
    read_dicom_header,
)


def _bytes(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _ct_small() -> pydicom.Dataset:
    return pydicom.dcmread(get_testdata_file("CT_small.dcm"))


def test_ct_header_fields_from_pydicom_ct_small():
    h = read_dicom_header(get_testdata_file("CT_small.dcm"))
    assert h["sop_class_uid"] == "1.2.840.10008.5.1.4.1.1.2"
    assert h["sop_class_name"] == "CT Image Storage"
    assert h["modality"] == "CT"
    assert h["patient_id"] == "1CT1"
    assert h["study_instance_uid"] == "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
    assert h["series_instance_uid"] == "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
    assert h["sop_instance_uid"] == "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
    assert h["study_date"] == dt.date(2004, 1, 19)
    assert type(h["study_date"]) is dt.date  # plain date, storable in a DateField
    assert h["acquisition_datetime"] == dt.datetime(1997, 4, 30, 11, 29, 36)
    assert h["convolution_kernel"] == "STANDARD"
    assert h["kvp"] == 120.0
    assert h["manufacturer"] == "GE MEDICAL SYSTEMS"
    assert h["manufacturer_model_name"] == "RHAPSODE"
    assert h["contrast_bolus_agent"] == "ISOVUE300/100"
    assert h["rows"] == h["columns"] == 128
    assert h["pixel_spacing_mm"] == pytest.approx((0.661468, 0.661468))
    assert h["slice_thickness_mm"] == 5.0
    assert h["image_position_patient"] == pytest.approx((-158.135803, -179.035797, -75.699997))
    assert h["image_orientation_patient"] == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    assert (h["rescale_slope"], h["rescale_intercept"]) == (1.0, -1024.0)
    assert h["has_pixel_data"] and h["is_image"] and not h["is_multiframe"]
    assert h["pet"] is None
    assert h["warnings"] == []


def test_header_reads_from_bytes_and_file_object_alike():
    path = get_testdata_file("MR_small.dcm")
    raw = Path(path).read_bytes()
    a = read_dicom_header(path)
    b = read_dicom_header(raw)
    c = read_dicom_header(io.BytesIO(raw))
    assert a == b == c
    assert a["modality"] == "MR"


def test_rtstruct_without_preamble_and_seg_are_accepted():
    rts = read_dicom_header(get_testdata_file("rtstruct.dcm"))  # no 128-byte preamble / DICM
    assert rts["sop_class_name"] == "RT Structure Set Storage"
    assert rts["is_image"] is False
    seg = read_dicom_header(get_testdata_file("liver_1frame.dcm"))
    assert seg["sop_class_name"] == "Segmentation Storage"
    assert seg["modality"] == "SEG"


def test_accepted_set_is_exactly_what_ingest_supports():
    assert set(ACCEPTED_SOP_CLASSES.values()) == {
        "CT Image Storage",
        "Enhanced CT Image Storage",
        "MR Image Storage",
        "Enhanced MR Image Storage",
        "Positron Emission Tomography Image Storage",
        "Segmentation Storage",
        "RT Structure Set Storage",
    }


@pytest.mark.parametrize(
    "payload",
    [
        np.random.default_rng(0).bytes(4000),
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 2000,
        b"PK\x03\x04" + b"\x00" * 500,  # a ZIP archive
        b"hello, this is a text file\n" * 20,
    ],
    ids=["random", "pdf", "zip", "text"],
)
def test_not_dicom_bytes(payload):
    with pytest.raises(DicomHeaderError) as exc:
        read_dicom_header(payload)
    assert exc.value.code == "not_dicom"
    assert "not a DICOM file" in str(exc.value)


def test_empty_file_is_not_dicom(tmp_path):
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    with pytest.raises(DicomHeaderError) as exc:
        read_dicom_header(path)
    assert exc.value.code == "not_dicom"
    assert str(path) in str(exc.value) and "empty" in str(exc.value)


def test_missing_file_is_reported():
    with pytest.raises(DicomHeaderError, match="does not exist"):
        read_dicom_header("/nonexistent/dir/x.dcm")


@pytest.mark.parametrize("keep", [132, 400, 1000, 5000, 30000, -1])
def test_truncated_copies_of_ct_small(tmp_path, keep):
    raw = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    cut = raw[:keep]
    path = tmp_path / "cut.dcm"
    path.write_bytes(cut)
    with pytest.raises(DicomHeaderError) as exc:
        read_dicom_header(path)
    assert exc.value.code == "truncated", str(exc.value)
    assert "truncated" in str(exc.value) and "re-send" in str(exc.value)


@pytest.mark.parametrize(
    ("name", "code", "fragment"),
    [
        ("MR_truncated.dcm", "truncated", "(7FE0,0010)"),  # pixel data cut short
        ("rtplan_truncated.dcm", "truncated", "file ends"),
        ("badVR.dcm", "unsupported_sop_class", "RT Dose Storage"),
        ("meta_missing_tsyntax.dcm", "missing_attributes", "SOP Class UID"),
        ("no_meta_group_length.dcm", "unsupported_sop_class", "RT Image Storage"),
        # CT_small without file meta, and a stray leading byte: nothing parses.
        ("no_meta.dcm", "not_dicom", "not a DICOM file"),
        ("ExplVR_BigEndNoMeta.dcm", "unsupported_sop_class", "RT Ion Plan Storage"),
        ("rtdose.dcm", "unsupported_sop_class", "RT Dose Storage"),
        ("test-SR.dcm", "unsupported_sop_class", "Comprehensive SR Storage"),
        ("SC_rgb_small_odd.dcm", "unsupported_sop_class", "Secondary Capture Image Storage"),
    ],
)
def test_pydicom_malformed_and_foreign_test_files(name, code, fragment):
    with pytest.raises(DicomHeaderError) as exc:
        read_dicom_header(get_testdata_file(name))
    assert exc.value.code == code, str(exc.value)
    assert fragment in str(exc.value)
    assert name in str(exc.value)  # the curator sees which file


def test_unsupported_sop_class_lists_what_is_accepted():
    with pytest.raises(DicomHeaderError) as exc:
        read_dicom_header(get_testdata_file("rtdose.dcm"))
    for accepted in ("CT Image Storage", "Segmentation Storage", "RT Structure Set Storage"):
        assert accepted in exc.value.reason


def test_image_without_pixel_data():
    ds = _ct_small()
    del ds.PixelData
    with pytest.raises(DicomHeaderError) as exc:
        read_dicom_header(_bytes(ds))
    assert exc.value.code == "no_pixel_data"
    assert "without Pixel Data" in str(exc.value)


@pytest.mark.parametrize("keyword", ["ImagePositionPatient", "PatientID", "SeriesInstanceUID", "PixelSpacing"])
def test_missing_required_attribute_is_named(keyword):
    ds = _ct_small()
    delattr(ds, keyword)
    with pytest.raises(DicomHeaderError) as exc:
        read_dicom_header(_bytes(ds))
    assert exc.value.code == "missing_attributes"
    assert keyword in str(exc.value)


def test_malformed_geometry_value_count():
    ds = _ct_small()
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1]
    with pytest.raises(DicomHeaderError, match="ImageOrientationPatient has 5 values"):
        read_dicom_header(_bytes(ds))


def test_unparseable_date_is_reported_not_silently_dropped():
    ds = _ct_small()
    with pytest.warns(UserWarning, match="Invalid value for VR DA"):  # pydicom's own complaint
        ds.StudyDate = "2004-01-19"
        h = read_dicom_header(_bytes(ds))
    assert h["study_date"] is None
    assert any("StudyDate" in w and "2004-01-19" in w for w in h["warnings"])


def test_pet_radiopharmaceutical_fields():
    ds = _ct_small()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.Modality = "PT"
    ds.Units = "BQML"
    ds.DecayCorrection = "START"
    ds.CorrectedImage = ["ATTN", "DECY"]
    ds.PatientWeight = "72.5"
    ds.SeriesDate = "20240301"
    ds.SeriesTime = "104500"
    item = pydicom.Dataset()
    item.Radiopharmaceutical = "Fluorodeoxyglucose"
    item.RadionuclideTotalDose = "350000000"
    item.RadionuclideHalfLife = "6586.2"
    item.RadiopharmaceuticalStartTime = "093000"
    ds.RadiopharmaceuticalInformationSequence = [item]
    h = read_dicom_header(_bytes(ds))
    pet = h["pet"]
    assert h["patient_weight_kg"] == 72.5
    assert pet["radionuclide_total_dose_bq"] == 350e6
    assert pet["radionuclide_half_life_s"] == 6586.2
    assert pet["radiopharmaceutical_start_time"] == dt.time(9, 30)
    assert pet["series_datetime"] == dt.datetime(2024, 3, 1, 10, 45)
    assert (pet["units"], pet["decay_correction"], pet["corrected_image"]) == ("BQML", "START", ("ATTN", "DECY"))
