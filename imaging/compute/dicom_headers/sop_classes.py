"""The DICOM objects radimmuno ingests, and the attributes every one of them must have.

Shared by both header paths (:mod:`.fast` and :mod:`.extract`). Pure Python; no Django imports.
"""

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
