"""Small, controlled changes of a lesion mask, to measure how much a feature depends on the exact contour.

Segmentation is the largest source of variability in radiomics: two readers, or one reader twice, draw contours
that differ by about a voxel at the boundary. Re-extracting the features from masks changed by that much and
computing each feature's ICC across the changed masks (``analytics.compute.robustness``) tells which features can
be trusted (Zwanenburg A, Leger S, Agolli L et al. "Assessing robustness of radiomic features by image
perturbation", Sci Rep 2019;9:614, who use erosion/dilation ("volume adaptation") and contour randomisation).

Implemented here, all on the mask's own voxel grid and in 3-D:

* ``erode``: one voxel removed from the boundary, with the 6-connected (face-neighbour) structuring element: a
  lesion voxel is removed when one of its six face neighbours is outside the lesion. On anisotropic grids this
  removes one *slice* at the top and bottom of the lesion (e.g. 5 mm) and one pixel (e.g. 2.5 mm) in plane: one
  voxel, as a reader's contour on that grid would differ. The image border does not count as outside: a lesion
  cut by the edge of the scan is not eroded there.
* ``dilate``: one voxel added around the boundary, same structuring element (clipped to the image).
* ``random``: the supervoxel-free variant of Zwanenburg et al.'s contour randomisation. Every voxel of the inner
  boundary (lesion voxels with a face neighbour outside) is removed, and every voxel of the outer boundary
  (outside voxels with a face neighbour inside) is added, independently with probability ``probability``; the
  draws come from ``numpy.random.default_rng(seed)``, so a seed gives the same mask every time. Zwanenburg et al.
  instead over-segment the image into supervoxels and add or remove whole supervoxels by their overlap with the
  mask; flipping boundary voxels keeps the perturbation to one voxel, like erosion and dilation, and needs no
  image.

A perturbation that leaves no lesion voxel raises :class:`PerturbationError` (a small lesion's erosion): the
caller reports the lesion as left out, never silently skips it.

Pure numpy/scipy/SimpleITK; no Django imports.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

__all__ = ["PERTURBATIONS", "PerturbationError", "dilate_mask", "erode_mask", "perturb_mask", "random_contour"]

#: The perturbations :func:`perturb_mask` knows, besides ``"original"`` (the mask as it is).
PERTURBATIONS = ("erode", "dilate", "random")

# 6-connectivity in 3-D: the face neighbours.
_FACES = ndimage.generate_binary_structure(3, 1)


class PerturbationError(ValueError):
    """The perturbed mask cannot be used (e.g. the erosion of a small lesion left no voxel)."""


def _lesion(mask: sitk.Image, label: int) -> np.ndarray:
    if mask.GetDimension() != 3 or mask.GetNumberOfComponentsPerPixel() != 1:
        raise PerturbationError("mask perturbations need a 3-D single-channel label map")
    lesion = sitk.GetArrayViewFromImage(mask) == label
    if not lesion.any():
        raise PerturbationError(f"the mask has no voxel with label {label}")
    return lesion


def _image(array: np.ndarray, like: sitk.Image, label: int, what: str) -> sitk.Image:
    if not array.any():
        raise PerturbationError(f"{what} leaves no lesion voxel (the lesion is too small for it)")
    out = sitk.GetImageFromArray((array * label).astype(np.uint8))
    out.CopyInformation(like)
    return out


def erode_mask(mask: sitk.Image, *, voxels: int = 1, label: int = 1) -> sitk.Image:
    """The lesion (voxels equal to ``label``) eroded by ``voxels`` voxels, 6-connected, as a uint8 label map.

    Raises
    ------
    PerturbationError
        The mask is empty, or the erosion leaves no voxel.
    """
    lesion = _lesion(mask, label)
    eroded = ndimage.binary_erosion(lesion, structure=_FACES, iterations=voxels, border_value=1)
    return _image(eroded, mask, label, f"erosion by {voxels} voxel(s)")


def dilate_mask(mask: sitk.Image, *, voxels: int = 1, label: int = 1) -> sitk.Image:
    """The lesion dilated by ``voxels`` voxels, 6-connected, clipped to the image, as a uint8 label map."""
    lesion = _lesion(mask, label)
    dilated = ndimage.binary_dilation(lesion, structure=_FACES, iterations=voxels)
    return _image(dilated, mask, label, f"dilation by {voxels} voxel(s)")


def random_contour(mask: sitk.Image, *, probability: float = 0.25, seed: int | Sequence[int] = 0,
                   label: int = 1) -> sitk.Image:
    """The lesion with each inner-boundary voxel removed and each outer-boundary voxel added with ``probability``.

    Parameters
    ----------
    probability : float
        Chance that one boundary voxel changes side, in [0, 1].
    seed : int or sequence of int
        Seed of ``numpy.random.default_rng`` (a sequence such as ``(seed, lesion_id)`` gives every lesion its own
        reproducible draw whatever the order lesions are processed in).

    Raises
    ------
    PerturbationError
        The mask is empty, or every voxel was removed.
    """
    if not 0 <= probability <= 1:
        raise ValueError(f"probability must be in [0, 1], got {probability!r}")
    lesion = _lesion(mask, label)
    inner = lesion & ~ndimage.binary_erosion(lesion, structure=_FACES, border_value=1)
    outer = ndimage.binary_dilation(lesion, structure=_FACES) & ~lesion
    flip = np.random.default_rng(seed).random(lesion.shape) < probability
    changed = (lesion & ~(inner & flip)) | (outer & flip)
    return _image(changed, mask, label, f"random contour change (p = {probability:g})")


def perturb_mask(mask: sitk.Image, perturbation: str, *, seed: int | Sequence[int] = 0, probability: float = 0.25,
                 label: int = 1) -> sitk.Image:
    """One named perturbation of the mask: ``"original"`` (the mask itself), ``"erode"``, ``"dilate"`` (one voxel)
    or ``"random"`` (:func:`random_contour` with ``probability`` and ``seed``)."""
    if perturbation == "original":
        _lesion(mask, label)
        return mask
    if perturbation == "erode":
        return erode_mask(mask, label=label)
    if perturbation == "dilate":
        return dilate_mask(mask, label=label)
    if perturbation == "random":
        return random_contour(mask, probability=probability, seed=seed, label=label)
    raise ValueError(f"Unknown mask perturbation {perturbation!r}; choose from original, {', '.join(PERTURBATIONS)}.")
