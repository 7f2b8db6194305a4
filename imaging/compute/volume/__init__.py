"""Assemble a DICOM image series into a 3-D volume with its patient-space geometry.

Conventions (the same as SimpleITK / ITK, and DICOM's patient coordinate
system LPS):

* ``array`` is indexed ``[z, y, x]`` = ``[slice, row, column]``.
* ``Geometry.spacing`` is ``(x, y, z)`` in mm: column step, row step, slice step.
  (DICOM ``PixelSpacing`` is ``(row step, column step)``, i.e. ``(y, x)``.)
* ``Geometry.direction`` is the 3x3 matrix, flattened row-major, whose
  *columns* are the unit vectors along increasing x, y and z index:
  ``x = ImageOrientationPatient[:3]``, ``y = ImageOrientationPatient[3:]``,
  ``z = x × y`` (the slice normal). Slices are always sorted by increasing
  position along that normal, so the direction matrix is right-handed.
* ``Geometry.origin`` is the centre of voxel ``[0, 0, 0]`` in mm.

Pixel values are rescaled with each instance's RescaleSlope/Intercept (CT:
Hounsfield units). PET in Bq/mL is converted to SUVbw by default (see
:func:`suv_bw_factor`).

Non-fatal issues (slightly irregular slice spacing, a single-slice series)
are returned in ``warnings``; anything that would make the geometry wrong
raises :class:`VolumeAssemblyError` (or its subclass
:class:`MissingSliceError`).

The package: :mod:`.geometry` (the voxel grid in patient space), :mod:`.layout` (validate and sort a series
and compute its grid, without pixels), :mod:`.suv` (PET Bq/mL -> SUVbw), :mod:`.assemble` (read the pixels into
a volume), :mod:`.errors`.

Pure Python (numpy, pydicom, SimpleITK); no Django imports.
"""

from .assemble import Volume, assemble_volume
from .errors import AssemblyWarning, MissingSliceError, VolumeAssemblyError
from .geometry import Geometry
from .layout import (
    MISSING_SLICE_FACTOR,
    ORIENTATION_TOLERANCE,
    PIXEL_SPACING_TOLERANCE_MM,
    KnownHeader,
    SeriesLayout,
    SeriesSource,
    read_series_layout,
)
from .suv import SUVError, suv_bw_factor

__all__ = [
    "AssemblyWarning",
    "Geometry",
    "KnownHeader",
    "MissingSliceError",
    "SUVError",
    "SeriesLayout",
    "SeriesSource",
    "Volume",
    "VolumeAssemblyError",
    "assemble_volume",
    "read_series_layout",
    "suv_bw_factor",
    "MISSING_SLICE_FACTOR",
    "ORIENTATION_TOLERANCE",
    "PIXEL_SPACING_TOLERANCE_MM",
]
