"""imaging.compute.volume: series -> volume, geometry checks, multi-frame, PET SUVbw."""

from __future__ import annotations

import datetime as dt
import random

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from imaging.compute.dicom_headers import DicomHeaderError
from imaging.compute.volume import (
    Geometry,
    MissingSliceError,
    SUVError,
    VolumeAssemblyError,
    assemble_volume,
    read_series_layout,
    suv_bw_factor,
)
from imaging.compute.synthetic_ct import synthetic_ct
from imaging.compute.writers import write_ct_series


@pytest.fixture()
def small_series(tmp_path):
    """A 10-slice synthetic CT written as DICOM: (SyntheticCT, WrittenSeries)."""
    syn = synthetic_ct((10, 24, 32), (1.5, 1.5, 2.5), lesions=[((0.0, 0.0, 0.0), 6.0)], seed=7)
    written = write_ct_series(
        syn.image, tmp_path / "ct", patient_id="P-SMALL", study_date="20240102", series_description="small"
    )
    return syn, written


def _edit(path, **changes):
    ds = pydicom.dcmread(path)
    for key, value in changes.items():
        setattr(ds, key, value)
    ds.save_as(path)


# --------------------------------------------------------------------------- real data round trip


def test_lung2_dicom_round_trip_identical_voxels_and_geometry(lung2, lung2_dicom):
    image, _ = lung2
    volume = assemble_volume(lung2_dicom.paths)
    expected = sitk.GetArrayFromImage(image)
    assert volume.array.shape == expected.shape == (61, 512, 512)
    assert np.array_equal(volume.array, expected)
    assert volume.array.dtype == np.int16
    geometry = Geometry.from_sitk(image)
    assert np.allclose(volume.geometry.origin, geometry.origin, atol=1e-4)
    assert np.allclose(volume.geometry.spacing, geometry.spacing, atol=1e-4)
    assert np.allclose(volume.geometry.direction, geometry.direction, atol=1e-4)
    assert volume.units == "HU"
    assert volume.warnings == []
    assert volume.header["patient_id"] == "LUNG2"
    assert volume.header["convolution_kernel"] == "B30f"
    assert volume.sop_instance_uids == lung2_dicom.sop_instance_uids
    # The SimpleITK image carries the same geometry.
    again = volume.to_sitk()
    assert again.GetSize() == image.GetSize()
    assert np.allclose(again.GetOrigin(), image.GetOrigin(), atol=1e-4)


def test_slice_order_does_not_depend_on_input_order(small_series):
    syn, written = small_series
    shuffled = list(written.paths)
    random.Random(3).shuffle(shuffled)
    volume = assemble_volume(shuffled)
    assert np.array_equal(volume.array, syn.array)
    assert volume.sop_instance_uids == written.sop_instance_uids


def test_in_memory_datasets_are_accepted(small_series):
    syn, written = small_series
    datasets = [pydicom.dcmread(p) for p in written.paths]
    assert np.array_equal(assemble_volume(datasets).array, syn.array)


def test_single_ct_slice_from_pydicom_applies_rescale_and_warns():
    path = get_testdata_file("CT_small.dcm")
    volume = assemble_volume([path])
    raw = pydicom.dcmread(path).pixel_array
    assert np.array_equal(volume.array[0], raw.astype(np.int32) - 1024)
    assert [w.code for w in volume.warnings] == ["single_slice"]
    assert volume.geometry.spacing[2] == 5.0  # SliceThickness


def test_non_integral_rescale_gives_float(small_series):
    syn, written = small_series
    for p in written.paths:
        _edit(p, RescaleSlope="0.5", RescaleIntercept="-10.25")
    volume = assemble_volume(written.paths)
    assert volume.array.dtype == np.float32
    assert np.allclose(volume.array, syn.array * 0.5 - 10.25)


# --------------------------------------------------------------------------- geometry problems


def test_missing_slice_is_detected(small_series):
    _, written = small_series
    paths = list(written.paths)
    del paths[4]
    with pytest.raises(MissingSliceError) as exc:
        assemble_volume(paths)
    message = str(exc.value)
    assert "missing slice" in message and "median slice step is 2.500 mm" in message
    assert "gap 5.00 mm" in message and "~1 slice(s) missing" in message
    assert exc.value.code == "missing_slice"
    assert exc.value.gaps == [pytest.approx((-3.75, 1.25, 1))]  # slice 4 was at -1.25 mm


def test_missing_slice_can_be_downgraded_to_a_warning(small_series):
    _, written = small_series
    paths = list(written.paths)
    del paths[4]
    volume = assemble_volume(paths, on_missing_slice="warn")
    assert volume.array.shape[0] == 9
    assert [w.code for w in volume.warnings] == ["missing_slice"]


def test_non_uniform_spacing_is_a_warning_with_numbers(small_series):
    syn, written = small_series
    ds = pydicom.dcmread(written.paths[3])
    x, y, z = (float(v) for v in ds.ImagePositionPatient)
    _edit(written.paths[3], ImagePositionPatient=[x, y, z + 0.4])
    volume = assemble_volume(written.paths)
    codes = [w.code for w in volume.warnings]
    assert codes == ["non_uniform_spacing"]
    message = volume.warnings[0].message
    assert "2.1000 to 2.9000 mm" in message and "median 2.5000 mm" in message
    assert np.array_equal(volume.array, syn.array)


def test_mixed_series_is_rejected(small_series, tmp_path):
    syn, written = small_series
    other = write_ct_series(syn.image, tmp_path / "other", patient_id="P", study_date="20240102", series_description="x")
    with pytest.raises(VolumeAssemblyError) as exc:
        assemble_volume([*written.paths[:5], *other.paths[5:]])
    assert exc.value.code == "mixed_series"
    assert "2 different series" in str(exc.value)


def test_inconsistent_orientation_is_rejected(small_series):
    _, written = small_series
    _edit(written.paths[2], ImageOrientationPatient=[1, 0, 0, 0, 0, -1])  # a coronal slice
    with pytest.raises(VolumeAssemblyError) as exc:
        assemble_volume(written.paths)
    assert exc.value.code == "inconsistent_orientation"
    assert "(9 slices)" in str(exc.value) and "(1 slice)" in str(exc.value)


def test_inconsistent_pixel_spacing_is_rejected(small_series):
    _, written = small_series
    _edit(written.paths[0], PixelSpacing=["1.4", "1.5"])
    with pytest.raises(VolumeAssemblyError) as exc:
        assemble_volume(written.paths)
    assert exc.value.code == "inconsistent_spacing"


def test_inconsistent_size_is_rejected(small_series, tmp_path):
    syn, written = small_series
    ds = pydicom.dcmread(written.paths[0])
    arr = ds.pixel_array[:, :-2].copy()
    ds.Columns = arr.shape[1]
    ds.PixelData = arr.tobytes()
    ds.save_as(written.paths[0])
    with pytest.raises(VolumeAssemblyError) as exc:
        assemble_volume(written.paths)
    assert exc.value.code == "inconsistent_size"
    assert "(24, 30) (1 slice)" in str(exc.value)


def test_duplicate_position_is_rejected(small_series):
    _, written = small_series
    pos = pydicom.dcmread(written.paths[1]).ImagePositionPatient
    _edit(written.paths[2], ImagePositionPatient=pos)
    with pytest.raises(VolumeAssemblyError) as exc:
        assemble_volume(written.paths)
    assert exc.value.code == "duplicate_position"
    assert "split it" in str(exc.value)


def test_gantry_tilt_is_rejected(small_series):
    _, written = small_series
    for k, p in enumerate(written.paths):
        ds = pydicom.dcmread(p)
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        _edit(p, ImagePositionPatient=[x, y + 0.5 * k, z])
    with pytest.raises(VolumeAssemblyError) as exc:
        assemble_volume(written.paths)
    assert exc.value.code == "sheared"


def test_non_image_objects_are_rejected():
    with pytest.raises(VolumeAssemblyError) as exc:
        assemble_volume([get_testdata_file("rtstruct.dcm")])
    assert exc.value.code == "not_image"


def test_bad_file_in_series_raises_header_error(small_series, tmp_path):
    _, written = small_series
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(written.paths[0].read_bytes()[:-100])  # cut inside the pixel data
    with pytest.raises(DicomHeaderError) as exc:
        assemble_volume([*written.paths[1:], bad])
    assert exc.value.code == "truncated"


def test_empty_series():
    with pytest.raises(VolumeAssemblyError, match="no instances"):
        assemble_volume([])


# --------------------------------------------------------------------------- multi-frame


def test_enhanced_multiframe_equals_single_frame_series(small_series, tmp_path):
    """Frames placed through the functional groups written by highdicom's legacy converter."""
    syn, written = small_series
    datasets = [pydicom.dcmread(p) for p in written.paths][::-1]
    mf = hd.legacy.LegacyConvertedEnhancedCTImage(
        datasets,
        series_instance_uid=written.series_instance_uid,
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
    )
    # Same functional-group layout as Enhanced CT; label it so (what we ingest).
    mf.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"
    mf.file_meta.MediaStorageSOPClassUID = mf.SOPClassUID
    path = tmp_path / "enhanced.dcm"
    mf.save_as(path)
    volume = assemble_volume([path])
    single = assemble_volume(written.paths)
    assert np.array_equal(volume.array, syn.array)
    assert np.allclose(volume.geometry.origin, single.geometry.origin, atol=1e-6)
    assert volume.geometry.spacing == pytest.approx(single.geometry.spacing)
    assert volume.frame_numbers == tuple(range(10, 0, -1))  # frames were stored top-down


# --------------------------------------------------------------------------- PET SUVbw


def _pet_series(
    *,
    units="BQML",
    decay="START",
    weight="70",
    series_time="103000",
    acquisition_time="103000",
    start_time="093000",
):
    """Three 4x5 PET slices, per-slice RescaleSlope, 370 MBq F-18 at 09:30."""
    series_uid, study_uid, for_uid = generate_uid(), generate_uid(), generate_uid()
    slopes = ["0.5", "1.25", "2"]
    out = []
    for k in range(3):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, for_uid
        ds.Modality = "PT"
        ds.PatientID = "PET-1"
        ds.PatientWeight = weight
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = "20240301"
        ds.SeriesTime = series_time
        ds.AcquisitionTime = acquisition_time
        ds.Units = units
        ds.DecayCorrection = decay
        ds.CorrectedImage = ["ATTN", "DECY"]
        item = Dataset()
        item.RadionuclideTotalDose = "370000000"
        item.RadionuclideHalfLife = "6586.2"
        item.RadiopharmaceuticalStartTime = start_time
        ds.RadiopharmaceuticalInformationSequence = [item]
        ds.Rows, ds.Columns = 4, 5
        ds.PixelSpacing = ["4", "4"]
        ds.SliceThickness = "3.27"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, 3.27 * k]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope = slopes[k]
        ds.RescaleIntercept = "0"
        ds.PixelData = np.full((4, 5), 1000 + k, dtype="<i2").tobytes()
        out.append(ds)
    return out


def test_pet_suvbw_against_hand_computed_value():
    # Hand computation: dt = 10:30 - 09:30 = 3600 s; decay = 2**(-3600/6586.2) = 0.684633;
    # SUV factor = 70 kg * 1000 g/kg / (370e6 Bq * 0.684633) = 2.763367e-4 per Bq/mL.
    volume = assemble_volume(_pet_series())
    assert volume.units == "SUVbw"
    assert volume.suv_factor == pytest.approx(2.7633668e-4, rel=1e-6)
    assert volume.array.dtype == np.float32
    assert volume.array[0, 0, 0] == pytest.approx(1000 * 0.5 * 2.7633668e-4, rel=1e-6)  # 0.138168
    assert volume.array[1, 2, 3] == pytest.approx(1001 * 1.25 * 2.7633668e-4, rel=1e-6)  # 0.345766
    assert volume.array[2, 3, 4] == pytest.approx(1002 * 2.0 * 2.7633668e-4, rel=1e-6)


def test_pet_without_suv_conversion_keeps_bq_per_ml():
    volume = assemble_volume(_pet_series(), convert_pet_to_suv=False)
    assert volume.units == "BQML"
    assert volume.array[1, 0, 0] == pytest.approx(1001 * 1.25)


def test_pet_decay_corrected_to_admin_uses_full_dose():
    volume = assemble_volume(_pet_series(decay="ADMIN"))
    assert volume.suv_factor == pytest.approx(70_000 / 370e6, rel=1e-9)


def test_pet_series_time_after_acquisition_uses_acquisition_time():
    # Re-stamped series (10:45) after the acquisition (10:20): QIBA uses 10:20, dt = 3000 s,
    # decay = 2**(-3000/6586.2) = 0.729258, factor = 70000 / (370e6 * 0.729258) = 2.594268e-4.
    volume = assemble_volume(_pet_series(series_time="104500", acquisition_time="102000"))
    assert volume.suv_factor == pytest.approx(2.5942680e-4, rel=1e-6)
    assert "pet_series_time_after_acquisition" in [w.code for w in volume.warnings]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"units": "CNTS"}, "Units (0054,1001) is 'CNTS'"),
        ({"weight": "0"}, "PatientWeight"),
        ({"decay": "NONE"}, "DecayCorrection (0054,1102) is 'NONE'"),
        ({"start_time": "113000"}, "before the injection"),
    ],
)
def test_pet_suv_errors_name_the_problem(kwargs, fragment):
    with pytest.raises(SUVError) as exc:
        assemble_volume(_pet_series(**kwargs))
    assert fragment in str(exc.value)


def test_suv_factor_requires_pet_header():
    header = {"modality": "CT", "pet": None}
    with pytest.raises(SUVError, match="not PT"):
        suv_bw_factor(header)


def test_layout_reads_no_pixels_and_matches_volume(small_series):
    _, written = small_series
    layout = read_series_layout(written.paths)
    volume = assemble_volume(written.paths)
    assert layout.geometry == volume.geometry
    assert len(layout.datasets) == 10
    # Pixel data of path sources is deferred (not read) in the layout's datasets.
    assert all(ds._dict[pydicom.tag.Tag("PixelData")].value is None for ds in layout.datasets)
    assert layout.header["acquisition_datetime"] == dt.datetime(2024, 1, 2, 12, 0)
