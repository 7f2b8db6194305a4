"""Vocabularies of the analytics app."""
from django.db import models


class Criteria(models.TextChoices):
    RECIST = "recist1.1", "RECIST 1.1"
    IRECIST = "irecist", "iRECIST"


class AlertKind(models.TextChoices):
    """What a worklist row asks someone to do (docs/analytics.md, "Worklist")."""
    SCAN_TO_READ = "scan-to-read", "Scan to read"
    CONFIRMATION_DUE = "confirmation-due", "Confirmation scan due"
    HYPERPROGRESSION = "hyperprogression", "Hyperprogression"
    DISSOCIATED = "dissociated", "Dissociated response"
    IRAE = "irae", "Grade ≥ 3 irAE"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
