"""Peritumoral regions: rings of tissue at a given physical distance outside a lesion.

The peritumoral environment (immune infiltrate, oedema, vessel recruitment) is a frequent radiomics target in
immunotherapy studies, e.g. Braman N et al. JAMA Netw Open 2019;2:e192561 (peritumoral rings on lung CT predicting
response to immune checkpoint inhibitors) and Sun R et al. Lancet Oncol 2018;19:1180-91.

A ring ``(inner_mm, outer_mm]`` is the set of voxels outside the lesion whose Euclidean distance to the nearest
lesion voxel -- measured between voxel centres, in millimetres, with the image spacing -- satisfies
``inner_mm < d <= outer_mm``. With ``inner_mm = 0`` the ring starts at the voxels touching the lesion; the lesion
itself (``d = 0``) is never part of a ring, and consecutive rings ``(0, 3], (3, 6]`` neither overlap nor leave gaps.
Rings are clipped to the image extent and, optionally, to a ``within`` mask (e.g. lung or body contour, so that a
juxtapleural lesion's ring does not include air outside the body).

Distances use the exact Euclidean distance transform (``scipy.ndimage.distance_transform_edt``) on the lesion's
bounding box grown by the outer radius, which contains every voxel that can be within ``outer_mm`` of the lesion, so
cropping does not change any distance. Direction cosines are orthonormal, so index-space distances scaled by spacing
are physical distances.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

__all__ = ["RegionError", "lesion_distance_map", "peritumoral_ring", "peritumoral_rings", "ring_name", "with_rings"]

DEFAULT_RINGS_MM: tuple[tuple[float, float], ...] = ((0.0, 3.0), (3.0, 6.0))


class RegionError(ValueError):
    """A peritumoral region cannot be built (e.g. empty lesion mask, invalid ring limits, geometry mismatch)."""


def ring_name(inner_mm: float, outer_mm: float) -> str:
    """Key used for a ring, e.g. ``ring_0-3mm``, ``ring_3-6mm``, ``ring_2.5-5mm``."""
    def fmt(v: float) -> str:
        return f"{v:g}"
    return f"ring_{fmt(inner_mm)}-{fmt(outer_mm)}mm"


def _lesion_array(mask: sitk.Image, label: int) -> np.ndarray:
    if mask.GetNumberOfComponentsPerPixel() != 1:
        raise RegionError("vector (multi-channel) masks are not supported; select a channel first")
    lesion = sitk.GetArrayViewFromImage(mask) == label
    if not lesion.any():
        raise RegionError(f"mask has no voxels with label {label}")
    return lesion


def _check_within(mask: sitk.Image, within: sitk.Image | None) -> np.ndarray | None:
    if within is None:
        return None
    if within.GetSize() != mask.GetSize() or not np.allclose(within.GetSpacing(), mask.GetSpacing()) or \
            not np.allclose(within.GetOrigin(), mask.GetOrigin(), atol=1e-3) or \
            not np.allclose(within.GetDirection(), mask.GetDirection(), atol=1e-6):
        raise RegionError("'within' mask does not have the lesion mask's geometry (size, spacing, origin, direction)")
    return sitk.GetArrayViewFromImage(within) != 0


def lesion_distance_map(mask: sitk.Image, label: int = 1, max_distance_mm: float | None = None
                        ) -> tuple[np.ndarray, tuple[slice, ...]]:
    """Distance (mm) from each voxel centre to the nearest lesion voxel centre, on a crop around the lesion.

    Parameters
    ----------
    mask : SimpleITK.Image
        Label map; the lesion is ``mask == label``.
    label : int
        Lesion label.
    max_distance_mm : float, optional
        Only voxels up to this distance are needed; the crop is the lesion bounding box grown by
        ``ceil(max_distance_mm / spacing) + 1`` voxels per axis (clipped to the image). ``None``: whole image.

    Returns
    -------
    distance : ndarray of float64, (z, y, x) order
        0 inside the lesion.
    region : tuple of slice
        Where ``distance`` sits in the full (z, y, x) array.
    """
    lesion = _lesion_array(mask, label)
    spacing_zyx = np.asarray(mask.GetSpacing()[::-1], dtype=np.float64)
    if max_distance_mm is None:
        region = tuple(slice(0, n) for n in lesion.shape)
    else:
        region_list = []
        for axis in range(lesion.ndim):
            other = tuple(a for a in range(lesion.ndim) if a != axis)
            hits = np.flatnonzero(lesion.any(axis=other))
            margin = int(math.ceil(max_distance_mm / spacing_zyx[axis])) + 1
            region_list.append(slice(max(hits[0] - margin, 0), min(hits[-1] + margin + 1, lesion.shape[axis])))
        region = tuple(region_list)
    crop = lesion[region]
    distance = ndimage.distance_transform_edt(~crop, sampling=spacing_zyx)
    return distance, region


def _validate_rings(rings: Iterable[Sequence[float]]) -> list[tuple[float, float]]:
    out = []
    for ring in rings:
        if len(ring) != 2:
            raise RegionError(f"a ring is (inner_mm, outer_mm), got {ring!r}")
        inner, outer = float(ring[0]), float(ring[1])
        if not (math.isfinite(inner) and math.isfinite(outer)) or inner < 0 or outer <= inner:
            raise RegionError(f"ring limits must satisfy 0 <= inner_mm < outer_mm, got ({inner:g}, {outer:g})")
        out.append((inner, outer))
    if not out:
        raise RegionError("no rings requested")
    return out


def peritumoral_rings(mask: sitk.Image, rings: Iterable[Sequence[float]] = DEFAULT_RINGS_MM, *, label: int = 1,
                      within: sitk.Image | None = None, out_label: int = 1) -> dict[str, sitk.Image]:
    """Peritumoral ring masks around the lesion ``mask == label``.

    Parameters
    ----------
    mask : SimpleITK.Image
        Lesion label map (any integer pixel type, 2-D or 3-D).
    rings : iterable of (inner_mm, outer_mm)
        Distance intervals ``(inner, outer]`` in mm, measured from the nearest lesion voxel centre.
        Default ``((0, 3), (3, 6))``.
    label : int
        Lesion label in ``mask``.
    within : SimpleITK.Image, optional
        Non-zero where ring voxels are allowed (same geometry as ``mask``).
    out_label : int
        Value of ring voxels in the returned masks (background 0).

    Returns
    -------
    dict of str to SimpleITK.Image
        ``{ring_name(inner, outer): UInt8 mask}`` with the geometry of ``mask``, in the order given. A ring may be
        empty (lesion at the image edge, or excluded by ``within``); the extractor then reports it as an error for
        that region rather than producing features.

    Raises
    ------
    RegionError
        Empty lesion, invalid ring limits, ``within`` with a different geometry.
    """
    ring_list = _validate_rings(rings)
    allowed = _check_within(mask, within)
    outer_max = max(outer for _, outer in ring_list)
    distance, region = lesion_distance_map(mask, label, max_distance_mm=outer_max)
    if allowed is not None:
        allowed = allowed[region]
    full_shape = sitk.GetArrayViewFromImage(mask).shape
    out: dict[str, sitk.Image] = {}
    for inner, outer in ring_list:
        ring = (distance > inner) & (distance <= outer)  # distance > inner >= 0 excludes the lesion itself
        if allowed is not None:
            ring &= allowed
        full = np.zeros(full_shape, dtype=np.uint8)
        full[region][ring] = out_label
        image = sitk.GetImageFromArray(full)
        image.CopyInformation(mask)
        out[ring_name(inner, outer)] = image
    return out


def peritumoral_ring(mask: sitk.Image, inner_mm: float, outer_mm: float, *, label: int = 1,
                     within: sitk.Image | None = None, out_label: int = 1) -> sitk.Image:
    """A single ring ``(inner_mm, outer_mm]`` around ``mask == label``; see :func:`peritumoral_rings`."""
    return next(iter(peritumoral_rings(mask, [(inner_mm, outer_mm)], label=label, within=within,
                                       out_label=out_label).values()))


def with_rings(lesion_masks: Mapping, rings: Iterable[Sequence[float]] = DEFAULT_RINGS_MM, *, label: int = 1,
               within: sitk.Image | None = None) -> dict:
    """Lesion masks plus their rings, keyed ``key`` and ``(key, ring_name)``, ready for ``Extractor.extract``."""
    ring_list = _validate_rings(rings)
    out: dict = {}
    for key, mask in lesion_masks.items():
        out[key] = mask
        for name, ring in peritumoral_rings(mask, ring_list, label=label, within=within,
                                            out_label=label).items():
            out[(key, name)] = ring
    return out

