"""The voxel grid of a volume in patient (LPS) space; the conventions are in :mod:`imaging.compute.volume`.

Pure Python (numpy, SimpleITK); no Django imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk


@dataclass(frozen=True)
class Geometry:
    """Voxel grid in patient (LPS) space; see the module docstring for conventions."""

    size: tuple[int, int, int]  # (nx, ny, nz)
    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]  # (sx, sy, sz) mm
    direction: tuple[float, ...]  # 9 values, row-major, columns = axis unit vectors

    @property
    def direction_matrix(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        return (self.size[2], self.size[1], self.size[0])

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing))

    def index_to_physical(self, xyz_index: np.ndarray) -> np.ndarray:
        """Map continuous ``(x, y, z)`` indices (shape ``(..., 3)``) to LPS mm."""
        idx = np.asarray(xyz_index, dtype=float)
        return np.asarray(self.origin) + (idx * np.asarray(self.spacing)) @ self.direction_matrix.T

    def physical_to_index(self, points_mm: np.ndarray) -> np.ndarray:
        """Map LPS mm points (shape ``(..., 3)``) to continuous ``(x, y, z)`` indices."""
        pts = np.asarray(points_mm, dtype=float) - np.asarray(self.origin)
        return (pts @ np.linalg.inv(self.direction_matrix).T) / np.asarray(self.spacing)

    @classmethod
    def from_sitk(cls, image: sitk.Image) -> Geometry:
        if image.GetDimension() != 3:
            raise ValueError(f"expected a 3-D image, got {image.GetDimension()}-D")
        return cls(
            size=tuple(int(v) for v in image.GetSize()),
            origin=tuple(float(v) for v in image.GetOrigin()),
            spacing=tuple(float(v) for v in image.GetSpacing()),
            direction=tuple(float(v) for v in image.GetDirection()),
        )

    def apply_to(self, image: sitk.Image) -> sitk.Image:
        """Set origin/spacing/direction of ``image`` (whose size must match) and return it."""
        if tuple(image.GetSize()) != tuple(self.size):
            raise ValueError(f"image size {image.GetSize()} does not match geometry size {self.size}")
        image.SetOrigin(self.origin)
        image.SetSpacing(self.spacing)
        image.SetDirection(self.direction)
        return image

    def to_sitk(self, array: np.ndarray) -> sitk.Image:
        """Wrap a ``(z, y, x)`` array as a SimpleITK image with this geometry."""
        return self.apply_to(sitk.GetImageFromArray(np.ascontiguousarray(array)))

    def differences(self, other: Geometry) -> dict[str, tuple[Any, Any, float]]:
        """Per property (size/origin/spacing/direction): (self value, other value, max abs difference)."""
        out: dict[str, tuple[Any, Any, float]] = {}
        for name in ("size", "origin", "spacing", "direction"):
            a, b = getattr(self, name), getattr(other, name)
            out[name] = (a, b, float(np.max(np.abs(np.subtract(a, b)))))
        return out
