"""Read the pixels of a laid-out series into a rescaled ``(z, y, x)`` volume (HU for CT, SUVbw for PET).

Pure Python (numpy, pydicom, SimpleITK); no Django imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pydicom
import SimpleITK as sitk

from .errors import VolumeAssemblyError
from .layout import SeriesLayout, SeriesSource, read_series_layout
from .suv import suv_bw_factor


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
