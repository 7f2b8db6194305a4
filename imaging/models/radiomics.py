"""Radiomics: versioned extraction profiles and the feature sets they produce, with full provenance."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from radimmuno.jobs import BackgroundJob

from .dicom import Segment

LESION_REGION = "lesion"


class ExtractionProfile(models.Model):
    """A named, versioned pyradiomics parameter set (validated with pyradiomics' schema).

    Rows are immutable once used: editing a profile creates its next version (``services.profile_save``), and
    every feature set stays tied to the version that produced it.

    An *external* profile (``source``) names features computed by another tool and imported
    (``import_features``): its parameters are free text (``params = {"description": ...}``), it has no modality
    and is never active, so nothing is extracted with it. A name is either pyradiomics or external, never both.
    """

    class Source(models.TextChoices):
        PYRADIOMICS = "pyradiomics", "pyradiomics (extracted here)"
        EXTERNAL = "external", "External (imported with import_features)"

    name = models.SlugField(max_length=64)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.PYRADIOMICS)
    version = models.PositiveIntegerField()
    modality = models.CharField(
        max_length=8, blank=True, help_text="CT, MR or PT: extract automatically for this modality ('' = none)."
    )
    params = models.JSONField(help_text="pyradiomics parameters (setting / imageType / featureClass).")
    params_hash = models.CharField(max_length=64, help_text="SHA-256 of the canonical parameters.")
    rings_mm = models.JSONField(
        default=list, blank=True,
        help_text="Peritumoral rings [[inner, outer], ...] in mm, extracted besides the lesion itself.",
    )
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True, help_text="New segmentations are extracted with this profile.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="profile_unique_version")]

    def __str__(self):
        return f"{self.name} v{self.version}"

    def clean(self):
        errors = {}
        if self.name:
            other = (ExtractionProfile.objects.filter(name=self.name).exclude(source=self.source)
                     .exclude(pk=self.pk).values_list("source", flat=True).first())
            if other:
                errors["name"] = (f"'{self.name}' is already the name of an {other} profile; features of the two "
                                  "kinds are never mixed under one name. Choose another name.")
        if self.source == self.Source.EXTERNAL and (self.active or self.modality):
            errors["active"] = "An external profile is never extracted: it has no modality and is not active."
        if errors:
            raise ValidationError(errors)

    @property
    def is_external(self):
        return self.source == self.Source.EXTERNAL

    @property
    def regions(self):
        from imaging.compute.radiomics import ring_name

        return [LESION_REGION] + [ring_name(a, b) for a, b in self.rings_mm]

    def ring_for(self, region):
        from imaging.compute.radiomics import ring_name

        for inner, outer in self.rings_mm:
            if ring_name(inner, outer) == region:
                return inner, outer
        raise ValidationError(f"Profile {self} has no region '{region}'.")


class FeatureSet(BackgroundJob):
    """The radiomics features of one lesion mask (segment), one profile version and one region.

    Also the status row of its extraction job. Features are stored under pyradiomics' own names.
    """

    task_name = "imaging.extract_feature_set"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="feature_sets")
    profile = models.ForeignKey(ExtractionProfile, on_delete=models.PROTECT, related_name="feature_sets")
    region = models.CharField(max_length=32, default=LESION_REGION, help_text="'lesion' or a ring, e.g. ring_0-3mm.")
    features = models.JSONField(default=dict, blank=True)
    feature_count = models.PositiveIntegerField(default=0)
    diagnostics = models.JSONField(default=dict, blank=True)
    provenance = models.JSONField(
        default=dict, blank=True,
        help_text="Library versions, parameter hash, SHA-256 of the image volume and of the mask.",
    )
    timings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["segment", "profile", "region"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "profile", "region"], name="featureset_unique"),
        ]

    def __str__(self):
        return f"{self.segment} · {self.profile} · {self.region}"


class ExternalFeatureSet(models.Model):
    """Features of one lesion at one timepoint computed outside radimmuno (import_features)."""

    lesion = models.ForeignKey("imaging.Lesion", on_delete=models.CASCADE, related_name="external_feature_sets")
    timepoint = models.ForeignKey("imaging.Timepoint", on_delete=models.CASCADE, related_name="external_feature_sets")
    profile = models.ForeignKey(ExtractionProfile, on_delete=models.PROTECT, related_name="external_feature_sets")
    region = models.CharField(max_length=32, default=LESION_REGION, help_text="'lesion' or the tool's region name.")
    features = models.JSONField(default=dict, blank=True)
    feature_count = models.PositiveIntegerField(default=0)
    import_run = models.ForeignKey("patients.ImportRun", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", help_text="The import that last wrote these values.")
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["lesion", "timepoint"]
        constraints = [
            models.UniqueConstraint(fields=["lesion", "timepoint", "profile", "region"],
                                    name="external_featureset_unique"),
        ]

    def __str__(self):
        return f"{self.lesion.label} · {self.timepoint.date.isoformat()} · {self.profile} · {self.region}"
