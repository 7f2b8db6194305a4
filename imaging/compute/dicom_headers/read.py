"""Read one DICOM file's header: the fast path when it can vouch for the file, else the pydicom path.

Pure Python (pydicom); no Django imports.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from pydicom.dataset import Dataset

from .errors import _source_label
from .extract import header_from_dataset
from .fast import _plain_image_elements
from .load import load_dataset


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
