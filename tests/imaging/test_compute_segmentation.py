"""imaging.compute.segmentation (+ the SEG/RTSTRUCT writers): masks on the reference grid."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file

from imaging.compute.segmentation import (
    GeometryMismatchError,
    SegmentationError,
    UnknownReferenceError,
    mask_to_polygons,
    rasterize_polygons,
    read_label_map,
    read_rtstruct_masks,
    read_seg_masks,
)
from imaging.compute.volume import read_series_layout
from imaging.compute.synthetic_ct import synthetic_ct
from imaging.compute.writers import write_ct_series, write_rtstruct, write_seg


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


# --------------------------------------------------------------------------- lung2: three formats, one mask


def test_lung2_label_as_seg_rtstruct_and_nrrd_give_the_same_mask(lung2, lung2_layout, pyradiomics_data, tmp_path):
    _, label = lung2
    source = sitk.GetArrayFromImage(label) == 1
    assert source.sum() > 10_000  # a real lesion, not a trivial mask

    seg = write_seg(label, lung2_layout, tmp_path / "seg.dcm", segment_labels={1: "lung2 tumour"})
    from_seg = read_seg_masks(seg.path, lung2_layout)
    rts = write_rtstruct(label, lung2_layout, tmp_path / "rts.dcm", roi_names={1: "lung2 tumour"})
    from_rts = read_rtstruct_masks(rts.path, lung2_layout)
    from_nrrd = read_label_map(pyradiomics_data / "lung2_label.nrrd", lung2_layout, label_names={1: "lung2 tumour"})

    assert set(from_seg.masks) == set(from_rts.masks) == set(from_nrrd.masks) == {"lung2 tumour"}
    seg_mask = from_seg.masks["lung2 tumour"]
    rts_mask = from_rts.masks["lung2 tumour"]
    nrrd_mask = from_nrrd.masks["lung2 tumour"]
    assert seg_mask.shape == rts_mask.shape == nrrd_mask.shape == (61, 512, 512)
    assert np.array_equal(seg_mask, nrrd_mask)
    assert np.array_equal(nrrd_mask, source)
    rts_dice = dice(rts_mask, source)
    print(f"lung2 RTSTRUCT rasterisation Dice vs source mask: {rts_dice:.6f}")
    assert rts_dice >= 0.98
    assert from_nrrd.resampled is False
    assert "SOP Instance UID" in from_seg.notes[0]
    # The SEG is a real DICOM SEG object that references the CT series.
    ds = pydicom.dcmread(seg.path)
    assert ds.SegmentationType == "BINARY"
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == lung2_layout.series_instance_uid
    assert ds.SegmentSequence[0].SegmentLabel == "lung2 tumour"


def test_multi_label_map_round_trips_through_seg_and_rtstruct(tmp_path):
    syn = synthetic_ct(
        (16, 48, 64),
        (1.2, 1.2, 2.0),
        lesions=[((-20.0, 0.0, 0.0), 7.0), ((20.0, 5.0, 4.0), (9.0, 5.0, 6.0)), ((0.0, -14.0, -6.0), 4.0)],
        seed=11,
    )
    written = write_ct_series(syn.image, tmp_path / "ct", patient_id="S", study_date="20240105", series_description="s")
    layout = read_series_layout(written.paths)
    names = {1: "liver met", 2: "lung met", 3: "node"}
    seg = write_seg(syn.label_array, layout, tmp_path / "seg.dcm", segment_labels=names)
    rts = write_rtstruct(syn.label_array, layout, tmp_path / "rts.dcm", roi_names=names)
    for masks in (read_seg_masks(seg.path, layout), read_rtstruct_masks(rts.path, layout)):
        assert set(masks.masks) == set(names.values())
        for value, name in names.items():
            assert masks.masks[name].sum() > 0
            assert np.array_equal(masks.masks[name], syn.label_array == value), (masks.source_format, name)
    assert seg.numbers == {"liver met": 1, "lung met": 2, "node": 3}


def test_seg_without_source_references_is_placed_by_position(tmp_path):
    syn = synthetic_ct((8, 24, 24), (1.0, 1.0, 2.0), lesions=[((0.0, 0.0, 0.0), 5.0)], seed=2)
    written = write_ct_series(syn.image, tmp_path / "ct", patient_id="S", study_date="20240105", series_description="s")
    layout = read_series_layout(written.paths)
    seg = write_seg(syn.label, layout, tmp_path / "seg.dcm")
    ds = pydicom.dcmread(seg.path)
    for item in ds.PerFrameFunctionalGroupsSequence:
        del item.DerivationImageSequence
    del ds.ReferencedSeriesSequence
    ds.save_as(tmp_path / "seg_noref.dcm")
    masks = read_seg_masks(tmp_path / "seg_noref.dcm", layout)
    assert "ImagePositionPatient" in masks.notes[-1]
    assert np.array_equal(masks.masks["label 1"], syn.label_array == 1)


# --------------------------------------------------------------------------- references


@pytest.fixture()
def two_series(tmp_path):
    syn = synthetic_ct((8, 24, 24), (1.0, 1.0, 2.0), lesions=[((0.0, 0.0, 0.0), 5.0)], seed=4)
    a = write_ct_series(syn.image, tmp_path / "a", patient_id="S", study_date="20240105", series_description="a")
    b = write_ct_series(syn.image, tmp_path / "b", patient_id="S", study_date="20240105", series_description="b")
    return syn, read_series_layout(a.paths), read_series_layout(b.paths)


def test_seg_referencing_another_series_is_an_error(two_series, tmp_path):
    syn, layout_a, layout_b = two_series
    seg = write_seg(syn.label, layout_a, tmp_path / "seg.dcm")
    with pytest.raises(UnknownReferenceError) as exc:
        read_seg_masks(seg.path, layout_b)
    assert layout_a.series_instance_uid in str(exc.value)
    assert layout_b.series_instance_uid in str(exc.value)
    assert "ingest the referenced series" in str(exc.value)


def test_seg_referencing_images_missing_from_the_reference_is_an_error(two_series, tmp_path):
    syn, layout_a, _ = two_series
    seg = write_seg(syn.label, layout_a, tmp_path / "seg.dcm")
    paths = [ds.filename for ds in layout_a.datasets]
    del paths[4]  # the lesion's central slice: its SEG frame would be lost
    incomplete = read_series_layout(paths, on_missing_slice="warn")
    with pytest.raises(UnknownReferenceError, match="1 of the .* source images the SEG references are not in"):
        read_seg_masks(seg.path, incomplete)


def test_rtstruct_referencing_another_series_is_an_error(two_series, tmp_path):
    syn, layout_a, layout_b = two_series
    rts = write_rtstruct(syn.label, layout_a, tmp_path / "rts.dcm")
    with pytest.raises(UnknownReferenceError, match="drawn on series"):
        read_rtstruct_masks(rts.path, layout_b)


def test_pydicom_rtstruct_on_an_unrelated_series_is_an_error(lung2_layout):
    with pytest.raises(UnknownReferenceError) as exc:
        read_rtstruct_masks(get_testdata_file("rtstruct.dcm"), lung2_layout)
    assert "1.2.826.0.1.3680043.8.498.2010020400001.2.1.1" in str(exc.value)


def test_rtstruct_contour_image_not_in_reference(two_series, tmp_path):
    syn, layout_a, _ = two_series
    rts = write_rtstruct(syn.label, layout_a, tmp_path / "rts.dcm")
    ds = pydicom.dcmread(rts.path)
    ds.ROIContourSequence[0].ContourSequence[0].ContourImageSequence[0].ReferencedSOPInstanceUID = "1.2.3.4.5"
    ds.save_as(tmp_path / "rts_bad.dcm")
    with pytest.raises(UnknownReferenceError, match="references image 1.2.3.4.5"):
        read_rtstruct_masks(tmp_path / "rts_bad.dcm", layout_a)


def test_rtstruct_contour_between_slices(two_series, tmp_path):
    syn, layout_a, _ = two_series
    rts = write_rtstruct(syn.label, layout_a, tmp_path / "rts.dcm")
    ds = pydicom.dcmread(rts.path)
    contour = ds.ROIContourSequence[0].ContourSequence[0]
    pts = [float(v) for v in contour.ContourData]
    pts[2::3] = [z + 1.0 for z in pts[2::3]]  # half a slice step (2 mm) off
    contour.ContourData = [f"{v:.4f}" for v in pts]
    del contour.ContourImageSequence
    ds.save_as(tmp_path / "rts_off.dcm")
    with pytest.raises(UnknownReferenceError, match="between slices"):
        read_rtstruct_masks(tmp_path / "rts_off.dcm", layout_a)


def test_wrong_object_type_is_reported(lung2_dicom, lung2_layout):
    with pytest.raises(SegmentationError, match="expected a DICOM SEG object, got CT Image Storage"):
        read_seg_masks(lung2_dicom.paths[0], lung2_layout)


# --------------------------------------------------------------------------- label-map geometry


def test_label_map_geometry_mismatch_names_the_numbers(lung2, lung2_layout):
    _, label = lung2
    shifted = sitk.Image(label)
    origin = list(label.GetOrigin())
    origin[0] += 0.6269531  # one column to the right
    shifted.SetOrigin(origin)
    with pytest.raises(GeometryMismatchError) as exc:
        read_label_map(shifted, lung2_layout)
    message = str(exc.value)
    assert "origin: label map (-169.873, -324.5, -360) vs reference (-170.5, -324.5, -360)" in message
    assert "max difference 0.626953" in message and "resample=True" in message
    assert set(exc.value.differences) == {"origin"}


def test_label_map_resampled_when_asked(lung2, lung2_layout):
    _, label = lung2
    shifted = sitk.Image(label)
    origin = list(label.GetOrigin())
    origin[0] += 0.6269531  # exactly one voxel: nearest neighbour is an exact shift
    shifted.SetOrigin(origin)
    result = read_label_map(shifted, lung2_layout, resample=True)
    assert result.resampled is True
    assert "resampled onto the reference grid" in result.notes[0]
    source = sitk.GetArrayFromImage(label) == 1
    expected = np.zeros_like(source)
    expected[:, :, 1:] = source[:, :, :-1]
    assert np.array_equal(result.masks["label 1"], expected)


def test_label_map_with_other_spacing_mismatch(lung2, lung2_layout):
    _, label = lung2
    coarse = sitk.Shrink(label, [2, 2, 1])
    with pytest.raises(GeometryMismatchError) as exc:
        read_label_map(coarse, lung2_layout)
    assert {"size", "spacing", "origin"} <= set(exc.value.differences)
    assert "size: label map (256, 256, 61) vs reference (512, 512, 61)" in str(exc.value)
    resampled = read_label_map(coarse, lung2_layout, resample=True)
    source = sitk.GetArrayFromImage(label) == 1
    assert dice(resampled.masks["label 1"], source) > 0.95


# --------------------------------------------------------------------------- polygons


def test_mask_to_polygons_round_trip_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(200):
        shape = (int(rng.integers(1, 25)), int(rng.integers(1, 25)))
        mask = rng.random(shape) < rng.random()
        assert np.array_equal(rasterize_polygons(mask_to_polygons(mask), shape), mask)


def test_polygons_of_a_ring_include_the_hole():
    mask = np.zeros((10, 10), dtype=bool)
    mask[1:9, 1:9] = True
    mask[4:6, 4:6] = False
    polygons = mask_to_polygons(mask)
    assert len(polygons) == 2
    outer = max(polygons, key=len)
    assert sorted(map(tuple, outer.tolist())) == [(0.5, 0.5), (0.5, 8.5), (8.5, 0.5), (8.5, 8.5)]


def test_even_odd_rule_makes_nested_contours_holes():
    outer = np.array([[1.5, 1.5], [17.5, 1.5], [17.5, 17.5], [1.5, 17.5]])
    inner = np.array([[5.5, 5.5], [13.5, 5.5], [13.5, 13.5], [5.5, 13.5]])
    filled = rasterize_polygons([outer, inner], (20, 20))
    assert filled.sum() == 16 * 16 - 8 * 8
    assert not filled[9, 9] and filled[3, 3]


def test_rasterised_circle_has_the_circle_area():
    r, c = 40.0, (50.2, 49.7)
    t = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    circle = np.column_stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)])
    filled = rasterize_polygons([circle], (100, 100))
    assert abs(filled.sum() - np.pi * r**2) / (np.pi * r**2) < 0.01
