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

Pure Python (numpy, pydicom, SimpleITK); no Django imports.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset

from .dicom_headers import (
    IMAGE_SOP_CLASSES,
    MULTIFRAME_IMAGE_SOP_CLASSES,
    header_from_dataset,
    load_dataset,
)

__all__ = [
    "AssemblyWarning",
    "Geometry",
    "MissingSliceError",
    "SUVError",
    "SeriesLayout",
    "Volume",
    "VolumeAssemblyError",
    "assemble_volume",
    "read_series_layout",
    "suv_bw_factor",
]


@dataclass(frozen=True)
class KnownHeader:
    """A single-frame instance whose header was already read (``read_dicom_header``), and where its file is.

    Lets a receiver that checked every header on arrival lay out a series of thousands of slices without
    reading each file again; the pixels are read from ``path`` when the volume is assembled.
    """

    header: dict[str, Any]
    path: str


SeriesSource = str | os.PathLike[str] | bytes | BinaryIO | Dataset | KnownHeader

#: Two direction cosines closer than this are "the same orientation".
ORIENTATION_TOLERANCE = 1e-4
#: Pixel spacings (mm) closer than this are "the same".
PIXEL_SPACING_TOLERANCE_MM = 1e-4
#: A gap larger than this factor times the median slice step is a missing slice.
MISSING_SLICE_FACTOR = 1.5


class VolumeAssemblyError(ValueError):
    """A series cannot be assembled into one correct volume.

    Attributes
    ----------
    code : str
        ``empty``, ``not_image``, ``mixed_series``, ``inconsistent_orientation``,
        ``invalid_orientation``, ``inconsistent_size``, ``inconsistent_spacing``,
        ``duplicate_position``, ``sheared``, ``missing_slice``, ``pixel_decode``,
        ``unsupported``.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class MissingSliceError(VolumeAssemblyError):
    """The series has a gap larger than ``MISSING_SLICE_FACTOR`` × the median slice step."""

    def __init__(self, message: str, gaps: list[tuple[float, float, int]]) -> None:
        #: (position before, position after, estimated number of missing slices)
        self.gaps = gaps
        super().__init__("missing_slice", message)


class SUVError(ValueError):
    """A PET series lacks what SUVbw needs (units, decay correction, dose, weight, times)."""


@dataclass(frozen=True)
class AssemblyWarning:
    """A non-fatal issue found while assembling a volume."""

    code: str
    message: str


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


@dataclass
class _Slice:
    """One 2-D plane of the series: a single-frame instance or one frame of a multi-frame one."""

    dataset: Dataset | None  # None: known header (KnownHeader), pixels read from source_path
    frame_index: int | None  # 0-based frame of a multi-frame instance
    sop_instance_uid: str
    position: np.ndarray
    orientation: np.ndarray  # 6 cosines
    pixel_spacing: tuple[float, float]  # (row step, column step) as in DICOM
    rows: int
    columns: int
    slope: float
    intercept: float
    acquisition_datetime: dt.datetime | None = None
    along_normal: float = 0.0
    source_path: str | None = None  # re-read pixels from here (keeps headers light)


@dataclass
class SeriesLayout:
    """Sorted slices and geometry of a series, before the pixels are read.

    Useful on its own as the reference grid for segmentations (no pixel I/O).
    """

    geometry: Geometry
    sop_instance_uids: tuple[str, ...]  # per z index
    frame_numbers: tuple[int, ...] | None  # per z index, 1-based, multi-frame only
    slice_positions_mm: tuple[float, ...]  # along the slice normal, per z index
    series_instance_uid: str
    study_instance_uid: str
    frame_of_reference_uid: str | None
    modality: str
    sop_class_uid: str
    header: dict[str, Any]  # read_dicom_header()-style dict of the first slice
    warnings: list[AssemblyWarning] = field(default_factory=list)
    _slices: list[_Slice] = field(default_factory=list, repr=False)

    @property
    def datasets(self) -> list[Dataset]:
        """The source datasets in z order (one per slice; multi-frame: the one instance)."""
        seen: dict[int, Dataset] = {}
        for s in self._slices:
            ds = s.dataset if s.dataset is not None else load_dataset(s.source_path)
            seen.setdefault(id(s.dataset) if s.dataset is not None else id(s), ds)
        return list(seen.values())


@dataclass
class Volume(SeriesLayout):
    """A 3-D image assembled from a series.

    Attributes
    ----------
    array : numpy.ndarray
        ``(z, y, x)`` voxel values after rescale (and SUVbw for PET). Integer
        (int16 when the range fits, else int32) when every slope is 1 and every
        intercept integral, else float32.
    units : str
        ``"HU"`` for CT, ``"SUVbw"`` (g/mL) for converted PET, else the
        RescaleType / PET Units or ``""`` when unknown (MR).
    suv_factor : float or None
        For PET converted to SUVbw: the factor applied to Bq/mL.
    """

    array: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)), repr=False)
    units: str = ""
    suv_factor: float | None = None

    def to_sitk(self) -> sitk.Image:
        """The volume as a SimpleITK image (new object on each call)."""
        return self.geometry.to_sitk(self.array)

    @property
    def sitk_image(self) -> sitk.Image:
        return self.to_sitk()


# --------------------------------------------------------------------------- slices


def _first(seq: Any) -> Dataset | None:
    return seq[0] if seq else None


def _group_item(ds: Dataset, frame: Dataset | None, name: str) -> Dataset | None:
    """Functional-group macro ``name``: per-frame item if present, else the shared one."""
    if frame is not None and name in frame:
        return _first(frame[name].value)
    shared = _first(ds.get("SharedFunctionalGroupsSequence"))
    if shared is not None and name in shared:
        return _first(shared[name].value)
    return None


def _slices_of(ds: Dataset, header: dict[str, Any], label: str) -> list[_Slice]:
    if header["sop_class_uid"] not in MULTIFRAME_IMAGE_SOP_CLASSES:
        return [
            _Slice(
                dataset=ds,
                frame_index=None,
                sop_instance_uid=header["sop_instance_uid"],
                position=np.asarray(header["image_position_patient"], dtype=float),
                orientation=np.asarray(header["image_orientation_patient"], dtype=float),
                pixel_spacing=tuple(header["pixel_spacing_mm"]),
                rows=header["rows"],
                columns=header["columns"],
                slope=header["rescale_slope"],
                intercept=header["rescale_intercept"],
                acquisition_datetime=header["acquisition_datetime"],
            )
        ]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    if not per_frame or len(per_frame) != n_frames:
        raise VolumeAssemblyError(
            "unsupported",
            f"{label}: multi-frame instance has {n_frames} frames but "
            f"{len(per_frame) if per_frame else 0} per-frame functional group items; "
            "cannot place its frames in space",
        )
    out = []
    for i, frame in enumerate(per_frame):
        pos = _group_item(ds, frame, "PlanePositionSequence")
        ori = _group_item(ds, frame, "PlaneOrientationSequence")
        meas = _group_item(ds, frame, "PixelMeasuresSequence")
        trans = _group_item(ds, frame, "PixelValueTransformationSequence")
        if pos is None or ori is None or meas is None or "PixelSpacing" not in meas:
            raise VolumeAssemblyError(
                "unsupported",
                f"{label}: frame {i + 1} lacks Plane Position, Plane Orientation or Pixel "
                "Measures functional groups; cannot place it in space",
            )
        out.append(
            _Slice(
                dataset=ds,
                frame_index=i,
                sop_instance_uid=header["sop_instance_uid"],
                position=np.asarray([float(v) for v in pos.ImagePositionPatient]),
                orientation=np.asarray([float(v) for v in ori.ImageOrientationPatient]),
                pixel_spacing=tuple(float(v) for v in meas.PixelSpacing),
                rows=header["rows"],
                columns=header["columns"],
                slope=float(trans.get("RescaleSlope", 1.0)) if trans is not None else 1.0,
                intercept=float(trans.get("RescaleIntercept", 0.0)) if trans is not None else 0.0,
                acquisition_datetime=header["acquisition_datetime"],
            )
        )
    return out


def _describe_counts(values: list[Any]) -> str:
    counts = Counter(values)
    return "; ".join(f"{v} ({n} slice{'s' if n != 1 else ''})" for v, n in counts.most_common())


def read_series_layout(
    sources: Sequence[SeriesSource],
    *,
    on_missing_slice: str = "raise",
) -> SeriesLayout:
    """Validate and sort a series, and compute its geometry, without reading pixels.

    Parameters
    ----------
    sources : sequence of paths, bytes, file objects or pydicom Datasets
        The instances of one series: single-frame CT/MR/PET images, or exactly
        one Enhanced CT/MR multi-frame instance.
    on_missing_slice : {"raise", "warn"}
        What to do when a gap between consecutive slices exceeds
        ``MISSING_SLICE_FACTOR`` (1.5) × the median slice step.

    Returns
    -------
    SeriesLayout

    Raises
    ------
    DicomHeaderError
        If an instance itself is unusable (see :mod:`.dicom_headers`).
    VolumeAssemblyError, MissingSliceError
        If the instances do not form one regular volume.
    """
    if on_missing_slice not in ("raise", "warn"):
        raise ValueError("on_missing_slice must be 'raise' or 'warn'")
    if len(sources) == 0:
        raise VolumeAssemblyError("empty", "no instances given; a series needs at least one image")

    slices: list[_Slice] = []
    headers: list[dict[str, Any]] = []
    for src in sources:
        if isinstance(src, KnownHeader):
            ds, header, label = None, src.header, src.path
        else:
            label = os.fspath(src) if isinstance(src, (str, os.PathLike)) else None
            # Paths: defer the pixel data (read slice by slice later). In-memory
            # sources: read everything now, there is no file to come back to.
            ds = load_dataset(src, with_pixels=not isinstance(src, (str, os.PathLike)))
            header = header_from_dataset(ds, source=label)
        if header["sop_class_uid"] not in IMAGE_SOP_CLASSES:
            raise VolumeAssemblyError(
                "not_image",
                f"{label or header['sop_instance_uid']}: {header['sop_class_name']} is not an "
                "image; only CT/MR/PET images can be assembled into a volume",
            )
        headers.append(header)
        for s in _slices_of(ds, header, label or header["sop_instance_uid"]):
            s.source_path = label
            slices.append(s)

    series_uids = [h["series_instance_uid"] for h in headers]
    if len(set(series_uids)) > 1:
        raise VolumeAssemblyError(
            "mixed_series",
            f"the instances belong to {len(set(series_uids))} different series: "
            f"{_describe_counts(series_uids)}; assemble each series separately",
        )
    n_multiframe = sum(h["is_multiframe"] for h in headers)
    if n_multiframe and len(headers) > 1:
        raise VolumeAssemblyError(
            "unsupported",
            f"the series has {len(headers)} instances of which {n_multiframe} are multi-frame; "
            "only a single multi-frame instance (or only single-frame instances) is supported",
        )

    # ---- consistency of in-plane geometry
    orientations = [tuple(np.round(s.orientation, 4)) for s in slices]
    ref_ori = slices[0].orientation
    if any(np.max(np.abs(s.orientation - ref_ori)) > ORIENTATION_TOLERANCE for s in slices):
        raise VolumeAssemblyError(
            "inconsistent_orientation",
            "ImageOrientationPatient differs between instances: "
            f"{_describe_counts(orientations)}; the series mixes planes (e.g. a localizer or "
            "a reformat) - remove the odd instances",
        )
    sizes = [(s.rows, s.columns) for s in slices]
    if len(set(sizes)) > 1:
        raise VolumeAssemblyError(
            "inconsistent_size",
            f"Rows x Columns differ between instances: {_describe_counts(sizes)}",
        )
    spacings = [s.pixel_spacing for s in slices]
    if any(
        max(abs(a - b) for a, b in zip(sp, spacings[0], strict=True)) > PIXEL_SPACING_TOLERANCE_MM
        for sp in spacings
    ):
        raise VolumeAssemblyError(
            "inconsistent_spacing",
            f"PixelSpacing differs between instances: {_describe_counts(spacings)}",
        )

    row_dir = ref_ori[:3] / np.linalg.norm(ref_ori[:3])
    col_dir = ref_ori[3:] / np.linalg.norm(ref_ori[3:])
    if abs(np.linalg.norm(ref_ori[:3]) - 1) > 1e-3 or abs(np.linalg.norm(ref_ori[3:]) - 1) > 1e-3 or abs(row_dir @ col_dir) > 1e-3:
        raise VolumeAssemblyError(
            "invalid_orientation",
            f"ImageOrientationPatient {tuple(ref_ori)} is not two orthogonal unit vectors",
        )
    normal = np.cross(row_dir, col_dir)
    for s in slices:
        s.along_normal = float(s.position @ normal)
    slices.sort(key=lambda s: s.along_normal)
    z = np.array([s.along_normal for s in slices])

    warnings_: list[AssemblyWarning] = []
    diffs = np.diff(z)
    if len(slices) == 1:
        thickness = headers[0]["slice_thickness_mm"]
        step = float(thickness) if thickness else 1.0
        warnings_.append(
            AssemblyWarning(
                "single_slice",
                f"the series has a single slice; slice spacing taken as {step:g} mm "
                f"({'SliceThickness' if thickness else 'default, no SliceThickness'})",
            )
        )
    else:
        dup = np.flatnonzero(diffs < 1e-3)
        if dup.size:
            k = int(dup[0])
            raise VolumeAssemblyError(
                "duplicate_position",
                f"{dup.size} pair(s) of slices share a position along the slice normal (e.g. "
                f"{z[k]:.3f} mm: {slices[k].sop_instance_uid} and "
                f"{slices[k + 1].sop_instance_uid}); the series probably holds several "
                "acquisitions (phases, echoes, repeats) - split it before assembly",
            )
        step = float(np.median(diffs))
        # In-plane offset between slices means a gantry tilt / sheared grid.
        offsets = np.array([s.position - slices[0].position for s in slices])
        in_plane = offsets - np.outer(offsets @ normal, normal)
        shear = float(np.max(np.linalg.norm(in_plane, axis=1)))
        if shear > max(1e-2, 1e-3 * step * len(slices)):
            raise VolumeAssemblyError(
                "sheared",
                f"slice origins drift {shear:.3f} mm in-plane across the series (gantry tilt or "
                "sheared acquisition); resample the series to an orthogonal grid first",
            )
        gap_idx = np.flatnonzero(diffs > MISSING_SLICE_FACTOR * step)
        if gap_idx.size:
            gaps = [
                (float(z[k]), float(z[k + 1]), max(1, round(diffs[k] / step) - 1)) for k in gap_idx
            ]
            listing = "; ".join(
                f"between {a:.2f} mm and {b:.2f} mm (gap {b - a:.2f} mm, ~{n} slice(s) missing)"
                for a, b, n in gaps
            )
            message = (
                f"missing slice(s): median slice step is {step:.3f} mm but {listing}; "
                "the series is incomplete - re-send it from the source system"
            )
            if on_missing_slice == "raise":
                raise MissingSliceError(message, gaps)
            warnings_.append(
                AssemblyWarning(
                    "missing_slice",
                    message + " (assembled anyway: z spacing is the median, so physical "
                    "distances across the gap are wrong)",
                )
            )
        regular = diffs[diffs <= MISSING_SLICE_FACTOR * step]
        tol = max(0.01, 0.01 * step)
        deviation = float(np.max(np.abs(regular - step))) if regular.size else 0.0
        if deviation > tol:
            warnings_.append(
                AssemblyWarning(
                    "non_uniform_spacing",
                    f"slice steps vary from {regular.min():.4f} to {regular.max():.4f} mm "
                    f"(median {step:.4f} mm, tolerance {tol:.4f} mm); the volume uses the median, "
                    f"so positions along z are off by up to "
                    f"{float(np.max(np.abs(z - z[0] - step * np.arange(len(z))))):.3f} mm",
                )
            )

    first = slices[0]
    direction = np.column_stack([row_dir, col_dir, normal])
    geometry = Geometry(
        size=(first.columns, first.rows, len(slices)),
        origin=tuple(float(v) for v in first.position),
        spacing=(float(first.pixel_spacing[1]), float(first.pixel_spacing[0]), step),
        direction=tuple(float(v) for v in direction.ravel()),
    )
    h0 = headers[0]
    return SeriesLayout(
        geometry=geometry,
        sop_instance_uids=tuple(s.sop_instance_uid for s in slices),
        frame_numbers=(
            tuple(s.frame_index + 1 for s in slices) if first.frame_index is not None else None
        ),
        slice_positions_mm=tuple(float(v) for v in z),
        series_instance_uid=h0["series_instance_uid"],
        study_instance_uid=h0["study_instance_uid"],
        frame_of_reference_uid=h0["frame_of_reference_uid"],
        modality=h0["modality"],
        sop_class_uid=h0["sop_class_uid"],
        header=h0,
        warnings=warnings_,
        _slices=slices,
    )


# --------------------------------------------------------------------------- PET


def suv_bw_factor(
    header: dict[str, Any],
    *,
    acquisition_datetimes: Sequence[dt.datetime | None] = (),
) -> tuple[float, list[AssemblyWarning]]:
    """Factor converting PET activity concentration (Bq/mL) to SUVbw (g/mL).

    .. math::

        \\mathrm{SUV_{bw}} = \\frac{C(t)\\,[\\mathrm{Bq/mL}] \\times W\\,[\\mathrm{g}]}
                                 {D_{inj}\\,[\\mathrm{Bq}] \\times 2^{-\\Delta t / T_{1/2}}}

    where :math:`C` is the rescaled pixel value, :math:`W` the patient weight
    (``PatientWeight`` kg × 1000), :math:`D_{inj}` ``RadionuclideTotalDose``
    and :math:`T_{1/2}` ``RadionuclideHalfLife`` (s). The injected dose is
    decayed to the time the image values are decay-corrected to, following
    the QIBA vendor-neutral SUV pseudo-code:

    * ``DecayCorrection == "START"``: images are corrected to the scan start,
      :math:`\\Delta t` = scan start − injection time. The scan start is
      SeriesDate/SeriesTime, unless the series time is later than the earliest
      acquisition time (a post-processed series re-stamped after the scan), in
      which case the earliest AcquisitionDate/Time is used.
    * ``DecayCorrection == "ADMIN"``: images are corrected to the injection
      time, :math:`\\Delta t = 0`.
    * ``"NONE"`` (each frame would need its own correction) is not supported.

    The injection time is RadiopharmaceuticalStartDateTime, else
    SeriesDate + RadiopharmaceuticalStartTime. ``Units`` must be ``BQML``
    (``GML`` means the values already are SUVbw: factor 1). Tissue density is
    taken as 1 g/mL, as usual for SUV.

    Parameters
    ----------
    header : dict
        A :func:`~imaging.compute.dicom_headers.read_dicom_header` dict of a PT
        instance (uses ``header["pet"]`` and ``header["patient_weight_kg"]``).
    acquisition_datetimes : sequence of datetime
        Acquisition date-times of all slices (for the re-stamped-series rule).

    Returns
    -------
    factor : float
        Multiply Bq/mL by this to get SUVbw.
    warnings : list of AssemblyWarning

    Raises
    ------
    SUVError
        With a message naming the missing or unusable attribute.
    """
    pet = header.get("pet")
    if not pet:
        raise SUVError(f"modality is {header.get('modality')!r}, not PT: SUV applies to PET only")
    warnings_: list[AssemblyWarning] = []
    units = (pet.get("units") or "").upper()
    if units == "GML":
        return 1.0, warnings_
    if units != "BQML":
        raise SUVError(
            f"PET Units (0054,1001) is {pet.get('units')!r}; SUVbw needs BQML (activity "
            "concentration). CNTS and other vendor units need vendor-specific factors that "
            "are not supported - export the series in Bq/mL"
        )
    corrected = set(pet.get("corrected_image") or ())
    if corrected:
        missing = {"ATTN", "DECY"} - corrected
        if missing:
            raise SUVError(
                f"CorrectedImage (0028,0051) lacks {', '.join(sorted(missing))}: the image is not "
                "attenuation- and decay-corrected, SUV would be meaningless"
            )
    else:
        warnings_.append(
            AssemblyWarning(
                "pet_corrected_image_absent",
                "CorrectedImage (0028,0051) is absent; assuming attenuation and decay correction",
            )
        )
    weight = header.get("patient_weight_kg")
    if not weight or weight <= 0:
        raise SUVError(f"PatientWeight (0010,1030) is {weight!r}; SUVbw needs the weight in kg")
    dose = pet.get("radionuclide_total_dose_bq")
    if not dose or dose <= 0:
        raise SUVError(
            f"RadionuclideTotalDose (0018,1074) is {dose!r}; SUVbw needs the injected activity in Bq"
        )
    decay = (pet.get("decay_correction") or "").upper()
    if decay == "ADMIN":
        decayed_dose = dose
    elif decay == "START":
        half_life = pet.get("radionuclide_half_life_s")
        if not half_life or half_life <= 0:
            raise SUVError(f"RadionuclideHalfLife (0018,1075) is {half_life!r}; needed for decay")
        injection = pet.get("radiopharmaceutical_start_datetime")
        if injection is None and pet.get("radiopharmaceutical_start_time") and pet.get("series_date"):
            injection = dt.datetime.combine(pet["series_date"], pet["radiopharmaceutical_start_time"])
        if injection is None:
            raise SUVError(
                "injection time unknown: neither RadiopharmaceuticalStartDateTime (0018,1078) nor "
                "SeriesDate + RadiopharmaceuticalStartTime (0018,1072) is present"
            )
        injection = injection.replace(tzinfo=None)
        scan = pet.get("series_datetime")
        acq = [t for t in acquisition_datetimes if t is not None]
        if scan is None and not acq:
            raise SUVError("scan start unknown: SeriesDate/SeriesTime and AcquisitionDate/Time absent")
        if acq and (scan is None or scan > min(acq)):
            if scan is not None:
                warnings_.append(
                    AssemblyWarning(
                        "pet_series_time_after_acquisition",
                        f"SeriesTime {scan.time()} is after the earliest AcquisitionTime "
                        f"{min(acq).time()}; decay referenced to the earliest acquisition (QIBA)",
                    )
                )
            scan = min(acq)
        delta = (scan - injection).total_seconds()
        if delta < 0:
            raise SUVError(
                f"the scan start ({scan}) is before the injection ({injection}); check "
                "RadiopharmaceuticalStartTime/DateTime and SeriesDate/Time (a scan past "
                "midnight needs RadiopharmaceuticalStartDateTime)"
            )
        decayed_dose = dose * 2.0 ** (-delta / half_life)
    else:
        raise SUVError(
            f"DecayCorrection (0054,1102) is {pet.get('decay_correction')!r}; only START and "
            "ADMIN are supported for SUVbw"
        )
    return weight * 1000.0 / decayed_dose, warnings_


# --------------------------------------------------------------------------- volume


def assemble_volume(
    sources: Sequence[SeriesSource],
    *,
    convert_pet_to_suv: bool = True,
    on_missing_slice: str = "raise",
) -> Volume:
    """Read a series into a rescaled ``(z, y, x)`` volume with its geometry.

    Parameters
    ----------
    sources : sequence of paths, bytes, file objects or pydicom Datasets
        One series: single-frame CT/MR/PET instances in any order, or one
        Enhanced CT/MR multi-frame instance.
    convert_pet_to_suv : bool
        For modality PT, convert Bq/mL to SUVbw (:func:`suv_bw_factor`).
    on_missing_slice : {"raise", "warn"}
        See :func:`read_series_layout`.

    Returns
    -------
    Volume

    Raises
    ------
    DicomHeaderError, VolumeAssemblyError, MissingSliceError, SUVError
    """
    layout = read_series_layout(sources, on_missing_slice=on_missing_slice)
    slices = layout._slices
    slopes = np.array([s.slope for s in slices])
    intercepts = np.array([s.intercept for s in slices])
    integral = bool(np.all(slopes == 1.0) and np.all(intercepts == np.round(intercepts)))

    nx, ny, nz = layout.geometry.size
    raw = np.empty((nz, ny, nx), dtype=np.float64 if not integral else np.int32)
    frames_cache: dict[int, np.ndarray] = {}
    for k, s in enumerate(slices):
        try:
            key = id(s.dataset) if s.dataset is not None else id(s)
            if key not in frames_cache:
                # Read path sources afresh so the layout's header-only datasets
                # do not keep every slice's pixel bytes alive.
                source = pydicom.dcmread(s.source_path) if s.source_path else s.dataset
                pixel_array = source.pixel_array
                if s.frame_index is not None and pixel_array.ndim == 2:
                    pixel_array = pixel_array[np.newaxis]  # a one-frame multi-frame image
                frames_cache = {key: pixel_array}
            pixels = frames_cache[key] if s.frame_index is None else frames_cache[key][s.frame_index]
        except Exception as exc:  # noqa: BLE001 - decoders raise many types
            ts = getattr(getattr(s.dataset, "file_meta", None), "TransferSyntaxUID", None)
            raise VolumeAssemblyError(
                "pixel_decode",
                f"cannot decode the pixel data of {s.sop_instance_uid} (transfer syntax "
                f"{getattr(ts, 'name', ts)}): {type(exc).__name__}: {exc}",
            ) from exc
        if pixels.shape != (ny, nx):
            raise VolumeAssemblyError(
                "inconsistent_size",
                f"{s.sop_instance_uid}: pixel array shape {pixels.shape} does not match "
                f"Rows x Columns {(ny, nx)} (multi-sample/colour images are not supported)",
            )
        if integral:
            raw[k] = pixels.astype(np.int32) * int(s.slope) + int(s.intercept)
        else:
            raw[k] = pixels.astype(np.float64) * s.slope + s.intercept

    header = layout.header
    units = header.get("rescale_type") or ""
    if layout.modality == "CT":
        units = "HU"
    suv_factor = None
    warnings_ = list(layout.warnings)
    if layout.modality == "PT":
        units = (header["pet"] or {}).get("units") or units
        if convert_pet_to_suv:
            suv_factor, suv_warnings = suv_bw_factor(
                header, acquisition_datetimes=[s.acquisition_datetime for s in slices]
            )
            warnings_.extend(suv_warnings)
            raw = raw.astype(np.float64) * suv_factor
            units = "SUVbw"
            integral = False
    if integral:
        lo, hi = int(raw.min()), int(raw.max())
        array = raw.astype(np.int16) if -32768 <= lo and hi <= 32767 else raw
    else:
        array = raw.astype(np.float32)

    return Volume(
        geometry=layout.geometry,
        sop_instance_uids=layout.sop_instance_uids,
        frame_numbers=layout.frame_numbers,
        slice_positions_mm=layout.slice_positions_mm,
        series_instance_uid=layout.series_instance_uid,
        study_instance_uid=layout.study_instance_uid,
        frame_of_reference_uid=layout.frame_of_reference_uid,
        modality=layout.modality,
        sop_class_uid=layout.sop_class_uid,
        header=header,
        warnings=warnings_,
        _slices=slices,
        array=array,
        units=units,
        suv_factor=suv_factor,
    )
