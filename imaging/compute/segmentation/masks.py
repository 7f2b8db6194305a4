"""What every segmentation reader returns (:class:`MaskSet`), the errors they raise, and what the DICOM readers
(SEG, RTSTRUCT) share: loading the object and checking the series it references.

Pure Python (numpy, pydicom); no Django imports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
from pydicom.dataset import Dataset

from ..dicom_headers import header_from_dataset, load_dataset
from ..volume import SeriesLayout

DicomSource = str | os.PathLike[str] | bytes | BinaryIO | Dataset


class SegmentationError(ValueError):
    """A segmentation cannot be read onto the reference grid."""


class GeometryMismatchError(SegmentationError):
    """The mask's voxel grid differs from the reference grid beyond tolerance.

    Attributes
    ----------
    differences : dict
        Property -> (mask value, reference value, max abs difference), for
        the properties that differ.
    """

    def __init__(self, message: str, differences: dict[str, tuple[Any, Any, float]]) -> None:
        self.differences = differences
        super().__init__(message)


class UnknownReferenceError(SegmentationError):
    """The segmentation references a series / instances / frame of reference other than the reference."""


@dataclass
class MaskSet:
    """Masks of one segmentation object on the reference grid.

    Attributes
    ----------
    masks : dict
        Segment label / ROI name -> boolean ``(z, y, x)`` array.
    source_format : str
        ``"SEG"``, ``"RTSTRUCT"`` or ``"LABELMAP"``.
    numbers : dict
        Segment label -> segment number (SEG), ROI number (RTSTRUCT) or label
        value (label map).
    resampled : bool
        True when a label map was resampled onto the reference grid.
    notes : list of str
        What was done that a curator may want to know (mapping used,
        resampling, skipped contours, renamed duplicates).
    """

    masks: dict[str, np.ndarray]
    source_format: str
    numbers: dict[str, int] = field(default_factory=dict)
    resampled: bool = False
    notes: list[str] = field(default_factory=list)


def _unique_name(name: str, existing: Mapping[str, Any], notes: list[str]) -> str:
    if name not in existing:
        return name
    n = 2
    while f"{name} ({n})" in existing:
        n += 1
    notes.append(f"duplicate name {name!r} renamed to {name + f' ({n})'!r}")
    return f"{name} ({n})"


def _load_typed(source: DicomSource, sop_class: str, kind: str) -> tuple[Dataset, str]:
    label = os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"<{kind}>"
    ds = load_dataset(source, with_pixels=True)
    header = header_from_dataset(ds, source=label)
    if header["sop_class_uid"] != sop_class:
        raise SegmentationError(f"{label}: expected a {kind} object, got {header['sop_class_name']}")
    return ds, label


def _referenced_series_uids(ds: Dataset) -> set[str]:
    uids = {str(item.SeriesInstanceUID) for item in ds.get("ReferencedSeriesSequence", []) if "SeriesInstanceUID" in item}
    for ref_for in ds.get("ReferencedFrameOfReferenceSequence", []):
        for study in ref_for.get("RTReferencedStudySequence", []):
            for series in study.get("RTReferencedSeriesSequence", []):
                if "SeriesInstanceUID" in series:
                    uids.add(str(series.SeriesInstanceUID))
    return uids


def _check_series_reference(ds: Dataset, reference: SeriesLayout, label: str, kind: str) -> None:
    referenced = _referenced_series_uids(ds)
    if referenced and reference.series_instance_uid not in referenced:
        raise UnknownReferenceError(
            f"{label}: this {kind} was drawn on series {', '.join(sorted(referenced))}, not on the "
            f"reference series {reference.series_instance_uid}; ingest the referenced series "
            "first, or choose it as the reference"
        )
    for_uid = ds.get("FrameOfReferenceUID")
    if (
        not referenced
        and for_uid
        and reference.frame_of_reference_uid
        and str(for_uid) != reference.frame_of_reference_uid
    ):
        raise UnknownReferenceError(
            f"{label}: this {kind} references no series and its frame of reference {for_uid} "
            f"differs from the reference series' {reference.frame_of_reference_uid}"
        )
