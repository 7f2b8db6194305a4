"""Read the header of one DICOM file (without its pixels) into a plain dict.

This is the first thing ingest does with a file that arrived over C-STORE,
DICOMweb or an upload: decide whether radimmuno can use it at all, and pull out
the attributes the database, the volume assembly and radiomics need.

Everything that is wrong with a file is reported as one exception type,
:class:`DicomHeaderError`, whose ``code`` says what kind of trouble it is and
whose message is written for the curator who has to act on it (re-send the
series, ask the site for the original export, ...).

Two ways to the same dict: :mod:`.fast` walks the bytes of a plain single-frame CT/MR slice (the common case
on a listener, where pydicom costs ~1 ms per slice); everything else, and every explanation of what is wrong with a file,
goes the pydicom way (:mod:`.load` parses, :mod:`.extract` validates and extracts). :func:`read_dicom_header`
(:mod:`.read`) picks the way. The SOP classes accepted are in :mod:`.sop_classes`.

Pure Python (pydicom); no Django imports.
"""

from .errors import DicomHeaderError
from .extract import header_from_dataset
from .load import load_dataset
from .read import read_dicom_header
from .sop_classes import (
    ACCEPTED_SOP_CLASSES,
    CT_IMAGE_STORAGE,
    ENHANCED_CT_IMAGE_STORAGE,
    ENHANCED_MR_IMAGE_STORAGE,
    IMAGE_SOP_CLASSES,
    MR_IMAGE_STORAGE,
    MULTIFRAME_IMAGE_SOP_CLASSES,
    PET_IMAGE_STORAGE,
    RTSTRUCT_SOP_CLASS,
    SEGMENTATION_SOP_CLASS,
)

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
    "CT_IMAGE_STORAGE",
    "ENHANCED_CT_IMAGE_STORAGE",
    "MR_IMAGE_STORAGE",
    "ENHANCED_MR_IMAGE_STORAGE",
    "PET_IMAGE_STORAGE",
]
