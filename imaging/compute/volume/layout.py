"""Validate and sort the instances of a series and compute its voxel grid, without reading pixels.

Pure Python (numpy, pydicom); no Django imports.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
from pydicom.dataset import Dataset

from ..dicom_headers import (
    IMAGE_SOP_CLASSES,
    MULTIFRAME_IMAGE_SOP_CLASSES,
    header_from_dataset,
    load_dataset,
)
from .errors import AssemblyWarning, MissingSliceError, VolumeAssemblyError
from .geometry import Geometry


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
        If an instance itself is unusable (see :mod:`imaging.compute.dicom_headers`).
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
