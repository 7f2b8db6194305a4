"""imaging.compute.recist on shapes with known diameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imaging.compute.recist import EmptyMaskError, recist_measure


def ellipse(a_mm, b_mm, spacing_xy, angle=0.0, size=None, centre_offset=(0.3, -0.2)):
    """Pixels whose centres lie inside an ellipse with semi-axes a (along angle) and b."""
    sx, sy = spacing_xy
    n = size or int(2.4 * max(a_mm, b_mm) / min(sx, sy)) + 6
    yy, xx = np.mgrid[0:n, 0:n]
    x = (xx - n / 2 + centre_offset[0]) * sx
    y = (yy - n / 2 + centre_offset[1]) * sy
    u = x * math.cos(angle) + y * math.sin(angle)
    v = -x * math.sin(angle) + y * math.cos(angle)
    return (u / a_mm) ** 2 + (v / b_mm) ** 2 <= 1.0


@pytest.mark.parametrize(("r", "s"), [(5.0, 0.7), (10.0, 0.5), (23.3, 0.8)])
def test_disc_long_and_short_axis_are_the_diameter_within_a_voxel(r, s):
    m = recist_measure(ellipse(r, r, (s, s))[np.newaxis], (s, s, 3.0))
    voxel = s * math.sqrt(2)
    assert 2 * r <= m.long_axis_mm <= 2 * r + voxel
    assert 2 * r - voxel <= m.short_axis_mm <= m.long_axis_mm


@pytest.mark.parametrize("angle", [0.0, 0.5, math.pi / 3])
def test_ellipse_axes(angle):
    a, b, s = 20.0, 10.0, (0.4, 0.4)
    m = recist_measure(ellipse(a, b, s, angle)[np.newaxis], (*s, 1.0))
    voxel = math.hypot(*s)
    assert abs(m.long_axis_mm - 2 * a) <= voxel
    assert abs(m.short_axis_mm - 2 * b) <= voxel
    # The long axis points along the ellipse's major axis (mod 180 degrees), up to the
    # tilt a digitised flat end cap allows (corner to opposite corner: ~ 3 px / 100 px).
    (x0, y0, _), (x1, y1, _) = m.long_axis_endpoints
    direction = math.atan2((y1 - y0) * s[1], (x1 - x0) * s[0]) % math.pi
    assert min(abs(direction - angle % math.pi), math.pi - abs(direction - angle % math.pi)) < 0.1


def test_ellipse_with_anisotropic_pixels():
    a, b, s = 20.0, 10.0, (0.4, 0.9)
    m = recist_measure(ellipse(a, b, s, 0.5)[np.newaxis], (*s, 1.0))
    voxel = math.hypot(*s)
    assert abs(m.long_axis_mm - 2 * a) <= voxel
    assert abs(m.short_axis_mm - 2 * b) <= voxel


def test_rectangle_with_anisotropic_spacing_exact():
    # 30 columns x 10 rows of 0.7 x 1.3 mm pixels: W = 21 mm, H = 13 mm.
    sx, sy, sz = 0.7, 1.3, 2.0
    mask = np.zeros((3, 40, 40), dtype=bool)
    mask[1, 5:15, 3:33] = True
    mask[0, 6:10, 6:12] = True  # smaller on the other slices
    w, h = 30 * sx, 10 * sy
    diagonal = math.hypot(w, h)  # 24.698178 mm
    m = recist_measure(mask, (sx, sy, sz))
    assert m.slice_index == 1
    assert m.long_axis_mm == pytest.approx(diagonal, abs=1e-9)
    # Longest chord perpendicular to the diagonal of a W x H rectangle (W >= H)
    # passes through a corner: H * diagonal / W = 15.289348 mm.
    assert m.short_axis_mm == pytest.approx(h * diagonal / w, abs=1e-9)
    assert m.voxel_count == 300 + 24
    assert m.volume_mm3 == pytest.approx((300 + 24) * sx * sy * sz)
    assert m.area_mm2 == pytest.approx(300 * sx * sy)
    # Endpoints are opposite corners of the pixel block (continuous indices).
    ends = sorted(tuple(round(v, 9) for v in p) for p in m.long_axis_endpoints)
    assert ends in (
        [(2.5, 4.5, 1.0), (32.5, 14.5, 1.0)],
        [(2.5, 14.5, 1.0), (32.5, 4.5, 1.0)],
    )


def test_single_voxel():
    m = recist_measure(np.ones((1, 1, 1), dtype=bool), (0.5, 0.8, 2.0))
    assert m.long_axis_mm == pytest.approx(math.hypot(0.5, 0.8))
    assert m.volume_mm3 == pytest.approx(0.8)


def test_largest_slice_is_chosen_and_volume_counts_all_slices():
    s = (0.5, 0.5, 2.5)
    discs = [ellipse(r, r, s[:2], size=100) for r in (4.0, 12.0, 8.0)]
    mask = np.stack(discs)
    m = recist_measure(mask, s)
    assert m.slice_index == 1
    assert 24.0 <= m.long_axis_mm <= 24.0 + 0.5 * math.sqrt(2)
    assert m.volume_mm3 == pytest.approx(mask.sum() * 0.5 * 0.5 * 2.5)


def test_two_pieces_on_the_slice_are_flagged():
    mask = np.zeros((1, 20, 20), dtype=bool)
    mask[0, 2:5, 2:5] = True
    mask[0, 12:15, 12:15] = True
    assert recist_measure(mask, (1.0, 1.0, 1.0)).components_on_slice == 2


def test_empty_mask_and_bad_spacing():
    with pytest.raises(EmptyMaskError, match="empty"):
        recist_measure(np.zeros((2, 3, 3), dtype=bool), (1, 1, 1))
    with pytest.raises(ValueError, match="spacing must be positive"):
        recist_measure(np.ones((1, 2, 2), dtype=bool), (1, 0, 1))
