"""DICOM RTSTRUCT onto the reference grid: each ROI's closed planar contours rasterised slice by slice (even-odd).

Pure Python (numpy, pydicom); no Django imports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from ..dicom_headers import RTSTRUCT_SOP_CLASS
from ..volume import SeriesLayout
from .grid import OFF_PLANE_TOLERANCE
from .masks import DicomSource, MaskSet, UnknownReferenceError, _check_series_reference, _load_typed, _unique_name
from .polygons import rasterize_polygons


def read_rtstruct_masks(
    source: DicomSource,
    reference: SeriesLayout,
    *,
    roi_names: Sequence[str] | None = None,
) -> MaskSet:
    """Rasterise the ROIs of an RT Structure Set onto the reference series grid.

    Each CLOSED_PLANAR contour is mapped to continuous voxel indices; it
    belongs to the slice whose plane its points lie on (within
    ``OFF_PLANE_TOLERANCE`` slice steps) and, when it names a contour image,
    that image must be that slice. Per ROI and slice, a voxel is inside when
    its centre is inside an odd number of the ROI's contours on that slice
    (even-odd rule: inner contours are holes). POINT and OPEN_PLANAR contours
    are skipped and noted.

    Parameters
    ----------
    source : path, bytes, file object or pydicom Dataset
    reference : SeriesLayout or Volume
    roi_names : sequence of str, optional
        Only these ROIs (by ROIName); default all.

    Returns
    -------
    MaskSet
        Keys are ROI names; ``numbers`` maps them to ROI numbers.

    Raises
    ------
    UnknownReferenceError
        The structure set references another series / frame of reference, a
        contour names an image that is not in the reference, or lies between
        slices / outside the volume.
    SegmentationError, DicomHeaderError
    """
    ds, label = _load_typed(source, RTSTRUCT_SOP_CLASS, "RT Structure Set")
    _check_series_reference(ds, reference, label, "structure set")
    geo = reference.geometry
    nx, ny, nz = geo.size
    uid_to_k = {uid: k for k, uid in enumerate(reference.sop_instance_uids)}
    ref_fors = {str(i.FrameOfReferenceUID) for i in ds.get("ReferencedFrameOfReferenceSequence", []) if "FrameOfReferenceUID" in i}

    rois: dict[int, tuple[str, str | None]] = {}
    for item in ds.get("StructureSetROISequence", []):
        rois[int(item.ROINumber)] = (str(item.get("ROIName", f"ROI {item.ROINumber}")), item.get("ReferencedFrameOfReferenceUID"))
    notes: list[str] = []
    masks: dict[str, np.ndarray] = {}
    numbers: dict[str, int] = {}
    for roi_contour in ds.get("ROIContourSequence", []):
        number = int(roi_contour.ReferencedROINumber)
        name, roi_for = rois.get(number, (f"ROI {number}", None))
        if roi_names is not None and name not in roi_names:
            continue
        for_uid = str(roi_for) if roi_for else (next(iter(ref_fors)) if len(ref_fors) == 1 else None)
        if for_uid and reference.frame_of_reference_uid and for_uid != reference.frame_of_reference_uid:
            raise UnknownReferenceError(
                f"{label}: ROI {name!r} is in frame of reference {for_uid}, the reference series "
                f"is in {reference.frame_of_reference_uid}; the contours cannot be placed on it"
            )
        per_slice: dict[int, list[np.ndarray]] = defaultdict(list)
        skipped = 0
        for contour in roi_contour.get("ContourSequence", []):
            kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR")).upper()
            data = contour.get("ContourData")
            if kind != "CLOSED_PLANAR" or not data:
                skipped += 1
                continue
            pts = np.asarray([float(v) for v in data]).reshape(-1, 3)
            idx = geo.physical_to_index(pts)
            k_float = float(np.mean(idx[:, 2]))
            k = int(round(k_float))
            off = float(np.max(np.abs(idx[:, 2] - k)))
            if off > OFF_PLANE_TOLERANCE or not (0 <= k < nz):
                raise UnknownReferenceError(
                    f"{label}: a contour of ROI {name!r} lies at slice index {k_float:.2f} "
                    f"(z ~ {float(np.mean(pts[:, 2])):.2f} mm), which is "
                    + ("outside the reference volume" if not (0 <= k < nz) else "between slices of the reference series")
                    + "; it was drawn on another series or reconstruction"
                )
            for img in contour.get("ContourImageSequence", []):
                uid = str(img.ReferencedSOPInstanceUID)
                if uid not in uid_to_k:
                    raise UnknownReferenceError(
                        f"{label}: a contour of ROI {name!r} references image {uid}, which is not "
                        f"in the reference series {reference.series_instance_uid}"
                    )
                if uid_to_k[uid] != k:
                    raise UnknownReferenceError(
                        f"{label}: a contour of ROI {name!r} references the image at slice "
                        f"{uid_to_k[uid]} but its points lie on slice {k}"
                    )
            per_slice[k].append(idx[:, :2])
        if skipped:
            notes.append(f"ROI {name!r}: {skipped} non-CLOSED_PLANAR or empty contour(s) skipped")
        mask = np.zeros((nz, ny, nx), dtype=bool)
        for k, polys in per_slice.items():
            mask[k] = rasterize_polygons(polys, (ny, nx))
        key = _unique_name(name, masks, notes)
        masks[key] = mask
        numbers[key] = number
    notes.append("contours rasterised at voxel centres, even-odd rule per slice")
    return MaskSet(masks=masks, source_format="RTSTRUCT", numbers=numbers, notes=notes)
