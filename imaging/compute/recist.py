"""RECIST 1.1 diameters and volume of a lesion mask.

Definitions implemented here (RECIST 1.1, Eisenhauer et al., Eur J Cancer
2009;45:228-47, §3.1 and Appendix I):

* **Long axis** (target lesions): the longest in-plane diameter, taken on the
  slice where it is largest. For each slice ``k`` (index 0 of the mask, the
  acquisition plane - axial for axial CT) the lesion is the union of its
  voxels' in-plane squares (pixel boundaries, in mm, so anisotropic pixel
  spacing is handled); its maximum Feret diameter is the largest distance
  between two vertices of the convex hull of those squares' corners, which is
  exact for that union. The long axis is the maximum over slices; ties go to
  the slice with the larger area, then the lower index.
* **Short axis** (lymph nodes, RECIST §3.1: "the short axis ... perpendicular
  to the long axis" in the same plane): on the long-axis slice, the longest
  chord of the same convex hull along a line perpendicular to the long axis.
  (It is not required to cross the long axis; for convex shapes this is the
  widest perpendicular extent that a caliper line across the lesion can
  measure. It is computed exactly: the chord length is piecewise linear and
  concave along the long axis, so its maximum lies at a hull vertex.)
* **Volume**: voxel count × voxel volume (sx·sy·sz, mm³).

Because pixel boundaries are used, diameters of a digitised shape are
slightly larger than the continuous shape's (by at most about one pixel
diagonal): a disc of radius r measures 2r .. 2r + √2·pixel.

Pure numpy/scipy; no Django imports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull

__all__ = ["EmptyMaskError", "RecistMeasurement", "recist_measure"]


class EmptyMaskError(ValueError):
    """The mask has no foreground voxel, so there is nothing to measure."""


@dataclass(frozen=True)
class RecistMeasurement:
    """RECIST measurement of one lesion mask.

    Attributes
    ----------
    slice_index : int
        z index (mask axis 0) of the slice carrying the long axis.
    long_axis_mm, short_axis_mm : float
        See the module docstring.
    volume_mm3 : float
        Voxel count × voxel volume.
    voxel_count : int
    area_mm2 : float
        Lesion area on ``slice_index``.
    long_axis_endpoints, short_axis_endpoints : ((x, y, z), (x, y, z))
        Continuous voxel indices (x = column, y = row, z = slice; voxel centres
        at integers, pixel corners at half-integers); map to patient mm with
        :meth:`imaging.compute.volume.Geometry.index_to_physical`.
    components_on_slice : int
        8-connected components of the mask on ``slice_index``; more than 1 means
        the diameter spans separate pieces - check the segmentation.
    """

    slice_index: int
    long_axis_mm: float
    short_axis_mm: float
    volume_mm3: float
    voxel_count: int
    area_mm2: float
    long_axis_endpoints: tuple[tuple[float, float, float], tuple[float, float, float]]
    short_axis_endpoints: tuple[tuple[float, float, float], tuple[float, float, float]]
    components_on_slice: int


def _hull_mm(mask2d: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Convex hull vertices (mm, (x, y)) of the union of the foreground pixel squares.

    Only the outer corners of the first and last pixel of every row can be hull
    vertices, so 4 points per row suffice.
    """
    rows = np.flatnonzero(mask2d.any(axis=1))
    sub = mask2d[rows]
    first = np.argmax(sub, axis=1)
    last = sub.shape[1] - 1 - np.argmax(sub[:, ::-1], axis=1)
    pts = np.concatenate(
        [
            np.column_stack([first - 0.5, rows - 0.5]),
            np.column_stack([first - 0.5, rows + 0.5]),
            np.column_stack([last + 0.5, rows - 0.5]),
            np.column_stack([last + 0.5, rows + 0.5]),
        ]
    ) * np.array([sx, sy])
    hull = ConvexHull(pts)
    return pts[hull.vertices]  # counter-clockwise order


def _feret(hull: np.ndarray) -> tuple[float, int, int]:
    diff = hull[:, None, :] - hull[None, :, :]
    d2 = np.einsum("ijk,ijk->ij", diff, diff)
    i, j = np.unravel_index(int(np.argmax(d2)), d2.shape)
    return float(np.sqrt(d2[i, j])), int(i), int(j)


def _perpendicular_chord(hull: np.ndarray, u: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Longest chord of the convex polygon ``hull`` along direction ``v`` ⟂ ``u``."""
    v = np.array([-u[1], u[0]])
    a, b = hull @ u, hull @ v
    a0, b0 = a, b
    a1, b1 = np.roll(a, -1), np.roll(b, -1)
    best = (-1.0, 0.0, 0.0, 0.0)
    for t in a:  # the maximum is at a vertex's position along u
        lo_, hi_ = np.minimum(a0, a1), np.maximum(a0, a1)
        crossing = (lo_ <= t + 1e-12) & (t - 1e-12 <= hi_)
        flat = np.abs(a1 - a0) < 1e-12
        frac = np.where(flat, 0.0, (t - a0) / np.where(flat, 1.0, a1 - a0))
        bs = np.concatenate([(b0 + frac * (b1 - b0))[crossing & ~flat], b0[crossing & flat], b1[crossing & flat]])
        if bs.size:
            length = float(bs.max() - bs.min())
            if length > best[0]:
                best = (length, float(t), float(bs.min()), float(bs.max()))
    length, t, bmin, bmax = best
    return length, t * u + bmin * v, t * u + bmax * v


def recist_measure(mask: np.ndarray, spacing: tuple[float, float, float]) -> RecistMeasurement:
    """Long axis, short axis and volume of a lesion mask.

    Parameters
    ----------
    mask : (z, y, x) array_like of bool
        One lesion (a 2-D mask is treated as a single slice).
    spacing : (sx, sy, sz)
        Voxel spacing in mm, SimpleITK order (column step, row step, slice step).

    Returns
    -------
    RecistMeasurement

    Raises
    ------
    EmptyMaskError
        If the mask has no foreground voxel.
    ValueError
        If the mask is not 2-D/3-D or the spacing is not positive.
    """
    m = np.asarray(mask).astype(bool)
    if m.ndim == 2:
        m = m[np.newaxis]
    if m.ndim != 3:
        raise ValueError(f"mask must be 2-D or 3-D (z, y, x), got shape {m.shape}")
    sx, sy, sz = (float(v) for v in spacing)
    if min(sx, sy, sz) <= 0:
        raise ValueError(f"spacing must be positive, got {spacing}")
    count = int(m.sum())
    if count == 0:
        raise EmptyMaskError("the lesion mask is empty: no voxel to measure")

    best: tuple[float, float, int] | None = None  # (long axis, area, -k)
    best_data = None
    for k in np.flatnonzero(m.any(axis=(1, 2))):
        hull = _hull_mm(m[k], sx, sy)
        long_axis, i, j = _feret(hull)
        area = float(m[k].sum()) * sx * sy
        key = (long_axis, area, -int(k))
        if best is None or key > best:
            best, best_data = key, (int(k), hull, i, j, area)
    assert best_data is not None
    k, hull, i, j, area = best_data
    long_axis = best[0]
    p, q = hull[i], hull[j]
    u = (q - p) / np.linalg.norm(q - p)
    short_axis, s0, s1 = _perpendicular_chord(hull, u)
    components = int(ndimage.label(m[k], structure=np.ones((3, 3)))[1])

    def to_index(point_mm: np.ndarray) -> tuple[float, float, float]:
        return (float(point_mm[0] / sx), float(point_mm[1] / sy), float(k))

    return RecistMeasurement(
        slice_index=k,
        long_axis_mm=long_axis,
        short_axis_mm=short_axis,
        volume_mm3=count * sx * sy * sz,
        voxel_count=count,
        area_mm2=area,
        long_axis_endpoints=(to_index(p), to_index(q)),
        short_axis_endpoints=(to_index(s0), to_index(s1)),
        components_on_slice=components,
    )
