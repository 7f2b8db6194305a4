"""Validate a parsed dataset and extract the attributes ingest, volume assembly and radiomics need.

The second step of the pydicom way to a header (:mod:`.load` parses); :mod:`.fast` hands it the few values of a
plain slice it read without pydicom, so both ways give the same dict. Pure Python (pydicom); no Django imports.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from .errors import DicomHeaderError, _source_label
from .sop_classes import (
    _PIXEL_TAGS,
    _REQUIRED_ALL,
    _REQUIRED_SINGLE_FRAME_IMAGE,
    ACCEPTED_SOP_CLASSES,
    IMAGE_SOP_CLASSES,
    MULTIFRAME_IMAGE_SOP_CLASSES,
)

# --------------------------------------------------------------------------- values


def _get(ds: Dataset, keyword: str, default: Any = None) -> Any:
    try:
        elem = ds.get(keyword)
    except Exception:  # noqa: BLE001 - a malformed value must not hide the rest
        return default
    if elem is None or elem == "":
        return default
    return elem


def _finite(number: float) -> float:
    """``number`` itself; NaN and +-Inf (which DS parses, but JSON cannot store) raise ValueError."""
    if not math.isfinite(number):
        raise ValueError(f"{number} is not a finite number")
    return number


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return _finite(float(value))


def _floats(value: Any) -> tuple[float, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return tuple(_finite(float(v)) for v in value)
    return (_finite(float(value)),)


def _number(value: Any, keyword: str, problems: list[str], convert: Any = float) -> Any:
    """An optional numeric attribute; one that does not parse is noted and stored as empty, never fatal."""
    try:
        number = None if value is None or value == "" else convert(value)
    except (TypeError, ValueError):
        problems.append(f"{keyword} {value!r} is not a valid number; stored as empty")
        return None
    if isinstance(number, float) and not math.isfinite(number):
        problems.append(f"{keyword} {number} is not a finite number; stored as empty")
        return None
    return number


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return "\\".join(str(v) for v in value) or None
    text = str(value).strip()
    return text or None


def _parse_date(value: Any, keyword: str, problems: list[str]) -> dt.date | None:
    if not value:
        return None
    try:
        d = pydicom.valuerep.DA(str(value).strip())
    except ValueError:
        problems.append(f"{keyword} {value!r} is not a valid DICOM date (YYYYMMDD); stored as empty")
        return None
    return None if d is None else dt.date(d.year, d.month, d.day)


def _parse_time(value: Any, keyword: str, problems: list[str]) -> dt.time | None:
    if not value:
        return None
    try:
        t = pydicom.valuerep.TM(str(value).strip())
    except ValueError:
        problems.append(f"{keyword} {value!r} is not a valid DICOM time (HHMMSS.FFFFFF); stored as empty")
        return None
    return None if t is None else dt.time(t.hour, t.minute, t.second, t.microsecond)


def _parse_datetime(value: Any, keyword: str, problems: list[str]) -> dt.datetime | None:
    if not value:
        return None
    try:
        d = pydicom.valuerep.DT(str(value).strip())
    except ValueError:
        problems.append(f"{keyword} {value!r} is not a valid DICOM date-time; stored as empty")
        return None
    return None if d is None else dt.datetime(
        d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=d.tzinfo
    )


def _combine(date: dt.date | None, time: dt.time | None) -> dt.datetime | None:
    if date is None or time is None:
        return None
    return dt.datetime.combine(date, time.replace(tzinfo=None))


def _functional_group(ds: Dataset, sequence: str) -> Dataset | None:
    """First item of ``sequence`` from the shared, else the first per-frame, functional group."""
    for group_seq in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        groups = _get(ds, group_seq)
        if groups:
            seq = _get(groups[0], sequence)
            if seq:
                return seq[0]
    return None


def _radiopharmaceutical(ds: Dataset, problems: list[str]) -> dict[str, Any]:
    """The attributes SUVbw needs (see :func:`imaging.compute.volume.suv_bw_factor`)."""
    info: dict[str, Any] = {
        "radiopharmaceutical": None,
        "radionuclide_total_dose_bq": None,
        "radionuclide_half_life_s": None,
        "radiopharmaceutical_start_time": None,
        "radiopharmaceutical_start_datetime": None,
    }
    seq = _get(ds, "RadiopharmaceuticalInformationSequence")
    if seq:
        item = seq[0]
        info["radiopharmaceutical"] = _str(_get(item, "Radiopharmaceutical"))
        info["radionuclide_total_dose_bq"] = _number(_get(item, "RadionuclideTotalDose"), "RadionuclideTotalDose",
                                                     problems)
        info["radionuclide_half_life_s"] = _number(_get(item, "RadionuclideHalfLife"), "RadionuclideHalfLife",
                                                   problems)
        info["radiopharmaceutical_start_time"] = _parse_time(
            _get(item, "RadiopharmaceuticalStartTime"), "RadiopharmaceuticalStartTime", problems
        )
        info["radiopharmaceutical_start_datetime"] = _parse_datetime(
            _get(item, "RadiopharmaceuticalStartDateTime"), "RadiopharmaceuticalStartDateTime", problems
        )
    series_date = _parse_date(_get(ds, "SeriesDate"), "SeriesDate", problems)
    series_time = _parse_time(_get(ds, "SeriesTime"), "SeriesTime", problems)
    corrected = _get(ds, "CorrectedImage")
    info.update(
        units=_str(_get(ds, "Units")),
        decay_correction=_str(_get(ds, "DecayCorrection")),
        corrected_image=tuple(str(v) for v in corrected) if isinstance(corrected, (list, pydicom.multival.MultiValue)) else ((str(corrected),) if corrected else ()),
        decay_factor=_number(_get(ds, "DecayFactor"), "DecayFactor", problems),
        series_date=series_date,
        series_time=series_time,
        series_datetime=_combine(series_date, series_time),
    )
    return info


# --------------------------------------------------------------------------- public


def header_from_dataset(ds: Dataset, *, source: str | None = None) -> dict[str, Any]:
    """Validate a parsed dataset and extract the ingest/radiomics attributes.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        A dataset read with or without its pixel data (pixel data may be
        deferred, but must not have been skipped with ``stop_before_pixels``
        for image objects, or the no-pixel-data check fails).
    source : str, optional
        Name used in error messages (defaults to ``ds.filename``).

    Returns
    -------
    dict
        Plain values (str, int, float, tuples, :mod:`datetime` objects, None);
        see :func:`read_dicom_header` for the keys.

    Raises
    ------
    DicomHeaderError
    """
    label = source or _source_label(ds)
    sop_class = _get(ds, "SOPClassUID")
    if sop_class is None:
        meta = getattr(ds, "file_meta", None)
        sop_class = _get(meta, "MediaStorageSOPClassUID") if meta is not None else None
        if (
            sop_class is not None
            and str(sop_class) in ACCEPTED_SOP_CLASSES
            and not any(tag in ds for tag in _PIXEL_TAGS)
        ):
            # The file meta names the object, but the data set stops before its
            # own SOP Class UID and has no pixels: a file cut at an element
            # boundary (which no length check can see).
            raise DicomHeaderError(
                label,
                "truncated",
                f"the data set ends after {len([t for t in ds.keys() if t.group != 2])} "
                "element(s), before its SOP Class UID and without pixel data, although the "
                f"file meta header announces {UID(str(sop_class)).name}; the file was probably "
                "truncated during transfer - re-send it from the source system",
            )
    if sop_class is None:
        raise DicomHeaderError(
            label,
            "missing_attributes",
            "the data set has no SOP Class UID (0008,0016), so radimmuno cannot tell what "
            "kind of object it is; the file is malformed - ask the sender for a valid export",
        )
    sop_class = str(sop_class)
    if sop_class not in ACCEPTED_SOP_CLASSES:
        name = UID(sop_class).name if UID(sop_class).is_valid else sop_class
        accepted = ", ".join(sorted(ACCEPTED_SOP_CLASSES.values()))
        raise DicomHeaderError(
            label,
            "unsupported_sop_class",
            f"unsupported SOP class {name!r} ({sop_class}); radimmuno ingests only: {accepted}",
        )
    is_image = sop_class in IMAGE_SOP_CLASSES
    is_multiframe = sop_class in MULTIFRAME_IMAGE_SOP_CLASSES
    required = list(_REQUIRED_ALL)
    if is_image:
        required += ["Rows", "Columns"]
        if not is_multiframe:
            required += list(_REQUIRED_SINGLE_FRAME_IMAGE)
    missing = [kw for kw in dict.fromkeys(required) if _get(ds, kw) is None]
    if missing:
        raise DicomHeaderError(
            label,
            "missing_attributes",
            f"required attribute(s) missing or empty: {', '.join(missing)} "
            f"({ACCEPTED_SOP_CLASSES[sop_class]}); the file cannot be placed in a patient/"
            "study/series or in space - fix the export at the source",
        )
    has_pixels = any(tag in ds for tag in _PIXEL_TAGS)
    if is_image and not has_pixels:
        raise DicomHeaderError(
            label,
            "no_pixel_data",
            f"{ACCEPTED_SOP_CLASSES[sop_class]} object without Pixel Data (7FE0,0010): the "
            "image is missing (header-only or metadata-only export); re-send the full instance",
        )

    problems: list[str] = []
    header: dict[str, Any] = {
        "sop_class_uid": sop_class,
        "sop_class_name": ACCEPTED_SOP_CLASSES[sop_class],
        "sop_instance_uid": str(ds.SOPInstanceUID),
        "study_instance_uid": str(ds.StudyInstanceUID),
        "series_instance_uid": str(ds.SeriesInstanceUID),
        "frame_of_reference_uid": _str(_get(ds, "FrameOfReferenceUID")),
        "patient_id": str(ds.PatientID).strip(),
        "modality": str(ds.Modality).strip(),
        "study_date": _parse_date(_get(ds, "StudyDate"), "StudyDate", problems),
        "study_time": _parse_time(_get(ds, "StudyTime"), "StudyTime", problems),
        "study_description": _str(_get(ds, "StudyDescription")),
        "series_description": _str(_get(ds, "SeriesDescription")),
        "series_number": _number(_get(ds, "SeriesNumber"), "SeriesNumber", problems, int),
        "instance_number": _number(_get(ds, "InstanceNumber"), "InstanceNumber", problems, int),
        "is_image": is_image,
        "is_multiframe": is_multiframe,
        "has_pixel_data": has_pixels,
        "transfer_syntax_uid": _str(_get(getattr(ds, "file_meta", Dataset()), "TransferSyntaxUID")),
        "manufacturer": _str(_get(ds, "Manufacturer")),
        "manufacturer_model_name": _str(_get(ds, "ManufacturerModelName")),
        "convolution_kernel": _str(_get(ds, "ConvolutionKernel")),
        "kvp": _number(_get(ds, "KVP"), "KVP", problems),
        "contrast_bolus_agent": _str(_get(ds, "ContrastBolusAgent")),
        "patient_weight_kg": _number(_get(ds, "PatientWeight"), "PatientWeight", problems),
        "patient_size_m": _number(_get(ds, "PatientSize"), "PatientSize", problems),
        "rows": int(_get(ds, "Rows")) if _get(ds, "Rows") is not None else None,
        "columns": int(_get(ds, "Columns")) if _get(ds, "Columns") is not None else None,
        "number_of_frames": _number(_get(ds, "NumberOfFrames", 1), "NumberOfFrames", problems, int) or 1,
    }
    acq_date = _parse_date(_get(ds, "AcquisitionDate"), "AcquisitionDate", problems)
    acq_time = _parse_time(_get(ds, "AcquisitionTime"), "AcquisitionTime", problems)
    acq_dt = _parse_datetime(_get(ds, "AcquisitionDateTime"), "AcquisitionDateTime", problems)
    header.update(
        acquisition_date=acq_date,
        acquisition_time=acq_time,
        acquisition_datetime=acq_dt or _combine(acq_date, acq_time),
    )

    # Geometry and pixel-value transform: top level for single-frame images,
    # functional groups for Enhanced CT/MR. A value that is not a number here
    # would misplace or misscale the voxels: the file is refused.
    slice_thickness = _number(_get(ds, "SliceThickness"), "SliceThickness", problems)
    try:
        pixel_spacing = _floats(_get(ds, "PixelSpacing"))
        position = _floats(_get(ds, "ImagePositionPatient"))
        orientation = _floats(_get(ds, "ImageOrientationPatient"))
        slope = _float(_get(ds, "RescaleSlope"))
        intercept = _float(_get(ds, "RescaleIntercept"))
        rescale_type = _str(_get(ds, "RescaleType"))
        if is_multiframe:
            measures = _functional_group(ds, "PixelMeasuresSequence")
            if measures is not None:
                pixel_spacing = _floats(_get(measures, "PixelSpacing")) or pixel_spacing
                slice_thickness = _number(_get(measures, "SliceThickness"), "SliceThickness", problems) \
                    or slice_thickness
            plane_orientation = _functional_group(ds, "PlaneOrientationSequence")
            if plane_orientation is not None:
                orientation = _floats(_get(plane_orientation, "ImageOrientationPatient"))
            plane_position = _functional_group(ds, "PlanePositionSequence")
            if plane_position is not None:
                position = _floats(_get(plane_position, "ImagePositionPatient"))
            transform = _functional_group(ds, "PixelValueTransformationSequence")
            if transform is not None:
                slope = _float(_get(transform, "RescaleSlope"))
                intercept = _float(_get(transform, "RescaleIntercept"))
                rescale_type = _str(_get(transform, "RescaleType"))
    except (TypeError, ValueError) as exc:
        raise DicomHeaderError(
            label,
            "missing_attributes",
            f"a geometry or rescale value is not a number ({exc}); the image cannot be placed in "
            "space or scaled - fix the export at the source",
        ) from exc
    for keyword, values, n in (
        ("PixelSpacing", pixel_spacing, 2),
        ("ImagePositionPatient", position, 3),
        ("ImageOrientationPatient", orientation, 6),
    ):
        if is_image and values is not None and len(values) != n:
            raise DicomHeaderError(
                label,
                "missing_attributes",
                f"{keyword} has {len(values)} values, DICOM requires {n}; the geometry is malformed",
            )
    header.update(
        slice_thickness_mm=slice_thickness,
        pixel_spacing_mm=pixel_spacing,  # (row spacing, column spacing) as in DICOM
        image_position_patient=position,
        image_orientation_patient=orientation,
        rescale_slope=slope if slope is not None else (1.0 if is_image else None),
        rescale_intercept=intercept if intercept is not None else (0.0 if is_image else None),
        rescale_type=rescale_type,
    )
    header["pet"] = _radiopharmaceutical(ds, problems) if header["modality"] == "PT" else None
    header["warnings"] = problems
    return header
