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
