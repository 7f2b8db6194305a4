"""DICOM SEG (read with highdicom) onto the reference grid: frames by SOP Instance UID, else by plane position.

Pure Python (numpy, pydicom, highdicom); no Django imports.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from ..dicom_headers import SEGMENTATION_SOP_CLASS
from ..volume import SeriesLayout
from .grid import DIRECTION_TOLERANCE, GEOMETRY_TOLERANCE_MM, OFF_PLANE_TOLERANCE
from .masks import (
    DicomSource,
    GeometryMismatchError,
    MaskSet,
    SegmentationError,
    UnknownReferenceError,
    _check_series_reference,
    _load_typed,
    _unique_name,
)


def read_seg_masks(source: DicomSource, reference: SeriesLayout) -> MaskSet:
    """Read a DICOM SEG onto the reference series grid, one boolean mask per segment.

    Parameters
    ----------
    source : path, bytes, file object or pydicom Dataset
        A Segmentation Storage object (BINARY or FRACTIONAL; fractional values
        are thresholded at 0.5 of MaximumFractionalValue).
    reference : SeriesLayout or Volume
        The single-frame series the SEG was derived from.

    Returns
    -------
    MaskSet
        Keys are the SegmentLabel strings; ``numbers`` maps them to segment
        numbers.

    Raises
    ------
    UnknownReferenceError
        The SEG references another series, or instances/positions that are not
        in the reference.
    GeometryMismatchError
        Frames are not on the reference grid (other orientation or spacing).
    SegmentationError, DicomHeaderError
        Not a SEG / unreadable.
    """
    import highdicom as hd

    ds, label = _load_typed(source, SEGMENTATION_SOP_CLASS, "DICOM SEG")
    _check_series_reference(ds, reference, label, "segmentation")
    try:
        seg = hd.seg.Segmentation.from_dataset(ds, copy=False)
    except Exception as exc:  # noqa: BLE001 - highdicom validates and raises many types
        raise SegmentationError(f"{label}: highdicom cannot read this SEG ({type(exc).__name__}: {exc})") from exc

    geo = reference.geometry
    nz = geo.size[2]
    segment_numbers = list(seg.segment_numbers)
    notes: list[str] = []
    stacked: np.ndarray | None = None
    referenced_uids = {uid for _, _, uid in seg.get_source_image_uids()}
    unknown = referenced_uids - set(reference.sop_instance_uids)
    if unknown:
        # Frames of those images would be dropped silently otherwise.
        raise UnknownReferenceError(
            f"{label}: {len(unknown)} of the {len(referenced_uids)} source images the SEG "
            f"references are not in the reference series {reference.series_instance_uid} "
            f"(e.g. {sorted(unknown)[0]}); the reference series is incomplete or not the one "
            "the SEG was drawn on"
        )
    if referenced_uids and reference.frame_numbers is None:
        try:
            stacked = seg.get_pixels_by_source_instance(
                source_sop_instance_uids=list(reference.sop_instance_uids),
                segment_numbers=segment_numbers,
                assert_missing_frames_are_empty=True,
                rescale_fractional=True,
            )
            notes.append("frames mapped to reference slices by SOP Instance UID")
        except (ValueError, RuntimeError, KeyError) as exc:
            notes.append(f"SOP Instance UID mapping unavailable ({exc}); mapped by position")
            stacked = None
    if stacked is None:
        stacked = _seg_by_position(ds, reference, segment_numbers, label)
        notes.append("frames mapped to reference slices by ImagePositionPatient")
    if stacked.shape[:3] != (nz, geo.size[1], geo.size[0]):
        raise GeometryMismatchError(
            f"{label}: SEG frames are {stacked.shape[1:3]} pixels, reference slices are "
            f"{(geo.size[1], geo.size[0])}",
            {"size": (stacked.shape[1:3], (geo.size[1], geo.size[0]), float("nan"))},
        )
    fractional = str(ds.SegmentationType).upper() == "FRACTIONAL"
    masks: dict[str, np.ndarray] = {}
    numbers: dict[str, int] = {}
    for i, number in enumerate(segment_numbers):
        description = seg.get_segment_description(number)
        name = _unique_name(str(description.SegmentLabel), masks, notes)
        channel = stacked[..., i]
        masks[name] = channel > 0.5 if fractional else channel.astype(bool)
        numbers[name] = int(number)
    return MaskSet(masks=masks, source_format="SEG", numbers=numbers, notes=notes)


def _seg_by_position(
    ds: Dataset, reference: SeriesLayout, segment_numbers: list[int], label: str
) -> np.ndarray:
    """Place SEG frames by their plane position (for SEGs without usable source references)."""
    geo = reference.geometry
    nx, ny, nz = geo.size
    shared = ds.get("SharedFunctionalGroupsSequence", [Dataset()])[0]
    frames = ds.pixel_array
    if frames.ndim == 2:
        frames = frames[np.newaxis]
    if str(ds.SegmentationType).upper() == "FRACTIONAL":
        frames = frames.astype(np.float32) / float(ds.MaximumFractionalValue)
    out = np.zeros((nz, ny, nx, len(segment_numbers)), dtype=frames.dtype)
    seg_col = {n: i for i, n in enumerate(segment_numbers)}
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):

        def group(name: str, item: Dataset = item) -> Dataset | None:
            if name in item:
                return item[name].value[0]
            return shared[name].value[0] if name in shared else None

        pos, ori, meas = group("PlanePositionSequence"), group("PlaneOrientationSequence"), group("PixelMeasuresSequence")
        ident = group("SegmentIdentificationSequence")
        if pos is None or ident is None:
            raise UnknownReferenceError(
                f"{label}: frame {f + 1} has neither a usable source-image reference nor a plane "
                "position; it cannot be placed on the reference series"
            )
        if ori is not None:
            o = np.asarray([float(v) for v in ori.ImageOrientationPatient])
            ref_o = np.concatenate([geo.direction_matrix[:, 0], geo.direction_matrix[:, 1]])
            if np.max(np.abs(o - ref_o)) > DIRECTION_TOLERANCE:
                raise GeometryMismatchError(
                    f"{label}: SEG frame orientation {tuple(o)} differs from the reference {tuple(ref_o)}",
                    {"direction": (tuple(o), tuple(ref_o), float(np.max(np.abs(o - ref_o))))},
                )
        if meas is not None and "PixelSpacing" in meas:
            sp = (float(meas.PixelSpacing[1]), float(meas.PixelSpacing[0]))
            if max(abs(sp[0] - geo.spacing[0]), abs(sp[1] - geo.spacing[1])) > GEOMETRY_TOLERANCE_MM:
                raise GeometryMismatchError(
                    f"{label}: SEG pixel spacing (x, y) {sp} differs from the reference {geo.spacing[:2]}",
                    {"spacing": (sp, geo.spacing[:2], max(abs(sp[0] - geo.spacing[0]), abs(sp[1] - geo.spacing[1])))},
                )
        idx = geo.physical_to_index(np.asarray([float(v) for v in pos.ImagePositionPatient]))
        rounded = np.round(idx)
        if np.max(np.abs(idx - rounded)) > OFF_PLANE_TOLERANCE or not (0 <= rounded[2] < nz):
            raise UnknownReferenceError(
                f"{label}: SEG frame {f + 1} at {tuple(float(v) for v in pos.ImagePositionPatient)} mm "
                "is not on any slice of the reference series"
            )
        x0, y0, k = (int(v) for v in rounded)
        frame = frames[f]
        h, w = frame.shape
        # Frames may be a sub-grid (cropped SEG): place them at their integer offset.
        ys, xs = slice(max(y0, 0), min(y0 + h, ny)), slice(max(x0, 0), min(x0 + w, nx))
        fy, fx = slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0)
        number = int(ident.ReferencedSegmentNumber)
        out[k, ys, xs, seg_col[number]] = np.maximum(out[k, ys, xs, seg_col[number]], frame[fy, fx])
    return out
