"""A 3-D volume as a single-frame CT Image Storage series (one file per slice, int16 + RescaleSlope/Intercept).

Pure Python (numpy, pydicom, SimpleITK); no Django imports.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from ..dicom_headers import CT_IMAGE_STORAGE
from ..volume import Geometry
from .encoding import IMPLEMENTATION_NAME, _da, _ds, _file_meta, _uid


@dataclass(frozen=True)
class WrittenSeries:
    """What :func:`write_ct_series` wrote."""

    paths: tuple[Path, ...]  # one per slice, in z order
    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str
    sop_instance_uids: tuple[str, ...]



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
