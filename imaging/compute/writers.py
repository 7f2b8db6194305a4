"""Write volumes and masks as DICOM, and generate synthetic CT.

* :func:`write_ct_series` - a 3-D volume as a single-frame CT Image Storage
  series (one file per slice, int16 + RescaleSlope/Intercept).
* :func:`write_seg` - a label map as a BINARY DICOM SEG (highdicom) referencing
  that series, one segment per label value.
* :func:`write_rtstruct` - a label map as an RT Structure Set, one ROI per
  label value, contours along the exact pixel boundaries
  (:func:`~imaging.compute.segmentation.mask_to_polygons`).
* :func:`synthetic_ct` - a chest-like CT with spherical/ellipsoidal lesions and
  their label map, for tests and the demo data generator.

Used by the tests (real pyradiomics volumes written as DICOM and read back) and
by the demo data generator. Pure Python; no Django imports.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from .dicom_headers import CT_IMAGE_STORAGE, RTSTRUCT_SOP_CLASS
from .segmentation import check_geometry, mask_to_polygons
from .volume import Geometry, SeriesLayout, SeriesSource, read_series_layout

__all__ = [
    "Lesion",
    "SyntheticCT",
    "WrittenObject",
    "WrittenSeries",
    "synthetic_ct",
    "write_ct_series",
    "write_rtstruct",
    "write_seg",
]

IMPLEMENTATION_NAME = "radimmuno"
_PYDICOM_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's UID root, used by generate_uid


@dataclass(frozen=True)
class WrittenSeries:
    """What :func:`write_ct_series` wrote."""

    paths: tuple[Path, ...]  # one per slice, in z order
    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str
    sop_instance_uids: tuple[str, ...]


@dataclass(frozen=True)
class WrittenObject:
    """What :func:`write_seg` / :func:`write_rtstruct` wrote."""

    path: Path
    sop_instance_uid: str
    series_instance_uid: str
    numbers: dict[str, int]  # segment label / ROI name -> segment / ROI number
    label_values: dict[str, int]  # segment label / ROI name -> label value in the input map


def _uid(entropy: str | None, *parts: Any) -> str:
    """A fresh UID, or a reproducible one when ``entropy`` is given."""
    if entropy is None:
        return generate_uid()
    return generate_uid(prefix=_PYDICOM_ROOT, entropy_srcs=[entropy, *map(str, parts)])


def _ds(value: float) -> str:
    """A float as a DICOM DS string: the most precise ``%g`` form that fits 16 characters.

    (pydicom's ``format_number_as_ds`` can return 17 characters, e.g. for
    -99.99999999999989.)
    """
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"cannot store {v} as a DICOM decimal string")
    for digits in range(16, 0, -1):
        text = f"{v:.{digits}g}"
        if len(text) <= 16:
            return "0" if text in ("-0", "0") else text
    raise ValueError(f"cannot format {v} as a DICOM decimal string")


def _da(value: dt.date | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        pydicom.valuerep.DA(value)  # validates YYYYMMDD
        return value
    return value.strftime("%Y%m%d")


def _file_meta(sop_class: str, sop_instance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"{IMPLEMENTATION_NAME}"[:16]
    return meta


# --------------------------------------------------------------------------- CT series


def _volume_and_geometry(image: sitk.Image | np.ndarray, geometry: Geometry | None) -> tuple[np.ndarray, Geometry]:
    if isinstance(image, sitk.Image):
        if geometry is not None:
            raise ValueError("pass either a SimpleITK image or an array + geometry, not both")
        return sitk.GetArrayFromImage(image), Geometry.from_sitk(image)
    if geometry is None:
        raise ValueError("a numpy volume needs its geometry (imaging.compute.volume.Geometry)")
    array = np.asarray(image)
    if array.shape != geometry.shape_zyx:
        raise ValueError(f"array shape {array.shape} does not match geometry (z, y, x) {geometry.shape_zyx}")
    return array, geometry


def write_ct_series(
    image: sitk.Image | np.ndarray,
    out_dir: str | os.PathLike[str],
    *,
    patient_id: str,
    study_date: dt.date | str,
    series_description: str,
    geometry: Geometry | None = None,
    patient_name: str = "",
    study_description: str = "",
    study_time: dt.time | str = "120000",
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    series_number: int = 1,
    accession_number: str = "",
    rescale_slope: float = 1.0,
    rescale_intercept: float | None = None,
    convolution_kernel: str | None = None,
    kvp: float | None = 120.0,
    manufacturer: str = IMPLEMENTATION_NAME,
    manufacturer_model_name: str = "synthetic",
    contrast_bolus_agent: str | None = None,
    slice_thickness_mm: float | None = None,
    uid_entropy: str | None = None,
    filename_pattern: str = "CT{index:04d}.dcm",
) -> WrittenSeries:
    """Write a 3-D volume as a CT Image Storage series, one file per slice.

    Parameters
    ----------
    image : SimpleITK.Image or numpy.ndarray
        Hounsfield units. A numpy array is ``(z, y, x)`` and needs ``geometry``.
    out_dir : path
        Created if missing; files are named by ``filename_pattern``.
    patient_id, study_date, series_description : str / date
        PatientID, StudyDate (date or ``YYYYMMDD``), SeriesDescription.
    geometry : Geometry, optional
        Required with a numpy array.
    rescale_slope, rescale_intercept : float
        Stored value = round((HU - intercept) / slope) as int16. With slope 1
        the volume must hold integers (else ValueError: pass a slope to
        quantise). ``rescale_intercept=None`` picks 0 when the range fits int16,
        else the minimum + 32768.
    study_instance_uid, series_instance_uid, frame_of_reference_uid : str, optional
        New UIDs when omitted.
    uid_entropy : str, optional
        Make every generated UID a deterministic function of this string (so
        the demo data generator produces the same UIDs on every run).
    others
        Written into the corresponding attributes.

    Returns
    -------
    WrittenSeries

    Notes
    -----
    ImagePositionPatient of slice ``k`` is ``origin + k * sz * d_z`` and
    ImageOrientationPatient is ``(d_x, d_y)``, where ``d_x, d_y, d_z`` are the
    columns of the direction matrix. Readers sort slices along
    ``d_x × d_y``; a left-handed input direction (``d_z = -(d_x × d_y)``) is
    therefore read back mirrored in z (same physical content). A direction whose
    ``d_z`` is not ±(``d_x × d_y``) cannot be stored as single-frame CT and
    raises ValueError.
    """
    array, geo = _volume_and_geometry(image, geometry)
    if array.ndim != 3:
        raise ValueError(f"expected a 3-D volume, got shape {array.shape}")
    d = geo.direction_matrix
    if abs(abs(float(np.cross(d[:, 0], d[:, 1]) @ d[:, 2])) - 1.0) > 1e-4:
        raise ValueError(f"direction {geo.direction} is not orthonormal: cannot be written as CT slices")
    if rescale_slope <= 0:
        raise ValueError("rescale_slope must be positive")

    values = np.asarray(array, dtype=np.float64)
    if rescale_intercept is None:
        lo, hi = float(values.min()), float(values.max())
        rescale_intercept = 0.0 if (lo / rescale_slope >= -32768 and hi / rescale_slope <= 32767) else lo + 32768 * rescale_slope
    stored = (values - rescale_intercept) / rescale_slope
    rounded = np.round(stored)
    if rescale_slope == 1.0 and not np.array_equal(rounded, stored):
        raise ValueError(
            "the volume has non-integer values; pass rescale_slope (e.g. 0.1) to quantise them "
            "into int16 storage"
        )
    if rounded.min() < -32768 or rounded.max() > 32767:
        raise ValueError(
            f"values {values.min():g}..{values.max():g} do not fit int16 storage with slope "
            f"{rescale_slope:g} and intercept {rescale_intercept:g}"
        )
    pixels = rounded.astype(np.int16)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    study_uid = study_instance_uid or _uid(uid_entropy, "study")
    series_uid = series_instance_uid or _uid(uid_entropy, "series", series_number)
    for_uid = frame_of_reference_uid or _uid(uid_entropy, "for")
    now = dt.datetime.now()
    nz, ny, nx = pixels.shape
    sx, sy, sz = geo.spacing
    orientation = [_ds(v) for v in np.concatenate([d[:, 0], d[:, 1]])]
    paths: list[Path] = []
    uids: list[str] = []
    for k in range(nz):
        sop_uid = _uid(uid_entropy, "instance", series_uid, k) if uid_entropy else generate_uid()
        ds = Dataset()
        ds.file_meta = _file_meta(CT_IMAGE_STORAGE, sop_uid)
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = sop_uid
        ds.InstanceCreationDate = now.strftime("%Y%m%d")
        ds.InstanceCreationTime = now.strftime("%H%M%S")
        ds.StudyDate = _da(study_date)
        ds.SeriesDate = ds.StudyDate
        ds.AcquisitionDate = ds.StudyDate
        ds.StudyTime = study_time if isinstance(study_time, str) else study_time.strftime("%H%M%S")
        ds.SeriesTime = ds.StudyTime
        ds.AcquisitionTime = ds.StudyTime
        ds.AccessionNumber = accession_number
        ds.Modality = "CT"
        ds.Manufacturer = manufacturer
        ds.ManufacturerModelName = manufacturer_model_name
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = study_description
        ds.SeriesDescription = series_description
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
        if contrast_bolus_agent:
            ds.ContrastBolusAgent = contrast_bolus_agent
        ds.SliceThickness = _ds(slice_thickness_mm if slice_thickness_mm is not None else sz)
        if kvp is not None:
            ds.KVP = _ds(kvp)
        if convolution_kernel:
            ds.ConvolutionKernel = convolution_kernel
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = series_number
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = k + 1
        position = np.asarray(geo.origin) + k * sz * d[:, 2]
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.ImageOrientationPatient = orientation
        ds.FrameOfReferenceUID = for_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = _ds(float(position @ np.cross(d[:, 0], d[:, 1])))
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ny
        ds.Columns = nx
        ds.PixelSpacing = [_ds(sy), _ds(sx)]  # (row step, column step)
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.RescaleIntercept = _ds(rescale_intercept)
        ds.RescaleSlope = _ds(rescale_slope)
        ds.RescaleType = "HU"
        ds.PixelData = np.ascontiguousarray(pixels[k]).astype("<i2").tobytes()
        path = out / filename_pattern.format(index=k + 1, uid=sop_uid)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
        uids.append(sop_uid)
    return WrittenSeries(
        paths=tuple(paths),
        study_instance_uid=study_uid,
        series_instance_uid=series_uid,
        frame_of_reference_uid=for_uid,
        sop_instance_uids=tuple(uids),
    )


# --------------------------------------------------------------------------- masks


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


# --------------------------------------------------------------------------- synthetic CT


@dataclass(frozen=True)
class Lesion:
    """A synthetic lesion: an ellipsoid with a heterogeneous texture.

    Attributes
    ----------
    center_mm : (x, y, z)
        Centre in patient coordinates (mm).
    radius_mm : float or (rx, ry, rz)
        Semi-axes along x, y, z (mm).
    mean_hu : float
        Mean attenuation (solid tumours ~30-80 HU).
    heterogeneity_hu : float
        Standard deviation of the smooth texture inside the lesion.
    """

    center_mm: tuple[float, float, float]
    radius_mm: float | tuple[float, float, float]
    mean_hu: float = 55.0
    heterogeneity_hu: float = 12.0


@dataclass
class SyntheticCT:
    """Output of :func:`synthetic_ct`."""

    image: sitk.Image  # int16 HU
    label: sitk.Image  # uint8, lesion i -> label i + 1
    array: np.ndarray = field(repr=False)  # (z, y, x) int16 HU
    label_array: np.ndarray = field(repr=False)  # (z, y, x) uint8
    geometry: Geometry = field(repr=False)
    lesions: tuple[Lesion, ...] = ()


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: Sequence[float]) -> np.ndarray:
    """Unit-variance spatially correlated noise (Gaussian-filtered white noise)."""
    from scipy import ndimage

    noise = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma=sigma_vox, mode="wrap")
    std = float(noise.std())
    return noise / std if std > 0 else noise


def synthetic_ct(
    shape: tuple[int, int, int] = (64, 128, 128),
    spacing: tuple[float, float, float] = (2.5, 2.5, 5.0),
    lesions: Sequence[Lesion | tuple[Any, ...]] = (),
    seed: int = 0,
    *,
    origin: tuple[float, float, float] | None = None,
) -> SyntheticCT:
    """A chest-like synthetic CT volume with lesions and their label map.

    Parameters
    ----------
    shape : (nz, ny, nx)
    spacing : (sx, sy, sz) mm
    lesions : sequence of Lesion or tuples ``(center_mm, radius_mm[, mean_hu[, heterogeneity_hu]])``
        Centres in patient mm (see ``origin``); later lesions overwrite
        earlier ones where they overlap. Lesion ``i`` gets label ``i + 1``.
    seed : int
        Seed of every random draw; same seed, same volume.
    origin : (x, y, z) mm, optional
        Centre of voxel [0, 0, 0]; default centres the volume on (0, 0, 0).

    Returns
    -------
    SyntheticCT

    Notes
    -----
    Tissues (HU): air -1000 (+-5 noise) outside an elliptic body cross-section;
    subcutaneous fat ~ -100; soft tissue/mediastinum ~ 40 (20-60); two lungs
    ~ -850 with correlated noise (sd ~ 40) and a few vessels ~ 30; a vertebral
    body: cortical rim ~ 900, cancellous ~ 400 (400-1000 overall); lesions
    ``mean_hu`` +- ``heterogeneity_hu`` smooth texture plus 8 HU noise. Stored
    as int16 HU, identity direction. About 0.2-0.3 s for 64x128x128 here.
    """
    nz, ny, nx = shape
    sx, sy, sz = spacing
    if origin is None:
        origin = (-(nx - 1) * sx / 2, -(ny - 1) * sy / 2, -(nz - 1) * sz / 2)
    rng = np.random.default_rng(seed)
    x = origin[0] + sx * np.arange(nx, dtype=np.float32)
    y = origin[1] + sy * np.arange(ny, dtype=np.float32)
    z = origin[2] + sz * np.arange(nz, dtype=np.float32)
    X, Y = x[np.newaxis, :], y[:, np.newaxis]  # in-plane (y, x) grids, broadcast over z

    half_w, half_h = 0.45 * nx * sx, 0.38 * ny * sy  # body semi-axes (mm)
    body = (X / half_w) ** 2 + (Y / half_h) ** 2 <= 1.0
    inner = (X / (half_w - 12)) ** 2 + (Y / (half_h - 12)) ** 2 <= 1.0
    lung_r = (0.32 * half_w, 0.62 * half_h)
    lung_l = ((X - 0.45 * half_w) / lung_r[0]) ** 2 + ((Y + 0.05 * half_h) / lung_r[1]) ** 2 <= 1.0
    lung_rr = ((X + 0.45 * half_w) / lung_r[0]) ** 2 + ((Y + 0.05 * half_h) / lung_r[1]) ** 2 <= 1.0
    spine_c = (0.0, 0.72 * half_h)
    spine_r = min(0.12 * half_w, 0.2 * half_h)
    spine_d = np.sqrt((X - spine_c[0]) ** 2 + (Y - spine_c[1]) ** 2)

    plane = np.full((ny, nx), -1000.0, dtype=np.float32)
    plane[body] = -100.0  # subcutaneous fat
    plane[inner] = 40.0  # soft tissue / mediastinum
    lungs2d = (lung_l | lung_rr) & inner
    plane[lungs2d] = -850.0
    plane[spine_d <= spine_r] = 400.0
    plane[(spine_d <= spine_r) & (spine_d >= 0.75 * spine_r)] = 900.0

    # Lungs taper towards the apices/bases; everything else is a prism.
    zf = np.abs(z - z.mean()) / max(float(np.ptp(z)) / 2, 1e-6)
    vol = np.broadcast_to(plane, (nz, ny, nx)).copy()
    lung_mask = np.broadcast_to(lungs2d, (nz, ny, nx)).copy()
    taper = zf > 0.85
    if taper.any():
        vol[taper] = np.where(lungs2d, 40.0, plane)
        lung_mask[taper] = False

    texture = _smooth_noise(rng, (nz, ny, nx), (1.0, 1.5, 1.5))
    vol += np.where(lung_mask, 40.0 * texture, 0.0)
    # A few vessels in the lungs (bright tubes along z).
    for _ in range(6):
        side = rng.choice([-1, 1])
        cx = side * 0.45 * half_w + rng.uniform(-0.5, 0.5) * lung_r[0]
        cy = rng.uniform(-0.5, 0.5) * lung_r[1]
        vessel = (X - cx) ** 2 + (Y - cy) ** 2 <= rng.uniform(2.0, 4.0) ** 2
        vol[lung_mask & vessel[np.newaxis]] = 30.0
    vol += rng.normal(0.0, 10.0, size=vol.shape).astype(np.float32) * np.where(
        vol <= -990, 0.5, 1.0
    )  # quantum noise (less in air)

    label = np.zeros((nz, ny, nx), dtype=np.uint8)
    parsed: list[Lesion] = []
    for i, spec in enumerate(lesions):
        lesion = spec if isinstance(spec, Lesion) else Lesion(*spec)
        parsed.append(lesion)
        r = np.broadcast_to(np.asarray(lesion.radius_mm, dtype=np.float32), (3,))
        c = np.asarray(lesion.center_mm, dtype=np.float32)
        # Work on the lesion's bounding box only (cheap for many small lesions).
        lo = np.floor((c - r - np.asarray(origin)) / np.asarray(spacing)).astype(int)
        hi = np.ceil((c + r - np.asarray(origin)) / np.asarray(spacing)).astype(int) + 1
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, [nx, ny, nz])
        if np.any(hi <= lo):
            raise ValueError(f"lesion {i + 1} at {lesion.center_mm} mm lies outside the volume")
        zs, ys, xs = slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0])
        dx = ((x[xs] - c[0]) / r[0])[np.newaxis, np.newaxis, :]
        dy = ((y[ys] - c[1]) / r[1])[np.newaxis, :, np.newaxis]
        dz = ((z[zs] - c[2]) / r[2])[:, np.newaxis, np.newaxis]
        inside = dx**2 + dy**2 + dz**2 <= 1.0
        box_shape = inside.shape
        tex = _smooth_noise(rng, box_shape, (0.8, 1.2, 1.2)) if min(box_shape) > 1 else rng.standard_normal(box_shape)
        values = lesion.mean_hu + lesion.heterogeneity_hu * tex + rng.normal(0.0, 8.0, size=box_shape)
        vol[zs, ys, xs][inside] = values[inside]
        label[zs, ys, xs][inside] = i + 1

    hu = np.clip(np.round(vol), -1024, 3071).astype(np.int16)
    geometry = Geometry(
        size=(nx, ny, nz),
        origin=tuple(float(v) for v in origin),
        spacing=(float(sx), float(sy), float(sz)),
        direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
    )
    return SyntheticCT(
        image=geometry.to_sitk(hu),
        label=geometry.to_sitk(label),
        array=hu,
        label_array=label,
        geometry=geometry,
        lesions=tuple(parsed),
    )
