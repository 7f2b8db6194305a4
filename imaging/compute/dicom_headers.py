"""Read the header of one DICOM file (without its pixels) into a plain dict.

This is the first thing ingest does with a file that arrived over C-STORE,
DICOMweb or an upload: decide whether radimmuno can use it at all, and pull out
the attributes the database, the volume assembly and radiomics need.

Everything that is wrong with a file is reported as one exception type,
:class:`DicomHeaderError`, whose ``code`` says what kind of trouble it is and
whose message is written for the curator who has to act on it (re-send the
series, ask the site for the original export, ...).

Pure Python (pydicom); no Django imports.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import struct
import math
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.datadict import dictionary_has_tag
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

__all__ = [
    "ACCEPTED_SOP_CLASSES",
    "IMAGE_SOP_CLASSES",
    "MULTIFRAME_IMAGE_SOP_CLASSES",
    "SEGMENTATION_SOP_CLASS",
    "RTSTRUCT_SOP_CLASS",
    "DicomHeaderError",
    "read_dicom_header",
    "header_from_dataset",
    "load_dataset",
]

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
SEGMENTATION_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"

#: Storage SOP classes radimmuno ingests, UID -> human name.
ACCEPTED_SOP_CLASSES: dict[str, str] = {
    CT_IMAGE_STORAGE: "CT Image Storage",
    ENHANCED_CT_IMAGE_STORAGE: "Enhanced CT Image Storage",
    MR_IMAGE_STORAGE: "MR Image Storage",
    ENHANCED_MR_IMAGE_STORAGE: "Enhanced MR Image Storage",
    PET_IMAGE_STORAGE: "Positron Emission Tomography Image Storage",
    SEGMENTATION_SOP_CLASS: "Segmentation Storage",
    RTSTRUCT_SOP_CLASS: "RT Structure Set Storage",
}
#: The accepted SOP classes that carry pixel data of an acquired image.
IMAGE_SOP_CLASSES = frozenset(
    {
        CT_IMAGE_STORAGE,
        ENHANCED_CT_IMAGE_STORAGE,
        MR_IMAGE_STORAGE,
        ENHANCED_MR_IMAGE_STORAGE,
        PET_IMAGE_STORAGE,
    }
)
#: Image SOP classes whose geometry lives in the (shared / per-frame)
#: functional groups instead of the top-level Image Plane module.
MULTIFRAME_IMAGE_SOP_CLASSES = frozenset({ENHANCED_CT_IMAGE_STORAGE, ENHANCED_MR_IMAGE_STORAGE})

_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Attributes needed for every accepted object (ingest links on them).
_REQUIRED_ALL = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "PatientID",
)
# Image Plane / Image Pixel module attributes (Type 1) needed to place a
# single-frame slice in patient space.
_REQUIRED_SINGLE_FRAME_IMAGE = (
    "Rows",
    "Columns",
    "PixelSpacing",
    "ImagePositionPatient",
    "ImageOrientationPatient",
)


class DicomHeaderError(ValueError):
    """A DICOM file radimmuno cannot ingest.

    Parameters
    ----------
    source : str
        What was read (a file name, or ``"<bytes>"``).
    code : str
        Machine-readable kind of trouble, one of ``"not_dicom"``,
        ``"truncated"``, ``"missing_attributes"``, ``"unsupported_sop_class"``,
        ``"no_pixel_data"``, ``"unreadable"``.
    reason : str
        Human-readable explanation, ideally with what to do about it.
    """

    def __init__(self, source: str, code: str, reason: str) -> None:
        self.source = source
        self.code = code
        self.reason = reason
        super().__init__(f"{source}: {reason}")


# --------------------------------------------------------------------------- reading


def _source_label(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, Dataset):
        fn = getattr(source, "filename", None)
        return fn if isinstance(fn, str) and fn else "<dataset>"
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<bytes>"


def _raw_elements(ds: Dataset) -> Iterable[Any]:
    """Yield the still-raw (unparsed) data elements of ``ds`` and its sequence items."""
    for elem in ds._dict.values():  # noqa: SLF001 - raw elements keep file offsets
        if hasattr(elem, "value_tell") and not hasattr(elem, "file_tell"):
            yield elem
        elif getattr(elem, "VR", None) == "SQ":
            for item in elem.value or ():
                yield from _raw_elements(item)


def _truncation_reason(ds: Dataset, size: int, eof_warnings: list[str]) -> str | None:
    """Return why ``ds`` (parsed from ``size`` bytes) is truncated, or ``None``.

    pydicom does not complain when a file ends in the middle of an element: it
    returns what it could read. We compare each raw element's declared length
    with the bytes that were actually there.
    """
    if eof_warnings:
        return eof_warnings[0]
    last_end = 0
    for elem in _raw_elements(ds):
        length = elem.length
        if length == 0xFFFFFFFF:
            continue
        end = elem.value_tell + length
        if end > size:
            return (
                f"element {elem.tag} declares {length} bytes but the file ends "
                f"{end - size} bytes early"
            )
        if isinstance(elem.value, bytes) and len(elem.value) < length:
            return f"element {elem.tag} declares {length} bytes but only {len(elem.value)} were read"
        last_end = max(last_end, end)
    # The element generator silently stops when fewer than 8 bytes (one tag
    # header) remain; leftover bytes after the last complete element mean the
    # file was cut inside the next element's header.
    top = [e for e in ds._dict.values()]  # noqa: SLF001
    if top:
        last = max(top, key=lambda e: e.tag)
        if hasattr(last, "value_tell") and last.length != 0xFFFFFFFF:
            tail = size - (last.value_tell + last.length)
            if 0 < tail < 8:
                return f"{tail} stray bytes after the last complete element"
    return None


def load_dataset(
    source: str | os.PathLike[str] | bytes | BinaryIO | Dataset,
    *,
    with_pixels: bool = False,
) -> Dataset:
    """Parse ``source`` into a pydicom dataset, raising :class:`DicomHeaderError`.

    Parameters
    ----------
    source : path, bytes, binary file object or pydicom Dataset
        The DICOM file. A :class:`~pydicom.dataset.Dataset` is returned as is.
    with_pixels : bool
        If False (default) large values (pixel data) are deferred, not read.

    Returns
    -------
    pydicom.dataset.Dataset

    Raises
    ------
    DicomHeaderError
        ``not_dicom`` if the bytes are not a DICOM dataset, ``truncated`` if
        the file ends before its last element does, ``unreadable`` for any
        other parse failure.

    Notes
    -----
    Files without the 128-byte preamble and ``DICM`` prefix are accepted when
    they parse into a dataset that has a SOP Class UID (older exports, and
    pydicom's own ``rtstruct.dcm``, look like that); anything else without
    the prefix is "not DICOM".
    """
    if isinstance(source, Dataset):
        return source
    label = _source_label(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise DicomHeaderError(label, "unreadable", "file does not exist")
        data: bytes | None = None
        size = path.stat().st_size
        target: Any = os.fspath(path)
    else:
        data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else source.read()
        size = len(data)
        target = None
    if size == 0:
        raise DicomHeaderError(label, "not_dicom", "the file is empty (0 bytes), not a DICOM file")

    def _read(force: bool) -> tuple[Dataset, list[str]]:
        fp = io.BytesIO(data) if data is not None else target
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(
                fp, force=force, defer_size=None if with_pixels else 1024
            )
        eof = [
            str(w.message)
            for w in caught
            if "end of file" in str(w.message).lower() or "eof" in str(w.message).lower()
        ]
        return ds, eof

    try:
        try:
            ds, eof = _read(force=False)
            had_prefix = True
        except InvalidDicomError:
            ds, eof = _read(force=True)
            had_prefix = False
    except (EOFError, OSError, struct.error) as exc:
        raise DicomHeaderError(label, "truncated", f"the file ends unexpectedly ({exc})") from exc
    except Exception as exc:  # pydicom raises many types on garbage input
        raise DicomHeaderError(
            label, "unreadable", f"pydicom could not parse the file ({type(exc).__name__}: {exc})"
        ) from exc

    if not had_prefix:
        # force=True parses anything into "elements"; only trust it if it
        # looks like a real DICOM object.
        try:
            plausible = "SOPClassUID" in ds and str(ds.SOPClassUID).startswith("1.2.")
        except Exception:  # noqa: BLE001 - garbage elements can fail to convert
            plausible = False
        if not plausible:
            # A DICOM data set without its SOP Class UID still parses into
            # standard tags; random bytes give unknown ones.
            tags = [t for t in ds.keys() if t.group != 0x0002]
            known = sum(dictionary_has_tag(t) for t in tags)
            plausible = len(tags) >= 3 and known >= 0.8 * len(tags)
        if not plausible:
            raise DicomHeaderError(
                label,
                "not_dicom",
                "not a DICOM file: no 'DICM' prefix after the 128-byte preamble and no "
                "parsable DICOM data set (SOP Class UID missing); check that the file is "
                "a DICOM export and not e.g. a PDF, a JPEG or a ZIP archive",
            )
    if not any(tag.group != 0x0002 for tag in ds.keys()):
        raise DicomHeaderError(
            label,
            "truncated",
            "the file has a DICOM preamble/file meta header but no data set after it; it was "
            "probably cut off during transfer - re-send it from the source system",
        )
    reason = _truncation_reason(ds, size, eof)
    if reason is not None:
        raise DicomHeaderError(
            label,
            "truncated",
            f"the file is truncated ({reason}); it was probably cut off during transfer - "
            "re-send it from the source system",
        )
    return ds


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


def read_dicom_header(
    source: str | os.PathLike[str] | bytes | BinaryIO | Dataset,
) -> dict[str, Any]:
    """Read one DICOM file's header (pixel data deferred) and extract what ingest needs.

    Parameters
    ----------
    source : path, bytes, binary file object or pydicom Dataset

    Returns
    -------
    dict
        Keys (values are None when the attribute is absent):

        - identity: ``sop_class_uid``, ``sop_class_name``, ``sop_instance_uid``,
          ``study_instance_uid``, ``series_instance_uid``,
          ``frame_of_reference_uid``, ``patient_id``, ``modality``,
          ``study_date`` (date), ``study_time``, ``study_description``,
          ``series_description``, ``series_number``, ``instance_number``
        - kind: ``is_image``, ``is_multiframe``, ``has_pixel_data``,
          ``transfer_syntax_uid``, ``number_of_frames``
        - acquisition: ``manufacturer``, ``manufacturer_model_name``,
          ``convolution_kernel`` (multi-valued kernels joined with ``\\``),
          ``kvp``, ``contrast_bolus_agent``, ``acquisition_date``,
          ``acquisition_time``, ``acquisition_datetime``,
          ``patient_weight_kg``, ``patient_size_m``
        - geometry: ``rows``, ``columns``, ``pixel_spacing_mm`` (row, column
          spacing), ``slice_thickness_mm``, ``image_position_patient`` (x, y, z
          of the first voxel, first frame for multi-frame),
          ``image_orientation_patient`` (6 direction cosines)
        - pixel values: ``rescale_slope``, ``rescale_intercept``,
          ``rescale_type`` (slope 1 / intercept 0 when an image has none)
        - ``pet``: for modality PT a dict with ``radiopharmaceutical``,
          ``radionuclide_total_dose_bq``, ``radionuclide_half_life_s``,
          ``radiopharmaceutical_start_time``,
          ``radiopharmaceutical_start_datetime``, ``units``,
          ``decay_correction``, ``corrected_image``, ``decay_factor``,
          ``series_date``, ``series_time``, ``series_datetime``; else None
        - ``warnings``: list of human-readable notes about values that were
          present but unparseable (and therefore stored as None).

    Raises
    ------
    DicomHeaderError
        With ``code`` one of ``not_dicom``, ``truncated``, ``unreadable``,
        ``missing_attributes``, ``unsupported_sop_class``, ``no_pixel_data``.
    """
    label = _source_label(source)
    if isinstance(source, (bytes, bytearray)):
        elements = _plain_image_elements(source)
        if elements is not None:
            return header_from_dataset(elements, source=label)
    ds = load_dataset(source, with_pixels=False)
    return header_from_dataset(ds, source=label)


# --------------------------------------------------------------------------- the common case, without pydicom
#
# A DICOM listener reads a header for every instance while the sender waits; pydicom's dataset machinery costs
# ~1 ms per 512 x 512 CT slice, most of it per-element conversion and validation that a plain single-frame CT
# or MR slice does not need. ``_plain_image_elements`` walks such a file's bytes once and hands
# ``header_from_dataset`` the few values it reads, as pydicom would give them. It answers only for files it is
# sure about; anything else (another SOP class or transfer syntax, a character set escape or non-ASCII text in
# a value we read, multi-valued text, a value that is odd or does not convert, an element or sequence that
# does not fit the file, encapsulated pixel data, a missing attribute) returns None and goes the
# pydicom way, which also writes the curator's explanation. Tests check both ways give equal headers.

_PLAIN_SOP_CLASSES = frozenset({CT_IMAGE_STORAGE, MR_IMAGE_STORAGE})
_PLAIN_TRANSFER_SYNTAXES = {"1.2.840.10008.1.2.1": False, "1.2.840.10008.1.2": True}  # UID -> implicit VR
#: Character sets in which bytes below 0x80 (without escape sequences) are ASCII.
_ASCII_COMPATIBLE_CHARSETS = frozenset({
    "", "ISO_IR 6", "ISO_IR 100", "ISO_IR 101", "ISO_IR 109", "ISO_IR 110", "ISO_IR 126", "ISO_IR 127",
    "ISO_IR 138", "ISO_IR 144", "ISO_IR 148", "ISO_IR 166", "ISO_IR 203", "ISO_IR 192", "GB18030", "GBK",
})
#: tag -> (keyword, VR, multi-valued) for every element ``header_from_dataset`` reads from a single-frame image.
_PLAIN_TAGS = {
    0x00080016: ("SOPClassUID", "UI", False),
    0x00080018: ("SOPInstanceUID", "UI", False),
    0x00080020: ("StudyDate", "DA", False),
    0x00080022: ("AcquisitionDate", "DA", False),
    0x0008002A: ("AcquisitionDateTime", "DT", False),
    0x00080030: ("StudyTime", "TM", False),
    0x00080032: ("AcquisitionTime", "TM", False),
    0x00080060: ("Modality", "CS", False),
    0x00080070: ("Manufacturer", "LO", False),
    0x00081030: ("StudyDescription", "LO", False),
    0x0008103E: ("SeriesDescription", "LO", False),
    0x00081090: ("ManufacturerModelName", "LO", False),
    0x00100020: ("PatientID", "LO", False),
    0x00101020: ("PatientSize", "DS", False),
    0x00101030: ("PatientWeight", "DS", False),
    0x00180010: ("ContrastBolusAgent", "LO", False),
    0x00180050: ("SliceThickness", "DS", False),
    0x00180060: ("KVP", "DS", False),
    0x00181210: ("ConvolutionKernel", "SH", False),
    0x0020000D: ("StudyInstanceUID", "UI", False),
    0x0020000E: ("SeriesInstanceUID", "UI", False),
    0x00200011: ("SeriesNumber", "IS", False),
    0x00200013: ("InstanceNumber", "IS", False),
    0x00200032: ("ImagePositionPatient", "DS", True),
    0x00200037: ("ImageOrientationPatient", "DS", True),
    0x00200052: ("FrameOfReferenceUID", "UI", False),
    0x00280008: ("NumberOfFrames", "IS", False),
    0x00280010: ("Rows", "US", False),
    0x00280011: ("Columns", "US", False),
    0x00280030: ("PixelSpacing", "DS", True),
    0x00281052: ("RescaleIntercept", "DS", False),
    0x00281053: ("RescaleSlope", "DS", False),
    0x00281054: ("RescaleType", "LO", False),
}
_PLAIN_REQUIRED = (*_REQUIRED_ALL, *_REQUIRED_SINGLE_FRAME_IMAGE)
_PIXEL_DATA_TAG = 0x7FE00010
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_UNDEFINED = 0xFFFFFFFF
_unpack_tag_explicit = struct.Struct("<HH2sH").unpack_from
_unpack_tag_implicit = struct.Struct("<HHL").unpack_from
_unpack_u32 = struct.Struct("<L").unpack_from


class _Unsure(Exception):
    """The fast reader cannot vouch for this file: let pydicom read it."""


class _PlainElements:
    """The values ``header_from_dataset`` reads, as pydicom returns them (str, int, list of str)."""

    def __init__(self, values, file_meta=None):
        self._values = values
        self.file_meta = file_meta

    def get(self, keyword, default=None):
        return self._values.get(keyword, default)

    def __getattr__(self, keyword):
        try:
            return self.__dict__["_values"][keyword]
        except KeyError:
            raise AttributeError(keyword) from None

    def __contains__(self, keyword):
        return keyword in self._values


def _element_header(data, offset, implicit):
    """(tag, VR or None, length, value offset) of the element at ``offset`` (little endian)."""
    if implicit:
        group, element, length = _unpack_tag_implicit(data, offset)
        return (group << 16) | element, None, length, offset + 8
    group, element, vr, short = _unpack_tag_explicit(data, offset)
    if vr in _LONG_VRS:
        (length,) = _unpack_u32(data, offset + 8)
        return (group << 16) | element, vr, length, offset + 12
    if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
        raise _Unsure("not an explicit VR")
    return (group << 16) | element, vr, short, offset + 8


def _skip_undefined(data, offset, implicit, end_tag):
    """Offset just after the delimiter ``end_tag`` that closes the undefined-length value starting at ``offset``."""
    size = len(data)
    while offset + 8 <= size:
        group, element, length = _unpack_tag_implicit(data, offset)
        tag = (group << 16) | element
        if tag == end_tag:
            return offset + 8
        if tag == _ITEM:  # an item of a sequence
            offset = _skip_undefined(data, offset + 8, implicit, _ITEM_END) if length == _UNDEFINED \
                else offset + 8 + length
            continue
        tag, vr, length, offset = _element_header(data, offset, implicit)
        if length == _UNDEFINED:
            if vr not in (None, b"SQ", b"UN"):
                raise _Unsure("undefined length outside a sequence")
            offset = _skip_undefined(data, offset, implicit, _SEQUENCE_END)
        else:
            offset += length
    raise _Unsure("an undefined-length value runs past the end of the file")


def _text(raw, vr):
    if any(b >= 0x80 or b == 0x1B for b in raw):
        raise _Unsure("non-ASCII text")
    text = raw.decode("ascii")
    if vr == "UI":
        text = text.rstrip("\x00 ")
        if text.strip("0123456789."):
            raise _Unsure("not a plain UID")
    return text


_EMPTY = object()


def _plain_value(raw, vr, multi):
    """A value as pydicom returns it, or ``_EMPTY`` (``header_from_dataset`` reads "" like a missing value)."""
    if vr == "US":
        if not raw:
            return _EMPTY
        if len(raw) != 2:
            raise _Unsure("US value of another length")
        return int.from_bytes(raw, "little")
    text = _text(raw, vr)
    if not text.strip(" "):
        return _EMPTY
    if multi:
        values = text.split("\\")
        for v in values:
            float(v)  # ValueError -> pydicom decides
        return values
    if "\\" in text:
        raise _Unsure("multi-valued")
    if vr == "IS":
        return int(text)
    if vr == "DS":
        float(text)
    return text


def _plain_file_meta(data):
    """(transfer syntax UID, offset of the data set) from the file meta group, or raise _Unsure."""
    if len(data) < 144 or data[128:132] != b"DICM":
        raise _Unsure("no DICM prefix")
    tag, vr, length, value_at = _element_header(data, 132, False)
    if tag != 0x00020000 or vr != b"UL" or length != 4:
        raise _Unsure("no file meta group length")
    end = value_at + 4 + _unpack_u32(data, value_at)[0]
    offset, syntax = value_at + 4, None
    while offset < end:
        tag, vr, length, value_at = _element_header(data, offset, False)
        if tag >> 16 != 0x0002 or length == _UNDEFINED or value_at + length > end:
            raise _Unsure("odd file meta group")
        if tag == 0x00020010:
            syntax = _text(bytes(data[value_at:value_at + length]), "UI")
        offset = value_at + length
    if offset != end or syntax is None:
        raise _Unsure("odd file meta group")
    return syntax, end


def _plain_image_elements(data):
    """The values of a plain single-frame CT/MR file (see above), or None when pydicom should read it."""
    try:
        syntax, offset = _plain_file_meta(data)
        implicit = _PLAIN_TRANSFER_SYNTAXES.get(syntax)
        if implicit is None:
            return None
        size, values, pixels = len(data), {}, False
        while offset < size:
            if size - offset < 8:
                return None
            tag, vr, length, value_at = _element_header(data, offset, implicit)
            if tag == _PIXEL_DATA_TAG:  # native pixels; whatever follows them must fit the file too
                if length == _UNDEFINED or value_at + length > size or vr not in (None, b"OW", b"OB"):
                    return None
                pixels, offset = True, value_at + length
                continue
            if tag >> 16 == 0x0002 or tag in (_ITEM, _ITEM_END, _SEQUENCE_END):
                return None
            if length == _UNDEFINED:
                if vr not in (None, b"SQ", b"UN") or tag in _PLAIN_TAGS:
                    return None
                offset = _skip_undefined(data, value_at, implicit or vr == b"UN", _SEQUENCE_END)
                continue
            if value_at + length > size:
                return None
            spec = _PLAIN_TAGS.get(tag)
            if spec is not None:
                keyword, expected_vr, multi = spec
                if vr is not None and vr.decode("ascii") != expected_vr:
                    return None
                value = _plain_value(bytes(data[value_at:value_at + length]), expected_vr, multi)
                if value is _EMPTY:
                    values.pop(keyword, None)
                else:
                    values[keyword] = value
            elif tag == 0x00080005:  # the values we read must mean the same in it as in ASCII
                charsets = bytes(data[value_at:value_at + length]).decode("ascii").strip(" \x00").split("\\")
                if any(c.strip(" ") not in _ASCII_COMPATIBLE_CHARSETS for c in charsets):
                    return None
            offset = value_at + length
        if not pixels or values.get("SOPClassUID") not in _PLAIN_SOP_CLASSES or values.get("Modality") == "PT":
            return None
        if any(keyword not in values for keyword in _PLAIN_REQUIRED) or "NumberOfFrames" in values:
            return None
        values["PixelData"] = True  # native pixel data that fits the file (header_from_dataset asks "in")
        return _PlainElements(values, _PlainElements({"TransferSyntaxUID": syntax}))
    except (_Unsure, ValueError, struct.error, UnicodeError, RecursionError):
        return None
