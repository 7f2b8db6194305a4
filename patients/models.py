"""Who is treated with what: sites, patients (pseudonymous), identities (kept apart), treatment, biomarkers,
immune-related adverse events and outcomes.

Research code reads ``Patient`` and never needs ``PatientIdentity``: names, MRNs and full dates of birth live
only there.
"""
import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords

from radimmuno.versioning import VersionedModel

from . import choices
from .querysets import PatientQuerySet

study_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$",
    "Study IDs use letters, digits, '.', '_' or '-' (max 40 characters), starting with a letter or digit.",
)


def _current_year():
    return datetime.date.today().year


def _check_not_future(errors, field, value, label):
    if value and value > datetime.date.today():
        errors[field] = f"{label} ({value.isoformat()}) is in the future."


class Site(models.Model):
    """A hospital or department. Every patient belongs to one; access is scoped by site."""

    code = models.SlugField(max_length=32, unique=True, help_text="Short stable code, e.g. 'GR-ONC'.")
    name = models.CharField(max_length=200)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Patient(models.Model):
    """A patient under a pseudonymous study ID. Nothing here identifies a person."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    study_id = models.CharField("study ID", max_length=40, validators=[study_id_validator])
    sex = models.CharField(max_length=1, choices=choices.Sex.choices, default=choices.Sex.UNKNOWN)
    year_of_birth = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1900)]
    )
    tumour_type = models.CharField(max_length=20, choices=choices.TumourType.choices)
    histology = models.CharField(max_length=200, blank=True)
    stage = models.CharField(max_length=20, blank=True, help_text="AJCC stage at diagnosis, e.g. 'IVA'.")
    diagnosis_date = models.DateField(null=True, blank=True)
    ecog_baseline = models.PositiveSmallIntegerField(
        "baseline ECOG", choices=choices.ECOG.choices, null=True, blank=True
    )
    smoking_status = models.CharField(
        max_length=10, choices=choices.SmokingStatus.choices, default=choices.SmokingStatus.UNKNOWN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    care_team = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="CareTeamMember", related_name="care_team_patients", blank=True,
        help_text="The clinicians who follow this patient: their worklist and patient list can show just these.")
    history = HistoricalRecords()

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["site__code", "study_id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "study_id"], name="patient_unique_study_id_per_site"),
        ]

    def __str__(self):
        return self.study_id

    def get_absolute_url(self):
        return reverse("patients:patient-detail", kwargs={"pk": self.pk})

    def clean(self):
        errors = {}
        if self.year_of_birth and self.year_of_birth > _current_year():
            errors["year_of_birth"] = f"Year of birth {self.year_of_birth} is in the future."
        _check_not_future(errors, "diagnosis_date", self.diagnosis_date, "Diagnosis date")
        if self.diagnosis_date and self.year_of_birth and self.diagnosis_date.year < self.year_of_birth:
            errors["diagnosis_date"] = (
                f"Diagnosis date {self.diagnosis_date.isoformat()} is before the year of birth "
                f"{self.year_of_birth}."
            )
        if errors:
            raise ValidationError(errors)


class CareTeamMember(models.Model):
    """A clinician following a patient ("my patients" on the worklist and the patient list)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_team_members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_team_members")
    added_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "user"]
        constraints = [models.UniqueConstraint(fields=["patient", "user"], name="care_team_member_unique")]

    def __str__(self):
        return f"{self.user} follows {self.patient}"


class PatientIdentity(models.Model):
    """Identifying data, one-to-one with a patient. Only clinical views and DICOM matching read it."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="identity")
    family_name = models.CharField(max_length=100, blank=True)
    given_name = models.CharField(max_length=100, blank=True)
    mrn = models.CharField(
        "MRN", max_length=64, blank=True, help_text="Medical record number; matched to DICOM Patient ID."
    )
    date_of_birth = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "patient identity"
        verbose_name_plural = "patient identities"
        constraints = [
            models.UniqueConstraint(
                fields=["mrn"], condition=~models.Q(mrn=""), name="identity_unique_mrn_when_set"
            ),
        ]

    def __str__(self):
        # Deliberately not the name or MRN: __str__ ends up in logs and admin messages.
        return f"identity of {self.patient}"

    def clean(self):
        errors = {}
        _check_not_future(errors, "date_of_birth", self.date_of_birth, "Date of birth")
        patient = getattr(self, "patient", None) if self.patient_id else None
        if self.date_of_birth and patient and patient.year_of_birth:
            if self.date_of_birth.year != patient.year_of_birth:
                errors["date_of_birth"] = (
                    f"Date of birth year {self.date_of_birth.year} disagrees with the patient's year of birth "
                    f"{patient.year_of_birth}."
                )
        if errors:
            raise ValidationError(errors)


class Drug(models.Model):
    """A drug of the vocabulary, by its international non-proprietary name."""

    name = models.CharField(max_length=100, unique=True)
    drug_class = models.CharField(max_length=20, choices=choices.DrugClass.choices)
    target = models.CharField(max_length=100, blank=True, help_text="Molecular target, e.g. 'PD-1'.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_drug_class_display()})"

    @property
    def is_ici(self):
        return self.drug_class in choices.ICI_CLASSES


class TreatmentRegimen(VersionedModel):
    """A line of systemic therapy: one or more agents given together, from start to end (versioned:
    radimmuno.versioning)."""

    conflict_fields = ("line_of_therapy", "start_date", "end_date", "end_reason")  # never free text

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="regimens")
    agents = models.ManyToManyField(Drug, related_name="regimens")
    line_of_therapy = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(15)]
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=choices.EndReason.choices, blank=True)
    notes = models.TextField(blank=True)
    history = HistoricalRecords(m2m_fields=[agents], excluded_fields=["version"])

    class Meta:
        ordering = ["patient", "start_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "start_date", "line_of_therapy"], name="regimen_unique_start_per_line"
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="regimen_end_not_before_start",
            ),
        ]

    def __str__(self):
        return f"{self.patient} line {self.line_of_therapy} from {self.start_date.isoformat()}"

    def clean(self):
        errors = {}
        if self.end_date and self.start_date and self.end_date < self.start_date:
            errors["end_date"] = (
                f"End date {self.end_date.isoformat()} is before the start date {self.start_date.isoformat()}."
            )
        if self.end_reason and not self.end_date:
            errors["end_date"] = "An end reason is given, so the end date is required."
        if errors:
            raise ValidationError(errors)

    @property
    def agent_names(self):
        return " + ".join(d.name for d in self.agents.all())


class BiomarkerKind(models.Model):
    """What a biomarker measures, its unit and what values are valid (a range or a list of categories)."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    unit = models.CharField(max_length=30, blank=True)
    value_type = models.CharField(max_length=12, choices=choices.BiomarkerValueType.choices)
    min_value = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    categories = models.JSONField(default=list, blank=True, help_text="Allowed values for categorical kinds.")
    default_specimen = models.CharField(max_length=10, choices=choices.Specimen.choices, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.unit})" if self.unit else self.name

    def clean(self):
        if self.value_type == choices.BiomarkerValueType.CATEGORICAL and not self.categories:
            raise ValidationError({"categories": "A categorical biomarker kind needs its list of categories."})
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValidationError({"max_value": "The maximum is below the minimum."})

    def validate_value(self, *, numeric, category):
        """Return a dict of field errors for a value of this kind (empty when valid)."""
        if self.value_type == choices.BiomarkerValueType.NUMERIC:
            if numeric is None:
                return {"value_numeric": f"{self.name} is numeric: give a value in {self.unit or 'its unit'}."}
            if category:
                return {"value_category": f"{self.name} is numeric; leave the category empty."}
            if self.min_value is not None and numeric < self.min_value:
                return {"value_numeric": f"{self.name} must be ≥ {self.min_value.normalize():f} {self.unit}".strip()
                        + f", got {numeric}."}
            if self.max_value is not None and numeric > self.max_value:
                return {"value_numeric": f"{self.name} must be ≤ {self.max_value.normalize():f} {self.unit}".strip()
                        + f", got {numeric}."}
            return {}
        if numeric is not None:
            return {"value_numeric": f"{self.name} is categorical; leave the numeric value empty."}
        if category not in self.categories:
            allowed = ", ".join(self.categories)
            return {"value_category": f"{self.name} must be one of: {allowed} (got {category!r})."}
        return {}


class Biomarker(models.Model):
    """One biomarker result for a patient on a date."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="biomarkers")
    kind = models.ForeignKey(BiomarkerKind, on_delete=models.PROTECT, related_name="results")
    value_numeric = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    value_category = models.CharField(max_length=40, blank=True)
    measured_on = models.DateField()
    specimen = models.CharField(max_length=10, choices=choices.Specimen.choices)
    assay = models.CharField(max_length=100, blank=True, help_text="Assay or antibody clone, e.g. '22C3'.")
    source = models.CharField(
        max_length=10, choices=choices.BiomarkerSource.choices, default=choices.BiomarkerSource.MEASURED
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "measured_on", "kind__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "kind", "measured_on", "specimen", "source"],
                name="biomarker_unique_per_day_specimen_source",
            ),
        ]

    def __str__(self):
        return f"{self.kind.name} {self.display_value} ({self.measured_on.isoformat()})"

    @property
    def display_value(self):
        if self.value_numeric is not None:
            return f"{self.value_numeric.normalize():f} {self.kind.unit}".strip()
        return self.value_category

    def clean(self):
        errors = {}
        _check_not_future(errors, "measured_on", self.measured_on, "Biomarker date")
        if self.kind_id:
            errors.update(self.kind.validate_value(numeric=self.value_numeric, category=self.value_category))
        if errors:
            raise ValidationError(errors)


class AdverseEvent(models.Model):
    """An immune-related adverse event, graded by CTCAE v5."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="adverse_events")
    regimen = models.ForeignKey(
        TreatmentRegimen, on_delete=models.SET_NULL, null=True, blank=True, related_name="adverse_events"
    )
    term = models.CharField("CTCAE term", max_length=30, choices=choices.AETerm.choices)
    term_other = models.CharField("other term", max_length=100, blank=True)
    grade = models.PositiveSmallIntegerField(
        choices=choices.AEGrade.choices, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    onset_date = models.DateField()
    resolution_date = models.DateField(null=True, blank=True)
    corticosteroids = models.BooleanField(default=False)
    other_immunosuppressants = models.BooleanField(default=False)
    ici_action = models.CharField(
        "ICI action", max_length=15, choices=choices.ICIAction.choices, default=choices.ICIAction.NONE
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "onset_date"]
        verbose_name = "adverse event (irAE)"
        constraints = [
            models.UniqueConstraint(fields=["patient", "term", "onset_date"], name="ae_unique_term_onset"),
            models.CheckConstraint(condition=models.Q(grade__gte=1, grade__lte=5), name="ae_grade_1_to_5"),
            models.CheckConstraint(
                condition=models.Q(resolution_date__isnull=True)
                | models.Q(resolution_date__gte=models.F("onset_date")),
                name="ae_resolution_not_before_onset",
            ),
        ]

    def __str__(self):
        return f"{self.get_term_display()} grade {self.grade} ({self.onset_date.isoformat()})"

    def clean(self):
        errors = {}
        if self.resolution_date and self.onset_date and self.resolution_date < self.onset_date:
            errors["resolution_date"] = (
                f"Resolution date {self.resolution_date.isoformat()} is before the onset date "
                f"{self.onset_date.isoformat()}."
            )
        if self.term == choices.AETerm.OTHER and not self.term_other:
            errors["term_other"] = "The term is 'Other': name the adverse event."
        if self.regimen_id and self.patient_id and self.regimen.patient_id != self.patient_id:
            errors["regimen"] = "This regimen belongs to another patient."
        if errors:
            raise ValidationError(errors)


class Outcome(models.Model):
    """Follow-up and outcome: last contact, vital status, death, clinical progression."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="outcome")
    last_contact_date = models.DateField()
    vital_status = models.CharField(
        max_length=10, choices=choices.VitalStatus.choices, default=choices.VitalStatus.ALIVE
    )
    death_date = models.DateField(null=True, blank=True)
    clinical_progression_date = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "follow-up / outcome"
        verbose_name_plural = "follow-ups / outcomes"

    def __str__(self):
        return f"{self.patient}: {self.get_vital_status_display()} at {self.last_contact_date.isoformat()}"

    def clean(self):
        errors = {}
        if self.vital_status == choices.VitalStatus.DEAD and not self.death_date:
            errors["death_date"] = "Vital status is 'dead': the date of death is required."
        if self.death_date and self.vital_status != choices.VitalStatus.DEAD:
            errors["vital_status"] = "A date of death is given, so vital status must be 'dead'."
        if self.death_date and self.last_contact_date and self.last_contact_date > self.death_date:
            errors["last_contact_date"] = (
                f"Last contact {self.last_contact_date.isoformat()} is after the date of death "
                f"{self.death_date.isoformat()}."
            )
        if (
            self.clinical_progression_date
            and self.death_date
            and self.clinical_progression_date > self.death_date
        ):
            errors["clinical_progression_date"] = "Clinical progression is dated after death."
        _check_not_future(errors, "last_contact_date", self.last_contact_date, "Last contact date")
        if errors:
            raise ValidationError(errors)


class DemoGroundTruth(models.Model):
    """The response pattern a synthetic demo patient was generated with: ground truth for analytics tests.

    Only ``seed_demo`` writes it; real patients never have one.
    """

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="demo_truth")
    pattern = models.CharField(max_length=30)
    parameters = models.JSONField(default=dict)
    seed = models.BigIntegerField()

    def __str__(self):
        return f"{self.patient}: {self.pattern}"


class ImportRun(models.Model):
    """One run of a file import (command or upload): what was read, what it did, who ran it."""

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        DRY_RUN = "dry-run", "Dry run"
        REJECTED = "rejected", "Rejected (nothing written)"

    class Kind(models.TextChoices):
        CLINICAL = "clinical", "Clinical data (import_clinical)"
        MEASUREMENTS = "measurements", "Tumour measurements (import_measurements)"
        FEATURES = "features", "External features (import_features)"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CLINICAL, db_index=True)
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices)
    rows = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict)
    problems = models.JSONField(default=list)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.filename} ({self.get_status_display()}, {self.created_at:%Y-%m-%d %H:%M})"
