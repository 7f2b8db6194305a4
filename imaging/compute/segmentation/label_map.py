"""Label maps in NIfTI/NRRD (read with SimpleITK) onto the reference grid: as they are, re-indexed or resampled.

Pure Python (numpy, SimpleITK); no Django imports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import SimpleITK as sitk

from ..volume import Geometry, SeriesLayout
from .grid import (
    DIRECTION_TOLERANCE,
    GEOMETRY_TOLERANCE_MM,
    _reference_geometry,
    check_geometry,
    lattice_reindexing,
    reindex_array,
)
from .masks import GeometryMismatchError, MaskSet, SegmentationError, _unique_name


def _slicer_segment_names(image: sitk.Image) -> dict[int, str]:
    """Segment names stored by 3D Slicer in .seg.nrrd metadata (SegmentN_Name / _LabelValue)."""
    names: dict[int, str] = {}
    keys = set(image.GetMetaDataKeys())
    n = 0
    while f"Segment{n}_Name" in keys:
        value_key = f"Segment{n}_LabelValue"
        value = int(image.GetMetaData(value_key)) if value_key in keys else n + 1
        names[value] = image.GetMetaData(f"Segment{n}_Name")
        n += 1
    return names


def read_label_map(
    source: str | os.PathLike[str] | sitk.Image,
    reference: SeriesLayout | Geometry,
    *,
    resample: bool = False,
    label_names: Mapping[int, str] | None = None,
    tolerance_mm: float = GEOMETRY_TOLERANCE_MM,
    direction_tolerance: float = DIRECTION_TOLERANCE,
) -> MaskSet:
    """Read an integer label map (NIfTI, NRRD, ... via SimpleITK) onto the reference grid.

    Parameters
    ----------
    source : path or SimpleITK image
    reference : SeriesLayout, Volume or Geometry
        The grid the masks must be on.
    resample : bool
        If the grids differ: False (default) raises
        :class:`GeometryMismatchError`; True resamples with nearest neighbour
        (voxels outside the label map become background) and records it.
    label_names : mapping, optional
        Label value -> name. Defaults to Slicer segment names in the file's
        metadata, else ``"label <value>"``.
    tolerance_mm, direction_tolerance : float
        See :func:`check_geometry`.

    Returns
    -------
    MaskSet
        One mask per non-zero label value present.
    """
    if isinstance(source, sitk.Image):
        image = source
        label = "label map"
    else:
        label = os.fspath(source)
        try:
            image = sitk.ReadImage(label)
        except RuntimeError as exc:
            raise SegmentationError(f"{label}: SimpleITK cannot read this label map ({exc})") from exc
    if image.GetDimension() != 3:
        raise SegmentationError(f"{label}: expected a 3-D label map, got {image.GetDimension()}-D")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise SegmentationError(f"{label}: expected one label per voxel, got vector pixels")
    if image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        values = sitk.GetArrayViewFromImage(image)
        if not np.array_equal(values, np.round(values)):
            raise SegmentationError(f"{label}: label map has non-integer values (a probability map?)")
    names = dict(_slicer_segment_names(image))
    if label_names:
        names.update(label_names)

    ref = _reference_geometry(reference)
    notes: list[str] = []
    resampled = False
    try:
        check_geometry(
            Geometry.from_sitk(image),
            ref,
            tolerance_mm=tolerance_mm,
            direction_tolerance=direction_tolerance,
            what="label map",
        )
    except GeometryMismatchError as exc:
        reindexing = lattice_reindexing(Geometry.from_sitk(image), ref, tolerance_mm=tolerance_mm,
                                        direction_tolerance=direction_tolerance)
        if reindexing is not None:
            array = np.ascontiguousarray(reindex_array(sitk.GetArrayFromImage(image), *reindexing))
            image = ref.to_sitk(array)
            notes.append(f"re-indexed onto the reference grid without interpolation (same voxels, axis order "
                         f"{reindexing[0]}, reversed axes {[i for i, f in enumerate(reindexing[1]) if f]})")
        elif not resample:
            raise
        else:
            grid = ref.to_sitk(np.zeros(ref.shape_zyx, dtype=np.uint8))
            image = sitk.Resample(image, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, image.GetPixelID())
            resampled = True
            notes.append(f"resampled onto the reference grid (nearest neighbour) because {exc}")
    array = sitk.GetArrayFromImage(image)
    masks: dict[str, np.ndarray] = {}
    numbers: dict[str, int] = {}
    for value in np.unique(array):
        if value == 0:
            continue
        name = _unique_name(names.get(int(value), f"label {int(value)}"), masks, notes)
        masks[name] = array == value
        numbers[name] = int(value)
    if not masks:
        notes.append("the label map is empty (no non-zero voxels on the reference grid)")
    return MaskSet(masks=masks, source_format="LABELMAP", numbers=numbers, resampled=resampled, notes=notes)
