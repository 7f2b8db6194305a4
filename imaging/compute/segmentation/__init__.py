"""Read lesion masks onto the voxel grid of their reference image series.

Three sources are supported, all returning a :class:`MaskSet` whose masks are
boolean ``(z, y, x)`` arrays on the reference grid (the
:class:`~imaging.compute.volume.SeriesLayout` / ``Volume`` of the image
series the masks were drawn on):

* DICOM SEG (:func:`read_seg_masks`, read with highdicom): frames are mapped to
  reference slices by SOP Instance UID (highdicom's frame references), and by
  plane position when the SEG carries no usable references.
* DICOM RTSTRUCT (:func:`read_rtstruct_masks`): each ROI's closed planar
  contours are rasterised slice by slice. A voxel belongs to the ROI when its
  centre lies inside the contours by the *even-odd* rule over all contours of
  that ROI on that slice, so a contour drawn inside another is a hole.
* Label maps in NIfTI/NRRD (:func:`read_label_map`, read with SimpleITK):
  geometry must match the reference within tolerance, else
  :class:`GeometryMismatchError`, unless ``resample=True`` (nearest neighbour,
  recorded in ``MaskSet.resampled`` and ``MaskSet.notes``).

Also here, because writers and readers must agree on them:
:func:`mask_to_polygons` (exact pixel-boundary contours of a 2-D mask) and
:func:`rasterize_polygons` (even-odd polygon fill at pixel centres).

The package: :mod:`.seg`, :mod:`.rtstruct` and :mod:`.label_map` read the three sources; :mod:`.masks`
holds the result, its errors and what the DICOM readers share; :mod:`.grid` compares voxel grids;
:mod:`.polygons` converts between masks and contours.

Pure Python (numpy, pydicom, highdicom, SimpleITK); no Django imports.
"""

from .grid import DIRECTION_TOLERANCE, GEOMETRY_TOLERANCE_MM, OFF_PLANE_TOLERANCE, check_geometry
from .label_map import read_label_map
from .masks import DicomSource, GeometryMismatchError, MaskSet, SegmentationError, UnknownReferenceError
from .polygons import mask_to_polygons, rasterize_polygons
from .rtstruct import read_rtstruct_masks
from .seg import read_seg_masks

__all__ = [
    "GeometryMismatchError",
    "MaskSet",
    "SegmentationError",
    "UnknownReferenceError",
    "check_geometry",
    "mask_to_polygons",
    "rasterize_polygons",
    "read_label_map",
    "read_rtstruct_masks",
    "read_seg_masks",
    "DicomSource",
    "GEOMETRY_TOLERANCE_MM",
    "DIRECTION_TOLERANCE",
    "OFF_PLANE_TOLERANCE",
]
