"""Peritumoral rings: placement, volume and clipping on synthetic spheres, checked against brute-force distances."""

from __future__ import annotations

import math

import numpy as np
import pytest

import SimpleITK as sitk  # noqa: E402 - required dependencies: a missing one is an error, never a skip
from scipy.spatial import cKDTree  # noqa: E402

from imaging.compute.radiomics import (  # noqa: E402
    Extractor,
    RegionError,
    peritumoral_ring,
    peritumoral_rings,
    ring_name,
    with_rings,
)


def _sphere(shape_zyx, spacing_xyz, center_mm_xyz, radius_mm) -> sitk.Image:
    """Label map with voxels whose centre lies within ``radius_mm`` of ``center_mm_xyz`` (physical, origin 0)."""
    zz, yy, xx = np.indices(shape_zyx)
    sx, sy, sz = spacing_xyz
    cx, cy, cz = center_mm_xyz
    inside = (xx * sx - cx) ** 2 + (yy * sy - cy) ** 2 + (zz * sz - cz) ** 2 <= radius_mm ** 2
    image = sitk.GetImageFromArray(inside.astype(np.uint8))
    image.SetSpacing(spacing_xyz)
    return image


def _physical_points(mask_arr: np.ndarray, spacing_xyz) -> np.ndarray:
    zz, yy, xx = np.nonzero(mask_arr)
    return np.stack([xx * spacing_xyz[0], yy * spacing_xyz[1], zz * spacing_xyz[2]], axis=1)


def _brute_force_distance(lesion_arr: np.ndarray, spacing_xyz) -> np.ndarray:
    """Distance from every voxel centre to the nearest lesion voxel centre (mm), by k-d tree, (z, y, x) array."""
    tree = cKDTree(_physical_points(lesion_arr, spacing_xyz))
    everything = _physical_points(np.ones_like(lesion_arr, dtype=bool), spacing_xyz)
    d, _ = tree.query(everything)
    return d.reshape(lesion_arr.shape)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.7, 0.7, 2.5)], ids=["isotropic", "anisotropic"])
def test_rings_are_exactly_the_distance_shells_outside_the_lesion(spacing):
    shape = (int(60 / spacing[2]), int(60 / spacing[1]), int(60 / spacing[0]))
    lesion = _sphere(shape, spacing, (30.0, 30.0, 30.0), 8.0)
    lesion_arr = sitk.GetArrayFromImage(lesion).astype(bool)
    rings = peritumoral_rings(lesion, [(0, 3), (3, 6)])
    assert list(rings) == ["ring_0-3mm", "ring_3-6mm"]
    inner = sitk.GetArrayFromImage(rings["ring_0-3mm"]).astype(bool)
    outer = sitk.GetArrayFromImage(rings["ring_3-6mm"]).astype(bool)
    for ring in rings.values():
        assert ring.GetSize() == lesion.GetSize() and ring.GetSpacing() == lesion.GetSpacing()
    distance = _brute_force_distance(lesion_arr, spacing)
    np.testing.assert_array_equal(inner, (distance > 0) & (distance <= 3))
    np.testing.assert_array_equal(outer, (distance > 3) & (distance <= 6))
    assert not (inner & lesion_arr).any() and not (outer & lesion_arr).any() and not (inner & outer).any()


def test_ring_volumes_and_placement_on_a_sphere():
    spacing = (1.0, 1.0, 1.0)
    radius = 10.0
    lesion = _sphere((61, 61, 61), spacing, (30.0, 30.0, 30.0), radius)
    rings = peritumoral_rings(lesion, [(0, 3), (3, 6)])
    for (inner_mm, outer_mm), name in (((0, 3), "ring_0-3mm"), ((3, 6), "ring_3-6mm")):
        arr = sitk.GetArrayFromImage(rings[name]).astype(bool)
        pts = _physical_points(arr, spacing)
        r = np.linalg.norm(pts - 30.0, axis=1)
        # every ring voxel is outside the lesion sphere and within the outer shell radius (+ half a voxel diagonal)
        assert r.min() > radius and r.max() <= radius + outer_mm + math.sqrt(3) / 2
        assert np.allclose(pts.mean(axis=0), 30.0, atol=0.05)  # centred on the lesion
        # volume of a spherical shell between the lesion surface (radius R) and R + outer, minus R + inner:
        expected = 4 / 3 * math.pi * ((radius + outer_mm) ** 3 - (radius + inner_mm) ** 3)
        assert arr.sum() == pytest.approx(expected, rel=0.08), name


def test_rings_are_clipped_to_the_image_and_to_within():
    spacing = (1.0, 1.0, 1.0)
    lesion = _sphere((40, 40, 40), spacing, (2.0, 20.0, 20.0), 6.0)  # touches the x = 0 face
    ring = sitk.GetArrayFromImage(peritumoral_ring(lesion, 0, 3)).astype(bool)
    full = sitk.GetArrayFromImage(peritumoral_ring(_sphere((40, 40, 40), spacing, (20.0, 20.0, 20.0), 6.0),
                                                   0, 3)).astype(bool)
    assert 0 < ring.sum() < full.sum()
    within_arr = np.zeros((40, 40, 40), np.uint8)
    within_arr[:, :, :5] = 1  # only x < 5 allowed
    within = sitk.GetImageFromArray(within_arr)
    within.CopyInformation(lesion)
    clipped = sitk.GetArrayFromImage(peritumoral_ring(lesion, 0, 3, within=within)).astype(bool)
    assert clipped.sum() > 0 and not clipped[:, :, 5:].any()
    assert (clipped <= ring).all()


def test_region_errors_are_explicit():
    lesion = _sphere((20, 20, 20), (1.0, 1.0, 1.0), (10.0, 10.0, 10.0), 3.0)
    with pytest.raises(RegionError, match="no voxels with label 2"):
        peritumoral_rings(lesion, label=2)
    with pytest.raises(RegionError, match="0 <= inner_mm < outer_mm"):
        peritumoral_rings(lesion, [(3, 1)])
    other = sitk.Image([10, 10, 10], sitk.sitkUInt8)
    with pytest.raises(RegionError, match="geometry"):
        peritumoral_rings(lesion, within=other)
    assert ring_name(0, 3) == "ring_0-3mm" and ring_name(2.5, 5) == "ring_2.5-5mm"


def test_ring_masks_feed_the_extractor():
    rng = np.random.default_rng(7)
    arr = rng.normal(40, 15, size=(30, 40, 40)).astype(np.int16)
    image = sitk.GetImageFromArray(arr)
    image.SetSpacing((1.0, 1.0, 2.0))
    lesion = _sphere((30, 40, 40), (1.0, 1.0, 2.0), (20.0, 20.0, 30.0), 6.0)
    lesion.CopyInformation(image)
    masks = with_rings({"L1": lesion})
    assert list(masks) == ["L1", ("L1", "ring_0-3mm"), ("L1", "ring_3-6mm")]
    params = {"setting": {"binWidth": 10}, "imageType": {"Original": {}}, "featureClass": {"firstorder": []}}
    results = Extractor(params).extract(image, masks)
    means = {k: r.raise_for_error().features["original_firstorder_Mean"] for k, r in results.items()}
    assert set(means) == set(masks)
    assert all(abs(m - 40) < 5 for m in means.values())  # the noise image's mean, in every region
    counts = {k: r.diagnostics["diagnostics_Mask-original_VoxelNum"] for k, r in results.items()}
    expected = {k: int(sitk.GetArrayViewFromImage(m).sum()) for k, m in masks.items()}
    assert counts == expected
    assert 0 < counts[("L1", "ring_0-3mm")] < counts[("L1", "ring_3-6mm")]  # the outer shell is larger
