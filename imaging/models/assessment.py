"""What the scans show: imaging assessments (timepoints), lesions and their measurements.

Measurability rules follow RECIST 1.1 (``docs/response-rules.md`` §1.1–1.3).
"""
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Patient, TreatmentRegimen
from radimmuno.versioning import VersionedModel

from .. import choices

MAX_TARGETS = 5  # RECIST 1.1 §1.2
MAX_TARGETS_PER_ORGAN = 2  # RECIST 1.1 §1.2; all lymph nodes count as one organ
MIN_TARGET_NON_NODAL_MM = Decimal(10)  # RECIST 1.1 §1.1
MIN_TARGET_NODAL_MM = Decimal(15)  # RECIST 1.1 §1.1 (short axis)


class Timepoint(VersionedModel):
    """One imaging assessment of a patient on a date (versioned: radimmuno.versioning)."""

    conflict_fields = ("date", "kind", "regimen")  # never free text (messages name the values)

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="timepoints")
    regimen = models.ForeignKey(
        TreatmentRegimen,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="timepoints",
        help_text="The regimen this assessment evaluates. Left empty, it is chosen from the dates.",
    )
    date = models.DateField()
    kind = models.CharField(max_length=15, choices=choices.TimepointKind.choices)
    days_from_regimen_start = models.IntegerField(
        null=True, blank=True, editable=False, help_text="Calendar days from the regimen start (negative before)."
    )
    notes = models.TextField(blank=True)
    history = HistoricalRecords(excluded_fields=["version"])  # a counter, not clinical content

    class Meta:
        ordering = ["patient", "date"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "date"], name="timepoint_unique_date_per_patient"),
        ]

    def __str__(self):
        return f"{self.patient} {self.get_kind_display().lower()} {self.date.isoformat()}"

    def clean(self):
        errors = {}
        if self.regimen_id and self.patient_id and self.regimen.patient_id != self.patient_id:
            errors["regimen"] = "This regimen belongs to another patient."
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        self.days_from_regimen_start = (
            (self.date - self.regimen.start_date).days if self.regimen_id and self.date else None
        )
        super().save(*args, **kwargs)


class Lesion(VersionedModel):
    """A lesion followed over time: a baseline target or non-target, or a new lesion (versioned)."""

    conflict_fields = ("label", "organ", "nodal", "role", "equivocal")  # never free text

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="lesions")
    label = models.CharField(max_length=20, help_text="Reader's label, e.g. T1, NT2, N1.")
    organ = models.CharField(max_length=20, choices=choices.Organ.choices)
    location = models.CharField(max_length=200, blank=True, help_text="e.g. 'right upper lobe, segment 2'.")
    nodal = models.BooleanField(
        default=False, help_text="Lymph node: its short axis is measured instead of the longest diameter."
    )
    role = models.CharField(max_length=12, choices=choices.LesionRole.choices)
    appeared_at = models.ForeignKey(
        Timepoint,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="new_lesions",
        help_text="For new lesions: the assessment where it first appeared.",
    )
    equivocal = models.BooleanField(default=False, help_text="New lesion not yet unequivocal (RECIST 1.1 §1.6).")
    split_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="fragments",
        help_text="The lesion this one split off from (its size is added to the original's).",
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_from",
        help_text="The lesion this one coalesced into.",
    )
    history = HistoricalRecords(excluded_fields=["version"])  # a counter, not clinical content

    class Meta:
        ordering = ["patient", "role", "label"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "label"], name="lesion_unique_label_per_patient"),
        ]

    def __str__(self):
        return f"{self.patient} {self.label} ({self.get_organ_display().lower()}, {self.get_role_display().lower()})"

    @property
    def organ_group(self):
        """Organ for the 2-per-organ rule: every lymph node counts as one organ (RECIST 1.1 §1.2)."""
        return choices.Organ.LYMPH_NODE if self.nodal else self.organ

    def clean(self):
        errors = {}
        if self.role == choices.LesionRole.NEW:
            if not self.appeared_at_id:
                errors["appeared_at"] = "A new lesion needs the timepoint where it first appeared."
        elif self.appeared_at_id:
            errors["appeared_at"] = "Only new lesions have an 'appeared at' timepoint; baseline lesions do not."
        elif self.equivocal:
            errors["equivocal"] = "Only new lesions can be equivocal."
        if self.patient_id:
            if self.appeared_at_id and self.appeared_at.patient_id != self.patient_id:
                errors["appeared_at"] = "This timepoint belongs to another patient."
            for field in ("split_from", "merged_into"):
                other = getattr(self, field)
                if other is not None:
                    if other.patient_id != self.patient_id:
                        errors[field] = "That lesion belongs to another patient."
                    elif self.pk and other.pk == self.pk:
                        errors[field] = "A lesion cannot be linked to itself."
            if self.nodal and self.organ != choices.Organ.LYMPH_NODE:
                errors["organ"] = "A nodal lesion's organ is 'Lymph node'."
            if self.role == choices.LesionRole.TARGET:
                errors.update(self._target_count_errors())
        if errors:
            raise ValidationError(errors)

    def _target_count_errors(self):
        others = Lesion.objects.filter(patient_id=self.patient_id, role=choices.LesionRole.TARGET).exclude(
            pk=self.pk
        )
        targets = list(others.only("organ", "nodal", "label"))
        if len(targets) >= MAX_TARGETS:
            labels = ", ".join(t.label for t in targets)
            return {
                "role": f"RECIST 1.1 allows at most {MAX_TARGETS} target lesions; this patient already has "
                f"{len(targets)} ({labels}). Record this lesion as non-target."
            }
        same_organ = [t for t in targets if t.organ_group == self.organ_group]
        if len(same_organ) >= MAX_TARGETS_PER_ORGAN:
            organ = "lymph nodes" if self.nodal else self.get_organ_display().lower()
            labels = ", ".join(t.label for t in same_organ)
            return {
                "role": f"RECIST 1.1 allows at most {MAX_TARGETS_PER_ORGAN} target lesions per organ; "
                f"{organ} already has {labels}. Record this lesion as non-target."
            }
        return {}


class LesionMeasurement(VersionedModel):
    """A lesion's size at one assessment: longest diameter, or short axis for a node (RECIST 1.1 §1.3). Versioned:
    two people correcting the same cell never overwrite each other silently (radimmuno.versioning)."""

    conflict_fields = ("size_mm", "status", "non_target_status")

    lesion = models.ForeignKey(Lesion, on_delete=models.CASCADE, related_name="measurements")
    timepoint = models.ForeignKey(Timepoint, on_delete=models.CASCADE, related_name="measurements")
    size_mm = models.DecimalField(
        "size (mm)",
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0), "A size cannot be negative.")],
    )
    status = models.CharField(
        max_length=25, choices=choices.MeasurementStatus.choices, default=choices.MeasurementStatus.PRESENT
    )
    non_target_status = models.CharField(
        max_length=35, choices=choices.NonTargetStatus.choices, blank=True,
        help_text="Assessment of a non-target lesion (instead of, or beside, a size).",
    )
    source = models.CharField(
        max_length=15, choices=choices.MeasurementSource.choices, default=choices.MeasurementSource.MANUAL
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["version"])  # a counter, not clinical content

    class Meta:
        ordering = ["timepoint__date", "lesion__label"]
        constraints = [
            models.UniqueConstraint(fields=["lesion", "timepoint"], name="measurement_unique_per_timepoint"),
            models.CheckConstraint(
                condition=models.Q(size_mm__isnull=True) | models.Q(size_mm__gte=0),
                name="measurement_size_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.lesion.label} at {self.timepoint.date.isoformat()}: {self.display_size}"

    @property
    def display_size(self):
        if self.size_mm is not None:
            return f"{self.size_mm.normalize():f} mm"
        return self.get_status_display().lower()

    def clean(self):
        errors = {}
        status = self.status
        S = choices.MeasurementStatus
        if self.size_mm is not None and self.size_mm < 0:
            errors["size_mm"] = "A size cannot be negative."
        elif status == S.PRESENT and self.size_mm is None and not self.non_target_status:
            errors["size_mm"] = (
                "The lesion is 'present': give its size in mm (or, for a non-target lesion, its non-target "
                "status), or choose another status."
            )
        elif status in (S.TOO_SMALL, S.NOT_ASSESSED) and self.size_mm is not None:
            errors["size_mm"] = (
                f"Status '{self.get_status_display()}' has no size (RECIST uses 5 mm for too-small lesions); "
                "leave the size empty or set status 'present'."
            )
        elif status == S.DISAPPEARED and self.size_mm not in (None, Decimal(0)):
            lesion = self.lesion if self.lesion_id else None
            if not (lesion and lesion.nodal):  # nodes keep their short axis (RECIST 1.1 §1.3)
                errors["size_mm"] = "A disappeared lesion measures 0 mm; leave the size empty or enter 0."
        if self.lesion_id and self.timepoint_id:
            lesion, timepoint = self.lesion, self.timepoint
            if lesion.patient_id != timepoint.patient_id:
                errors["timepoint"] = (
                    f"This timepoint belongs to another patient than lesion {lesion.label}; "
                    "a measurement must be of the lesion's own patient."
                )
            elif lesion.appeared_at_id and timepoint.date < lesion.appeared_at.date:
                errors["timepoint"] = (
                    f"Lesion {lesion.label} first appeared on {lesion.appeared_at.date.isoformat()}; it cannot "
                    f"be measured on {timepoint.date.isoformat()}."
                )
            elif (
                lesion.role == choices.LesionRole.TARGET
                and timepoint.kind == choices.TimepointKind.BASELINE
                and "size_mm" not in errors
            ):
                errors.update(self._baseline_target_errors(lesion))
        if errors:
            raise ValidationError(errors)

    def _baseline_target_errors(self, lesion):
        """RECIST 1.1 §1.1: at baseline a target must be measurable."""
        if self.status != choices.MeasurementStatus.PRESENT or self.size_mm is None:
            return {"status": f"Target {lesion.label} must be measured at baseline (a size in mm)."}
        if lesion.nodal and self.size_mm < MIN_TARGET_NODAL_MM:
            return {
                "size_mm": f"A nodal target needs a short axis ≥ {MIN_TARGET_NODAL_MM} mm at baseline "
                f"(got {self.size_mm.normalize():f} mm); record node {lesion.label} as non-target."
            }
        if not lesion.nodal and self.size_mm < MIN_TARGET_NON_NODAL_MM:
            return {
                "size_mm": f"A non-nodal target needs a longest diameter ≥ {MIN_TARGET_NON_NODAL_MM} mm at "
                f"baseline (got {self.size_mm.normalize():f} mm); record lesion {lesion.label} as non-target."
            }
        return {}
