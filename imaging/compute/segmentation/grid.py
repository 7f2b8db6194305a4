"""Is a mask's voxel grid the reference series' grid? Within tolerance, or the same lattice numbered otherwise.

Pure Python (numpy); no Django imports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..volume import Geometry, SeriesLayout
from .masks import GeometryMismatchError

#: Default tolerances for "the same grid".
GEOMETRY_TOLERANCE_MM = 0.01
DIRECTION_TOLERANCE = 1e-4
#: A contour whose points lie further than this (in slice steps) from a slice
#: plane does not belong to any slice.
OFF_PLANE_TOLERANCE = 0.25


def lattice_reindexing(
    actual: Geometry,
    expected: Geometry,
    *,
    tolerance_mm: float = GEOMETRY_TOLERANCE_MM,
    direction_tolerance: float = DIRECTION_TOLERANCE,
):
    """How to re-index ``actual`` onto ``expected`` when both are the *same voxel lattice* in space.

    Two grids can hold exactly the same voxel centres but number them differently: axes in another order or
    running the other way (e.g. a left-handed NRRD, whose slices a DICOM reader orders along x × y, the
    other way round). Re-indexing such a grid is exact - no interpolation. Returns ``(perm, flips)`` where
    expected axis ``i`` is actual axis ``perm[i]``, reversed when ``flips[i]``; ``None`` when the grids are
    not the same lattice.
    """
    d_act = np.array(actual.direction, dtype=float).reshape(3, 3)
    d_exp = np.array(expected.direction, dtype=float).reshape(3, 3)
    perm, flips = [], []
    for i in range(3):
        dots = d_act.T @ d_exp[:, i]
        candidates = [j for j in range(3) if abs(abs(dots[j]) - 1) <= direction_tolerance]
        if len(candidates) != 1 or candidates[0] in perm:
            return None
        j = candidates[0]
        if actual.size[j] != expected.size[i] or abs(actual.spacing[j] - expected.spacing[i]) > tolerance_mm:
            return None
        perm.append(j)
        flips.append(bool(dots[j] < 0))
    # the voxel of ``actual`` that lands on expected index (0, 0, 0) must sit at expected's origin
    corner = [0, 0, 0]
    for i, j in enumerate(perm):
        corner[j] = actual.size[j] - 1 if flips[i] else 0
    point = np.asarray(actual.origin) + d_act @ (np.asarray(corner) * np.asarray(actual.spacing))
    if np.max(np.abs(point - np.asarray(expected.origin))) > tolerance_mm:
        return None
    if perm == [0, 1, 2] and not any(flips):
        return None  # same numbering: not a re-indexing case (check_geometry decides)
    return perm, flips


def reindex_array(array_zyx: np.ndarray, perm, flips) -> np.ndarray:
    """Apply :func:`lattice_reindexing`'s result to a ``[z, y, x]`` array (exact, a view when possible)."""
    # numpy axis k holds SimpleITK axis 2 - k
    out = np.transpose(array_zyx, [2 - perm[2 - k] for k in range(3)])
    for i, flip in enumerate(flips):
        if flip:
            out = np.flip(out, axis=2 - i)
    return out


def check_geometry(
    actual: Geometry,
    expected: Geometry,
    *,
    tolerance_mm: float = GEOMETRY_TOLERANCE_MM,
    direction_tolerance: float = DIRECTION_TOLERANCE,
    what: str = "mask",
    allow_reindexing: bool = False,
) -> None:
    """Raise :class:`GeometryMismatchError` unless the two grids agree within tolerance.

    Size must match exactly; spacing and origin within ``tolerance_mm``;
    direction cosines within ``direction_tolerance``. With ``allow_reindexing``, a grid that is the same
    voxel lattice numbered differently (:func:`lattice_reindexing`) also passes.
    """
    if allow_reindexing and lattice_reindexing(actual, expected, tolerance_mm=tolerance_mm,
                                               direction_tolerance=direction_tolerance) is not None:
        return
    diffs = actual.differences(expected)
    limits = {"size": 0.0, "spacing": tolerance_mm, "origin": tolerance_mm, "direction": direction_tolerance}
    bad = {k: v for k, v in diffs.items() if v[2] > limits[k]}
    if bad:

        def fmt(v: Any) -> str:
            return "(" + ", ".join(f"{x:.6g}" for x in v) + ")"

        parts = [
            f"{k}: {what} {fmt(a)} vs reference {fmt(b)} (max difference {d:.6g}, tolerance {limits[k]:g})"
            for k, (a, b, d) in bad.items()
        ]
        raise GeometryMismatchError(
            f"the {what} grid does not match the reference series grid - " + "; ".join(parts)
            + ". It was probably drawn on another series or reconstruction; pick the right "
            "reference series, or pass resample=True to resample it (nearest neighbour)",
            bad,
        )


def _reference_geometry(reference: SeriesLayout | Geometry) -> Geometry:
    return reference if isinstance(reference, Geometry) else reference.geometry
