"""Fast mesh coefficients and diameters equal pyradiomics' C implementation (``radiomics._cshape``).

Reference: ``radiomics.cShape.calculate_coefficients(mask, spacing)`` -> (surface area, volume, (slice, column,
row, 3-D) maximum diameters), the very function stock ``RadiomicsShape`` calls. Required agreement: 1e-9 relative.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import SimpleITK as sitk  # noqa: E402 - required dependencies: a missing one is an error, never a skip

from radiomics import cShape, imageoperations, shape  # noqa: E402

from imaging.compute.radiomics import FastRadiomicsShape  # noqa: E402
from imaging.compute.radiomics.fast_shape import (  # noqa: E402
    _hull_candidates,
    maximum_diameters,
    mesh_coefficients,
    mesh_vertices,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CASES = ("brain1", "brain2", "breast1", "lung1", "lung2")
REL_TOL = 1e-9


def _data_dir() -> Path:
    return Path(os.environ.get("RADIMMUNO_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")) / "pyradiomics"


def _stock(mask: np.ndarray, spacing) -> np.ndarray:
    sa, vol, diam = cShape.calculate_coefficients(np.ascontiguousarray(mask, dtype=bool), np.asarray(spacing, float))
    return np.array([sa, vol, *diam])


def _ours(mask: np.ndarray, spacing) -> np.ndarray:
    sa, vol, diam = mesh_coefficients(mask, spacing)
    return np.array([sa, vol, *diam])


def _assert_equal_to_stock(mask: np.ndarray, spacing, what: str) -> np.ndarray:
    mask = np.pad(np.asarray(mask, dtype=bool), 1)  # pyradiomics pads the mask before calling cshape
    expected = _stock(mask, spacing)
    got = _ours(mask, spacing)
    names = ["SurfaceArea", "MeshVolume", "Max2DSlice", "Max2DColumn", "Max2DRow", "Max3D"]
    for name, e, g in zip(names, expected, got):
        assert abs(g - e) <= REL_TOL * abs(e), f"{what}: {name} {g!r} != stock {e!r}"
    return got


@pytest.fixture(scope="module")
def case_masks():
    root = _data_dir()
    missing = [c for c in CASES if not (root / f"{c}_label.nrrd").is_file()]
    if missing:
        pytest.skip(f"pyradiomics test data missing in {root}: {missing} (set RADIMMUNO_SHARED_DATA)")
    out = {}
    for case in CASES:
        image = sitk.ReadImage(str(root / f"{case}_image.nrrd"))
        label = sitk.ReadImage(str(root / f"{case}_label.nrrd"))
        out[case] = (image, label)
    return out


@pytest.mark.parametrize("case", CASES)
def test_mesh_coefficients_equal_cshape_on_pyradiomics_cases(case, case_masks):
    _, label = case_masks[case]
    arr = sitk.GetArrayFromImage(label) == 1
    zz, yy, xx = np.nonzero(arr)
    roi = arr[zz.min():zz.max() + 1, yy.min():yy.max() + 1, xx.min():xx.max() + 1]
    got = _assert_equal_to_stock(roi, label.GetSpacing()[::-1], case)
    assert got[5] >= max(got[2:5]) > 0  # 3-D diameter bounds every 2-D one


@pytest.mark.parametrize("case", CASES)
def test_fast_shape_class_equals_stock_shape_class(case, case_masks):
    """All shape features, through pyradiomics' own feature-class machinery, on the cropped region."""
    image, label = case_masks[case]
    label = sitk.Cast(label, sitk.sitkUInt32)
    bb, _ = imageoperations.checkMask(image, label, label=1)
    cropped_image, cropped_mask = imageoperations.cropToTumorMask(image, label, bb)
    stock = shape.RadiomicsShape(cropped_image, cropped_mask, label=1)
    fast = FastRadiomicsShape(cropped_image, cropped_mask, label=1)
    for cls in (stock, fast):
        for name in shape.RadiomicsShape.getFeatureNames():  # include the deprecated ones too
            cls.enableFeatureByName(name)
    expected = {k: float(v) for k, v in stock.execute().items()}
    got = {k: float(v) for k, v in fast.execute().items()}
    assert set(got) == set(expected) and len(got) >= 17
    for name, value in expected.items():
        assert abs(got[name] - value) <= REL_TOL * abs(value), f"{case} {name}: {got[name]!r} != {value!r}"


def _ball(radius: float, shape_zyx=None, center=None) -> np.ndarray:
    n = int(2 * radius + 3)
    shape_zyx = shape_zyx or (n, n, n)
    center = center or tuple((s - 1) / 2 for s in shape_zyx)
    zz, yy, xx = np.indices(shape_zyx)
    return (zz - center[0]) ** 2 + (yy - center[1]) ** 2 + (xx - center[2]) ** 2 <= radius ** 2


def _synthetic_masks() -> dict[str, tuple[np.ndarray, tuple[float, float, float]]]:
    rng = np.random.default_rng(20240601)
    masks: dict[str, tuple[np.ndarray, tuple[float, float, float]]] = {}
    masks["single voxel"] = (np.ones((1, 1, 1), bool), (2.5, 0.7, 0.7))
    single_slice = np.zeros((1, 30, 40), bool)
    single_slice[0, 5:25, 3:35] = _ball(12, (1, 20, 32), (0, 9.5, 15.5))[0]
    masks["single slice disc"] = (single_slice, (5.0, 0.6, 0.6))
    masks["line of voxels"] = (np.ones((1, 1, 17), bool), (1.0, 1.0, 0.8))
    ell = np.zeros((6, 12, 12), bool)
    ell[:, :3, :] = True
    ell[:, :, :3] = True
    masks["L-shape"] = (ell, (2.0, 0.9, 1.1))
    two = np.zeros((8, 30, 30), bool)
    two[1:4, 1:5, 1:5] = True
    two[5:8, 24:29, 22:29] = True
    masks["two blobs far apart"] = (two, (3.0, 0.75, 0.75))
    shell = _ball(10) & ~_ball(7, (23, 23, 23))
    masks["hollow sphere"] = (shell, (1.0, 1.0, 1.0))
    masks["big sphere (hull path)"] = (_ball(18), (1.2, 0.8, 0.8))
    zz, yy, xx = np.indices((10, 40, 40))
    masks["oblique slab"] = ((np.abs(xx + yy - 2 * zz - 30) <= 1), (2.0, 0.7, 0.9))
    masks["checkerboard"] = (((zz + yy + xx) % 2 == 0)[:6, :9, :9], (1.0, 1.0, 1.0))
    for i in range(6):
        shp = tuple(int(v) for v in rng.integers(2, 16, size=3))
        blob = rng.random(shp) < rng.uniform(0.2, 0.8)
        blob[tuple(s // 2 for s in shp)] = True
        masks[f"random blob {i}"] = (blob, tuple(float(v) for v in rng.uniform(0.4, 3.0, size=3)))
    # irregular lesion: union of random balls (large enough for the hull path in 2-D planes too)
    lesion = np.zeros((24, 64, 64), bool)
    for _ in range(7):
        c = rng.uniform([6, 16, 16], [18, 48, 48])
        r = rng.uniform(4, 12)
        zz, yy, xx = np.indices(lesion.shape)
        lesion |= ((zz - c[0]) * 2.5) ** 2 + ((yy - c[1]) * 0.7) ** 2 + ((xx - c[2]) * 0.7) ** 2 <= (r * 0.7 * 1.5) ** 2
    masks["irregular multi-ball lesion"] = (lesion, (2.5, 0.7, 0.7))
    return masks


_SYNTHETIC = _synthetic_masks()


@pytest.mark.parametrize("name", list(_SYNTHETIC))
def test_mesh_coefficients_equal_cshape_on_synthetic_masks(name):
    mask, spacing = _SYNTHETIC[name]
    _assert_equal_to_stock(mask, spacing, name)


def test_single_voxel_diameters_have_known_values():
    """One voxel: the vertices are its 6 face centres, so each diameter is the largest voxel extent in its plane."""
    dz, dy, dx = 1.0, 2.0, 3.0
    sl, col, row, d3 = maximum_diameters(np.pad(np.ones((1, 1, 1), bool), 1), (dz, dy, dx))
    assert (sl, col, row, d3) == (max(dy, dx), max(dz, dx), max(dz, dy), max(dz, dy, dx))


def test_vertex_set_is_boundary_edge_midpoints():
    mask = np.pad(np.ones((2, 1, 1), bool), 1)
    v = mesh_vertices(mask)
    # 2 stacked voxels: 2 top/bottom + 4 sides each = 10 boundary edges
    assert len(v) == 10 and len({tuple(p) for p in v}) == 10
    # padded voxels sit at z = 1, 2: end faces at z = 0.5, 2.5 (doubled 1, 5), side vertices at z = 1, 2 (2, 4)
    assert set(v[:, 0].tolist()) == {1, 2, 4, 5}


def test_hull_fallback_on_degenerate_points():
    """Collinear points make Qhull fail; every point is then kept as a candidate."""
    pts = np.zeros((200, 3))
    pts[:, 2] = np.arange(200) * 0.5
    assert len(_hull_candidates(pts, [0, 1, 2])) == 200
    assert len(_hull_candidates(pts, [1, 2])) == 200
