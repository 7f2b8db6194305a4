"""A label map as a DICOM SEG (highdicom) or an RT Structure Set referencing its image series.

Pure Python (numpy, pydicom, highdicom, SimpleITK); no Django imports.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from ..dicom_headers import RTSTRUCT_SOP_CLASS
from ..segmentation import check_geometry, mask_to_polygons
from ..volume import Geometry, SeriesLayout, SeriesSource, read_series_layout
from .encoding import IMPLEMENTATION_NAME, _ds, _file_meta, _uid


@dataclass(frozen=True)
class WrittenObject:
    """What :func:`write_seg` / :func:`write_rtstruct` wrote."""

    path: Path
    sop_instance_uid: str
    series_instance_uid: str
    numbers: dict[str, int]  # segment label / ROI name -> segment / ROI number
    label_values: dict[str, int]  # segment label / ROI name -> label value in the input map


def _reference_layout(reference: SeriesLayout | Sequence[SeriesSource]) -> SeriesLayout:
    if isinstance(reference, SeriesLayout):
        if not reference.datasets:
            raise ValueError("the reference layout carries no datasets; pass the series files")
        return reference
    return read_series_layout(reference)


def _label_array(label_map: sitk.Image | np.ndarray, layout: SeriesLayout) -> np.ndarray:
    geo = layout.geometry
    if isinstance(label_map, sitk.Image):
        check_geometry(Geometry.from_sitk(label_map), geo, what="label map")
        array = sitk.GetArrayFromImage(label_map)
    else:
        array = np.asarray(label_map)
    if array.shape != geo.shape_zyx:
        raise ValueError(
            f"label map shape (z, y, x) {array.shape} does not match the reference series "
            f"{geo.shape_zyx}"
        )
    if not np.issubdtype(array.dtype, np.integer) and array.dtype != bool:
        if not np.array_equal(array, np.round(array)):
            raise ValueError("label map must hold integer label values")
    return array.astype(np.int64)


def _segments(array: np.ndarray, names: Mapping[int, str] | None) -> list[tuple[int, str]]:
    values = [int(v) for v in np.unique(array) if v != 0]
    if not values:
        raise ValueError("the label map is empty: nothing to write")
    if min(values) < 0:
        raise ValueError("label values must be non-negative")
    names = names or {}
    return [(v, names.get(v, f"label {v}")) for v in values]


def write_seg(
    label_map: sitk.Image | np.ndarray,
    reference: SeriesLayout | Sequence[SeriesSource],
    out_path: str | os.PathLike[str],
    *,
    segment_labels: Mapping[int, str] | None = None,
    series_description: str = "Segmentation",
    series_number: int = 300,
    content_label: str = "LESIONS",
    content_creator_name: str | None = None,
    algorithm_type: str = "MANUAL",
    algorithm_name: str = IMPLEMENTATION_NAME,
    uid_entropy: str | None = None,
) -> WrittenObject:
    """Write a label map as a BINARY DICOM SEG derived from the reference series.

    Parameters
    ----------
    label_map : SimpleITK.Image or (z, y, x) integer array
        On the reference grid (an image's geometry is checked; an array must
        be in the reference's z order, i.e. that of ``read_series_layout``).
    reference : SeriesLayout or sequence of the series' files / datasets
    out_path : path
    segment_labels : mapping, optional
        Label value -> SegmentLabel (default ``"label <value>"``). Segment
        numbers are 1..N in increasing label value.
    algorithm_type : {"MANUAL", "SEMIAUTOMATIC", "AUTOMATIC"}
    uid_entropy : str, optional
        Deterministic UIDs (see :func:`write_ct_series`).

    Returns
    -------
    WrittenObject

    Notes
    -----
    Segmented property: category "Morphologically Abnormal Structure"
    (SCT 49755003), type "Neoplasm" (SCT 108369006). Empty frames are omitted.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    layout = _reference_layout(reference)
    array = _label_array(label_map, layout)
    segments = _segments(array, segment_labels)
    algorithm = None
    if algorithm_type.upper() != "MANUAL":
        algorithm = hd.AlgorithmIdentificationSequence(
            name=algorithm_name,
            version=hd.__version__,
            family=codes.cid7162.ArtificialIntelligence,
        )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=i + 1,
            segment_label=name,
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.Neoplasm,
            algorithm_type=algorithm_type.upper(),
            algorithm_identification=algorithm,
            tracking_uid=_uid(uid_entropy, "track", value),
            tracking_id=name,
        )
        for i, (value, name) in enumerate(segments)
    ]
    stacked = np.stack([array == value for value, _ in segments], axis=-1).astype(np.uint8)
    series_uid = _uid(uid_entropy, "seg-series", series_number)
    sop_uid = _uid(uid_entropy, "seg-instance", series_number)
    seg = hd.seg.Segmentation(
        source_images=layout.datasets,
        pixel_array=stacked,
        segmentation_type="BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=IMPLEMENTATION_NAME,
        manufacturer_model_name=IMPLEMENTATION_NAME,
        software_versions=f"highdicom {hd.__version__}",
        device_serial_number="0",
        content_label=content_label,
        content_description=series_description[:64],
        content_creator_name=content_creator_name,
        series_description=series_description,
    )
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(path)
    return WrittenObject(
        path=path,
        sop_instance_uid=sop_uid,
        series_instance_uid=series_uid,
        numbers={name: i + 1 for i, (_, name) in enumerate(segments)},
        label_values={name: value for value, name in segments},
    )


_ROI_COLOURS = [(255, 0, 0), (0, 200, 0), (0, 0, 255), (255, 200, 0), (255, 0, 255), (0, 200, 200)]


def write_rtstruct(
    label_map: sitk.Image | np.ndarray,
    reference: SeriesLayout | Sequence[SeriesSource],
    out_path: str | os.PathLike[str],
    *,
    roi_names: Mapping[int, str] | None = None,
    roi_interpreted_type: str = "GTV",
    structure_set_label: str = "radimmuno",
    series_description: str = "RT Structure Set",
    series_number: int = 400,
    uid_entropy: str | None = None,
) -> WrittenObject:
    """Write a label map as an RT Structure Set, one ROI per label value.

    Every slice's mask is turned into CLOSED_PLANAR contours along the exact
    pixel boundaries (:func:`~imaging.compute.segmentation.mask_to_polygons`),
    holes included as separate contours, so reading it back with the even-odd
    rule at voxel centres reproduces the label map exactly. Contour points are
    in patient coordinates (mm, 4 decimals), each contour references its
    slice's SOP Instance UID.

    Parameters
    ----------
    label_map, reference, out_path, uid_entropy
        As in :func:`write_seg`.
    roi_names : mapping, optional
        Label value -> ROIName (default ``"label <value>"``); ROI numbers are
        1..N in increasing label value.
    roi_interpreted_type : str
        RTROIInterpretedType of every ROI (e.g. ``GTV``, ``ORGAN``).

    Returns
    -------
    WrittenObject
    """
    layout = _reference_layout(reference)
    array = _label_array(label_map, layout)
    segments = _segments(array, roi_names)
    geo = layout.geometry
    first = layout.datasets[0]
    sop_uid = _uid(uid_entropy, "rts-instance", series_number)
    series_uid = _uid(uid_entropy, "rts-series", series_number)
    now = dt.datetime.now()

    ds = Dataset()
    ds.file_meta = _file_meta(RTSTRUCT_SOP_CLASS, sop_uid)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = RTSTRUCT_SOP_CLASS
    ds.SOPInstanceUID = sop_uid
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
                    "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName",
                    "StudyDescription"):
        setattr(ds, keyword, first.get(keyword, ""))
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description
    ds.Manufacturer = IMPLEMENTATION_NAME
    ds.OperatorsName = ""
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = layout.frame_of_reference_uid or ""
    ds.StructureSetLabel = structure_set_label[:16]
    ds.StructureSetDate = now.strftime("%Y%m%d")
    ds.StructureSetTime = now.strftime("%H%M%S")

    def image_ref(uid: str) -> Dataset:
        item = Dataset()
        item.ReferencedSOPClassUID = layout.sop_class_uid
        item.ReferencedSOPInstanceUID = uid
        return item

    series_item = Dataset()
    series_item.SeriesInstanceUID = layout.series_instance_uid
    series_item.ContourImageSequence = DicomSequence([image_ref(u) for u in layout.sop_instance_uids])
    study_item = Dataset()
    study_item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (retired, customary)
    study_item.ReferencedSOPInstanceUID = layout.study_instance_uid
    study_item.RTReferencedSeriesSequence = DicomSequence([series_item])
    for_item = Dataset()
    for_item.FrameOfReferenceUID = layout.frame_of_reference_uid or ""
    for_item.RTReferencedStudySequence = DicomSequence([study_item])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([for_item])

    structure_rois, roi_contours, observations = [], [], []
    for number, (value, name) in enumerate(segments, start=1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = layout.frame_of_reference_uid or ""
        roi.ROIName = name
        roi.ROIGenerationAlgorithm = "MANUAL"
        structure_rois.append(roi)

        contours = []
        mask = array == value
        for k in np.flatnonzero(mask.any(axis=(1, 2))):
            for poly in mask_to_polygons(mask[k]):
                idx = np.column_stack([poly, np.full(len(poly), float(k))])
                pts = geo.index_to_physical(idx)
                contour = Dataset()
                contour.ContourImageSequence = DicomSequence([image_ref(layout.sop_instance_uids[k])])
                contour.ContourGeometricType = "CLOSED_PLANAR"
                contour.NumberOfContourPoints = len(pts)
                contour.ContourData = [_ds(round(float(v), 4)) for v in pts.ravel()]
                contours.append(contour)
        roi_contour = Dataset()
        roi_contour.ROIDisplayColor = list(_ROI_COLOURS[(number - 1) % len(_ROI_COLOURS)])
        roi_contour.ReferencedROINumber = number
        roi_contour.ContourSequence = DicomSequence(contours)
        roi_contours.append(roi_contour)

        obs = Dataset()
        obs.ObservationNumber = number
        obs.ReferencedROINumber = number
        obs.RTROIInterpretedType = roi_interpreted_type
        obs.ROIInterpreter = ""
        observations.append(obs)
    ds.StructureSetROISequence = DicomSequence(structure_rois)
    ds.ROIContourSequence = DicomSequence(roi_contours)
    ds.RTROIObservationsSequence = DicomSequence(observations)
    ds.ApprovalStatus = "UNAPPROVED"

    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return WrittenObject(
        path=path,
        sop_instance_uid=sop_uid,
        series_instance_uid=series_uid,
        numbers={name: n for n, (_, name) in enumerate(segments, start=1)},
        label_values={name: value for value, name in segments},
    )
