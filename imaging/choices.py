"""Vocabularies of the imaging app."""
from django.db import models


class TimepointKind(models.TextChoices):
    PRE_BASELINE = "pre-baseline", "Pre-baseline"
    BASELINE = "baseline", "Baseline"
    FOLLOW_UP = "follow-up", "Follow-up"
    UNSCHEDULED = "unscheduled", "Unscheduled"


class Organ(models.TextChoices):
    """Organ/site of a lesion. All lymph nodes count as one organ for target selection (RECIST 1.1, §1.2)."""

    LUNG = "lung", "Lung"
    LIVER = "liver", "Liver"
    LYMPH_NODE = "lymph_node", "Lymph node"
    ADRENAL = "adrenal", "Adrenal gland"
    BONE = "bone", "Bone"
    BRAIN = "brain", "Brain"
    KIDNEY = "kidney", "Kidney"
    PERITONEUM = "peritoneum", "Peritoneum"
    PLEURA = "pleura", "Pleura"
    SKIN = "skin", "Skin / subcutaneous"
    SOFT_TISSUE = "soft_tissue", "Soft tissue"
    SPLEEN = "spleen", "Spleen"
    PANCREAS = "pancreas", "Pancreas"
    STOMACH = "stomach", "Stomach"
    BOWEL = "bowel", "Bowel"
    BLADDER = "bladder", "Bladder"
    HEAD_NECK = "head_neck", "Head & neck"
    OTHER = "other", "Other"


class LesionRole(models.TextChoices):
    TARGET = "target", "Target"
    NON_TARGET = "non-target", "Non-target"
    NEW = "new", "New"


class MeasurementStatus(models.TextChoices):
    """RECIST 1.1 §1.3: a present lesion has a size; too small → 5 mm default; disappeared → 0 mm."""

    PRESENT = "present", "Present (measured)"
    TOO_SMALL = "too-small-to-measure", "Too small to measure"
    DISAPPEARED = "disappeared", "Disappeared"
    NOT_ASSESSED = "not-assessed", "Not assessed"


class NonTargetStatus(models.TextChoices):
    """Non-target assessment (RECIST 1.1 §1.5; ``increased`` is iRECIST only)."""

    PRESENT = "present", "Present"
    ABSENT = "absent", "Absent"
    UNEQUIVOCAL_PROGRESSION = "unequivocal-progression", "Unequivocal progression"
    INCREASED = "increased-from-last-assessment", "Increased since last assessment (iRECIST)"
    NOT_EVALUATED = "not-evaluated", "Not evaluated"


class MeasurementSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    SEGMENTATION = "segmentation", "Derived from a segmentation"


class IngestSource(models.TextChoices):
    UPLOAD = "upload", "Upload (web page)"
    API = "api", "Upload (API)"
    IMPORT = "import", "import_dicom command"
    NETWORK = "network", "DICOM network (C-STORE)"
    DEMO = "demo", "Demo generator"
    RETRY = "retry", "Re-ingest from quarantine"


class VolumeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    OK = "ok", "OK"
    WARNINGS = "warnings", "OK with warnings"
    FAILED = "failed", "Failed"
    NOT_IMAGE = "not-image", "Not an image series"


class QuarantineReason(models.TextChoices):
    NOT_DICOM = "not_dicom", "Not a DICOM file"
    TRUNCATED = "truncated", "Truncated"
    UNREADABLE = "unreadable", "Unreadable"
    MISSING_ATTRIBUTES = "missing_attributes", "Required attributes missing"
    UNSUPPORTED_SOP_CLASS = "unsupported_sop_class", "Unsupported SOP class"
    NO_PIXEL_DATA = "no_pixel_data", "No pixel data"
    UNKNOWN_PATIENT = "unknown_patient", "Unknown patient"
    PATIENT_MISMATCH = "patient_mismatch", "Study belongs to another patient"
    CONFLICT = "conflict", "Same SOP Instance UID, different content"
    UNKNOWN_REFERENCE = "unknown_reference", "References an unknown series"
    GEOMETRY_MISMATCH = "geometry_mismatch", "Mask grid does not match its series"
    SEGMENTATION_ERROR = "segmentation_error", "Segmentation unreadable"
    NO_REFERENCE_SERIES = "no_reference_series", "Label map without a matching series"
    TOO_LARGE = "too_large", "File too large"
    INTERNAL_ERROR = "internal_error", "Internal error"


class QuarantineStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    DISCARDED = "discarded", "Discarded"


class SegmentationKind(models.TextChoices):
    SEG = "seg", "DICOM SEG"
    RTSTRUCT = "rtstruct", "RT Structure Set"
    LABEL_MAP = "labelmap", "Label map (NIfTI/NRRD)"


class LesionMapping(models.TextChoices):
    LABEL = "label", "By segment label"
    CURATOR = "curator", "Assigned by a curator"
    UNMATCHED = "unmatched", "Not matched"


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed (awaiting a clinician)"
    ACCEPTED = "accepted", "Accepted"
    OVERRIDDEN = "overridden", "Overridden by a clinician"
    EMPTY = "empty", "Empty mask"
