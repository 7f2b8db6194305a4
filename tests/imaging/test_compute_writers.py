"""imaging.compute.synthetic_ct and imaging.compute.writers: synthetic CT and the DICOM CT series writer."""

from __future__ import annotations

import time

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from imaging.compute.dicom_headers import read_dicom_header
from imaging.compute.segmentation import GeometryMismatchError
from imaging.compute.volume import Geometry, assemble_volume, read_series_layout
from imaging.compute.synthetic_ct import Lesion, synthetic_ct
from imaging.compute.writers import write_ct_series, write_rtstruct, write_seg

LESIONS = [
    Lesion((-60.0, -10.0, 0.0), 12.0, mean_hu=60.0, heterogeneity_hu=10.0),
    Lesion((55.0, 20.0, 20.0), (8.0, 10.0, 6.0), mean_hu=40.0),
    ((0.0, -40.0, -30.0), 6.0),  # tuple form, default HU
]


def test_synthetic_ct_is_fast_deterministic_and_realistic():
    synthetic_ct((16, 32, 32), lesions=[((0.0, 0.0, 0.0), 5.0)], seed=0)  # warm-up (imports, caches)
    start = time.perf_counter()
    syn = synthetic_ct((64, 128, 128), (2.5, 2.5, 5.0), lesions=LESIONS, seed=42)
    elapsed = time.perf_counter() - start
    print(f"synthetic_ct 64x128x128 with 3 lesions: {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0

    hu, label = syn.array, syn.label_array
    assert hu.shape == label.shape == (64, 128, 128) and hu.dtype == np.int16
    assert syn.image.GetSize() == (128, 128, 64) and syn.image.GetSpacing() == (2.5, 2.5, 5.0)
    again = synthetic_ct((64, 128, 128), (2.5, 2.5, 5.0), lesions=LESIONS, seed=42)
    assert np.array_equal(again.array, hu) and np.array_equal(again.label_array, label)
    assert not np.array_equal(synthetic_ct((64, 128, 128), (2.5, 2.5, 5.0), lesions=LESIONS, seed=43).array, hu)

    # Tissue classes (HU): corners are air, lung around -850 with texture, etc.
    assert abs(np.median(hu[:, :4, :4]) + 1000) < 10
    mid = hu[32]
    lung = mid[mid < -500]
    lung = lung[lung > -990]
    assert -900 < lung.mean() < -800 and 20 < lung.std() < 80
    soft = mid[(mid > -50) & (mid < 150)]
    assert 20 <= np.median(soft) <= 60
    assert 400 <= np.percentile(mid, 99.9) <= 1000  # vertebra
    assert hu.max() <= 1100

    # Lesions: labels 1..3 with the volumes of their ellipsoids, heterogeneous HU near the mean.
    voxel = 2.5 * 2.5 * 5.0
    for i, (r, mean) in enumerate([((12, 12, 12), 60.0), ((8, 10, 6), 40.0), ((6, 6, 6), 55.0)], start=1):
        inside = label == i
        expected = 4 / 3 * np.pi * np.prod(r) / voxel
        assert abs(inside.sum() - expected) / expected < 0.25, (i, inside.sum(), expected)
        values = hu[inside]
        assert abs(values.mean() - mean) < 15
        assert values.std() > 5  # textured, not flat
    assert 30 <= hu[label == 1].mean() <= 80


def test_lesion_outside_the_volume_is_an_error():
    with pytest.raises(ValueError, match="outside the volume"):
        synthetic_ct((8, 16, 16), (1, 1, 1), lesions=[((500.0, 0.0, 0.0), 3.0)])


def test_ct_series_attributes(tmp_path):
    syn = synthetic_ct((4, 16, 20), (0.8, 0.9, 3.0), lesions=[((0.0, 0.0, 0.0), 3.0)], seed=1)
    written = write_ct_series(
        syn.image,
        tmp_path,
        patient_id="RIM-007",
        study_date="20230911",
        series_description="Thorax 1.0 B31f",
        convolution_kernel="B31f",
        kvp=100,
        contrast_bolus_agent="Iomeron 350",
    )
    assert len(written.paths) == 4 and len(set(written.sop_instance_uids)) == 4
    h = read_dicom_header(written.paths[2])
    assert (h["patient_id"], h["series_description"], h["modality"]) == ("RIM-007", "Thorax 1.0 B31f", "CT")
    assert h["study_date"].isoformat() == "2023-09-11"
    assert (h["convolution_kernel"], h["kvp"], h["contrast_bolus_agent"]) == ("B31f", 100.0, "Iomeron 350")
    assert h["pixel_spacing_mm"] == (0.9, 0.8)  # DICOM order: row step (y), column step (x)
    assert h["slice_thickness_mm"] == 3.0
    assert h["image_position_patient"] == pytest.approx(np.add(syn.geometry.origin, (0, 0, 6.0)))
    assert (h["rows"], h["columns"]) == (16, 20)
    assert (h["study_instance_uid"], h["series_instance_uid"]) == (
        written.study_instance_uid,
        written.series_instance_uid,
    )
    ds = pydicom.dcmread(written.paths[0])
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.pixel_array.dtype == np.int16 and ds.BitsStored == 16 and ds.PixelRepresentation == 1


def test_uid_entropy_makes_uids_reproducible(tmp_path):
    syn = synthetic_ct((3, 8, 8), (1, 1, 1), seed=0)
    a = write_ct_series(syn.image, tmp_path / "a", patient_id="P", study_date="20240101", series_description="a", uid_entropy="demo-1")
    b = write_ct_series(syn.image, tmp_path / "b", patient_id="P", study_date="20240101", series_description="a", uid_entropy="demo-1")
    c = write_ct_series(syn.image, tmp_path / "c", patient_id="P", study_date="20240101", series_description="a", uid_entropy="demo-2")
    assert a.sop_instance_uids == b.sop_instance_uids and a.series_instance_uid == b.series_instance_uid
    assert not set(a.sop_instance_uids) & set(c.sop_instance_uids)


def test_wide_range_gets_an_intercept_and_round_trips(tmp_path):
    geometry = Geometry(size=(4, 3, 2), origin=(0, 0, 0), spacing=(1, 1, 1), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    values = np.arange(24, dtype=np.int32).reshape(2, 3, 4) * 2000 - 1024  # -1024 .. 44976: > int16
    written = write_ct_series(values, tmp_path, geometry=geometry, patient_id="P", study_date="20240101", series_description="w")
    volume = assemble_volume(written.paths)
    assert np.array_equal(volume.array, values)
    assert volume.array.dtype == np.int32


def test_non_integer_values_need_a_slope(tmp_path):
    geometry = Geometry(size=(2, 2, 2), origin=(0, 0, 0), spacing=(1, 1, 1), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    values = np.array([[[0.25, 1.5], [2.0, -3.75]], [[10.0, 0.5], [7.25, 100.0]]])
    with pytest.raises(ValueError, match="pass rescale_slope"):
        write_ct_series(values, tmp_path / "x", geometry=geometry, patient_id="P", study_date="20240101", series_description="f")
    written = write_ct_series(
        values, tmp_path / "y", geometry=geometry, patient_id="P", study_date="20240101", series_description="f", rescale_slope=0.25
    )
    assert np.allclose(assemble_volume(written.paths).array, values)


def test_array_without_geometry_is_refused(tmp_path):
    with pytest.raises(ValueError, match="needs its geometry"):
        write_ct_series(np.zeros((2, 2, 2)), tmp_path, patient_id="P", study_date="20240101", series_description="x")


def test_oblique_direction_round_trips_geometry(tmp_path):
    syn = synthetic_ct((5, 12, 14), (0.7, 0.8, 2.0), seed=3)
    image = sitk.Image(syn.image)
    c, s = np.cos(0.3), np.sin(0.3)
    direction = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # columns: x, y, z axes
    image.SetDirection(tuple(direction.ravel()))
    written = write_ct_series(image, tmp_path, patient_id="P", study_date="20240101", series_description="oblique")
    volume = assemble_volume(written.paths)
    assert np.array_equal(volume.array, syn.array)
    assert np.allclose(volume.geometry.direction, direction.ravel(), atol=1e-6)
    assert np.allclose(volume.geometry.origin, image.GetOrigin(), atol=1e-4)


def test_mask_writers_check_the_label_map(tmp_path):
    syn = synthetic_ct((4, 16, 16), (1, 1, 2), lesions=[((0.0, 0.0, 0.0), 3.0)], seed=1)
    written = write_ct_series(syn.image, tmp_path / "ct", patient_id="P", study_date="20240101", series_description="x")
    layout = read_series_layout(written.paths)
    with pytest.raises(ValueError, match="empty"):
        write_seg(np.zeros_like(syn.label_array), layout, tmp_path / "s.dcm")
    with pytest.raises(ValueError, match="does not match the reference series"):
        write_rtstruct(syn.label_array[:3], layout, tmp_path / "r.dcm")
    moved = sitk.Image(syn.label)
    moved.SetOrigin((5.0, 0.0, 0.0))
    with pytest.raises(GeometryMismatchError):
        write_seg(moved, layout, tmp_path / "s.dcm")
