"""Synthetic CT: a chest-like volume with spherical/ellipsoidal lesions and their label map.

For the tests (real pyradiomics volumes written as DICOM with :mod:`imaging.compute.writers` and read back) and the
demo data generator. Pure Python (numpy, scipy, SimpleITK); no Django imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from .volume import Geometry

__all__ = ["Lesion", "SyntheticCT", "synthetic_ct"]


@dataclass(frozen=True)
class Lesion:
    """A synthetic lesion: an ellipsoid with a heterogeneous texture.

    Attributes
    ----------
    center_mm : (x, y, z)
        Centre in patient coordinates (mm).
    radius_mm : float or (rx, ry, rz)
        Semi-axes along x, y, z (mm).
    mean_hu : float
        Mean attenuation (solid tumours ~30-80 HU).
    heterogeneity_hu : float
        Standard deviation of the smooth texture inside the lesion.
    """

    center_mm: tuple[float, float, float]
    radius_mm: float | tuple[float, float, float]
    mean_hu: float = 55.0
    heterogeneity_hu: float = 12.0


@dataclass
class SyntheticCT:
    """Output of :func:`synthetic_ct`."""

    image: sitk.Image  # int16 HU
    label: sitk.Image  # uint8, lesion i -> label i + 1
    array: np.ndarray = field(repr=False)  # (z, y, x) int16 HU
    label_array: np.ndarray = field(repr=False)  # (z, y, x) uint8
    geometry: Geometry = field(repr=False)
    lesions: tuple[Lesion, ...] = ()


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: Sequence[float]) -> np.ndarray:
    """Unit-variance spatially correlated noise (Gaussian-filtered white noise)."""
    from scipy import ndimage

    noise = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma=sigma_vox, mode="wrap")
    std = float(noise.std())
    return noise / std if std > 0 else noise


def synthetic_ct(
    shape: tuple[int, int, int] = (64, 128, 128),
    spacing: tuple[float, float, float] = (2.5, 2.5, 5.0),
    lesions: Sequence[Lesion | tuple[Any, ...]] = (),
    seed: int = 0,
    *,
    origin: tuple[float, float, float] | None = None,
) -> SyntheticCT:
    """A chest-like synthetic CT volume with lesions and their label map.

    Parameters
    ----------
    shape : (nz, ny, nx)
    spacing : (sx, sy, sz) mm
    lesions : sequence of Lesion or tuples ``(center_mm, radius_mm[, mean_hu[, heterogeneity_hu]])``
        Centres in patient mm (see ``origin``); later lesions overwrite
        earlier ones where they overlap. Lesion ``i`` gets label ``i + 1``.
    seed : int
        Seed of every random draw; same seed, same volume.
    origin : (x, y, z) mm, optional
        Centre of voxel [0, 0, 0]; default centres the volume on (0, 0, 0).

    Returns
    -------
    SyntheticCT

    Notes
    -----
    Tissues (HU): air -1000 (+-5 noise) outside an elliptic body cross-section;
    subcutaneous fat ~ -100; soft tissue/mediastinum ~ 40 (20-60); two lungs
    ~ -850 with correlated noise (sd ~ 40) and a few vessels ~ 30; a vertebral
    body: cortical rim ~ 900, cancellous ~ 400 (400-1000 overall); lesions
    ``mean_hu`` +- ``heterogeneity_hu`` smooth texture plus 8 HU noise. Stored
    as int16 HU, identity direction. About 0.2-0.3 s for 64x128x128 here.
    """
    nz, ny, nx = shape
    sx, sy, sz = spacing
    if origin is None:
        origin = (-(nx - 1) * sx / 2, -(ny - 1) * sy / 2, -(nz - 1) * sz / 2)
    rng = np.random.default_rng(seed)
    x = origin[0] + sx * np.arange(nx, dtype=np.float32)
    y = origin[1] + sy * np.arange(ny, dtype=np.float32)
    z = origin[2] + sz * np.arange(nz, dtype=np.float32)
    X, Y = x[np.newaxis, :], y[:, np.newaxis]  # in-plane (y, x) grids, broadcast over z

    half_w, half_h = 0.45 * nx * sx, 0.38 * ny * sy  # body semi-axes (mm)
    body = (X / half_w) ** 2 + (Y / half_h) ** 2 <= 1.0
    inner = (X / (half_w - 12)) ** 2 + (Y / (half_h - 12)) ** 2 <= 1.0
    lung_r = (0.32 * half_w, 0.62 * half_h)
    lung_l = ((X - 0.45 * half_w) / lung_r[0]) ** 2 + ((Y + 0.05 * half_h) / lung_r[1]) ** 2 <= 1.0
    lung_rr = ((X + 0.45 * half_w) / lung_r[0]) ** 2 + ((Y + 0.05 * half_h) / lung_r[1]) ** 2 <= 1.0
    spine_c = (0.0, 0.72 * half_h)
    spine_r = min(0.12 * half_w, 0.2 * half_h)
    spine_d = np.sqrt((X - spine_c[0]) ** 2 + (Y - spine_c[1]) ** 2)

    plane = np.full((ny, nx), -1000.0, dtype=np.float32)
    plane[body] = -100.0  # subcutaneous fat
    plane[inner] = 40.0  # soft tissue / mediastinum
    lungs2d = (lung_l | lung_rr) & inner
    plane[lungs2d] = -850.0
    plane[spine_d <= spine_r] = 400.0
    plane[(spine_d <= spine_r) & (spine_d >= 0.75 * spine_r)] = 900.0

    # Lungs taper towards the apices/bases; everything else is a prism.
    zf = np.abs(z - z.mean()) / max(float(np.ptp(z)) / 2, 1e-6)
    vol = np.broadcast_to(plane, (nz, ny, nx)).copy()
    lung_mask = np.broadcast_to(lungs2d, (nz, ny, nx)).copy()
    taper = zf > 0.85
    if taper.any():
        vol[taper] = np.where(lungs2d, 40.0, plane)
        lung_mask[taper] = False

    texture = _smooth_noise(rng, (nz, ny, nx), (1.0, 1.5, 1.5))
    vol += np.where(lung_mask, 40.0 * texture, 0.0)
    # A few vessels in the lungs (bright tubes along z).
    for _ in range(6):
        side = rng.choice([-1, 1])
        cx = side * 0.45 * half_w + rng.uniform(-0.5, 0.5) * lung_r[0]
        cy = rng.uniform(-0.5, 0.5) * lung_r[1]
        vessel = (X - cx) ** 2 + (Y - cy) ** 2 <= rng.uniform(2.0, 4.0) ** 2
        vol[lung_mask & vessel[np.newaxis]] = 30.0
    vol += rng.normal(0.0, 10.0, size=vol.shape).astype(np.float32) * np.where(
        vol <= -990, 0.5, 1.0
    )  # quantum noise (less in air)

    label = np.zeros((nz, ny, nx), dtype=np.uint8)
    parsed: list[Lesion] = []
    for i, spec in enumerate(lesions):
        lesion = spec if isinstance(spec, Lesion) else Lesion(*spec)
        parsed.append(lesion)
        r = np.broadcast_to(np.asarray(lesion.radius_mm, dtype=np.float32), (3,))
        c = np.asarray(lesion.center_mm, dtype=np.float32)
        # Work on the lesion's bounding box only (cheap for many small lesions).
        lo = np.floor((c - r - np.asarray(origin)) / np.asarray(spacing)).astype(int)
        hi = np.ceil((c + r - np.asarray(origin)) / np.asarray(spacing)).astype(int) + 1
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, [nx, ny, nz])
        if np.any(hi <= lo):
            raise ValueError(f"lesion {i + 1} at {lesion.center_mm} mm lies outside the volume")
        zs, ys, xs = slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0])
        dx = ((x[xs] - c[0]) / r[0])[np.newaxis, np.newaxis, :]
        dy = ((y[ys] - c[1]) / r[1])[np.newaxis, :, np.newaxis]
        dz = ((z[zs] - c[2]) / r[2])[:, np.newaxis, np.newaxis]
        inside = dx**2 + dy**2 + dz**2 <= 1.0
        box_shape = inside.shape
        tex = _smooth_noise(rng, box_shape, (0.8, 1.2, 1.2)) if min(box_shape) > 1 else rng.standard_normal(box_shape)
        values = lesion.mean_hu + lesion.heterogeneity_hu * tex + rng.normal(0.0, 8.0, size=box_shape)
        vol[zs, ys, xs][inside] = values[inside]
        label[zs, ys, xs][inside] = i + 1

    hu = np.clip(np.round(vol), -1024, 3071).astype(np.int16)
    geometry = Geometry(
        size=(nx, ny, nz),
        origin=tuple(float(v) for v in origin),
        spacing=(float(sx), float(sy), float(sz)),
        direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
    )
    return SyntheticCT(
        image=geometry.to_sitk(hu),
        label=geometry.to_sitk(label),
        array=hu,
        label_array=label,
        geometry=geometry,
        lesions=tuple(parsed),
    )
