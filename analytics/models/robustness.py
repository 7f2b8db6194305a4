"""Stored feature robustness: per extraction-profile version, the ICC(3,1) of every feature across perturbations
of the lesion masks, and which features are robust (docs/analytics.md, "Feature robustness and harmonisation")."""
from django.db import models

from imaging.models import ExtractionProfile
from radimmuno.fields import CompactJSONField
from radimmuno.jobs import BackgroundJob

DEFAULT_ICC_THRESHOLD = 0.75  # "good" reliability from 0.75 (Koo & Li, J Chiropr Med 2016;15:155)


class FeatureRobustness(BackgroundJob):
    """The robustness of every feature of one profile version to one kind of repeated measurement (``method``).

    ``segmentation``: each lesion mask of the cohort extracted again eroded and dilated by one voxel (and, if
    asked, with a seeded random contour change), the ICC(3,1) of each feature computed across the perturbations
    over the lesions (``analytics.compute.robustness.ICC31``). ``features`` holds ``{feature: {"icc", "ci_lower",
    "ci_upper", "robust", "n"}}`` (plus ``"undefined": reason`` and null ICC where it is undefined); ``robust``
    is ICC >= ``threshold``. ``lesions`` records every lesion mask used with its image and mask SHA-256,
    ``excluded`` those left out and why (e.g. an erosion that emptied a small lesion).

    Also the status row of its computation (``manage.py feature_robustness`` runs it in-process; there is no
    task yet, so the reconciler does not re-send it: ``task_name`` is empty).
    """

    class Method(models.TextChoices):
        SEGMENTATION = "segmentation", "Segmentation (mask perturbation)"
        TEST_RETEST = "test-retest", "Test-retest (two baseline scans)"

    task_name = ""

    profile = models.ForeignKey(ExtractionProfile, on_delete=models.PROTECT, related_name="feature_robustness",
                                help_text="The profile version whose features were re-extracted.")
    method = models.CharField(max_length=20, choices=Method.choices, default=Method.SEGMENTATION)
    perturbations = models.JSONField(default=list, help_text='Measurements compared, e.g. ["original", "erode", '
                                                             '"dilate", "random"].')
    seed = models.BigIntegerField(default=0, help_text="Seed of the random contour change (with each segment's id).")
    contour_probability = models.FloatField(default=0.25,
                                            help_text="Chance that a boundary voxel changes side (random only).")
    threshold = models.FloatField(default=DEFAULT_ICC_THRESHOLD, help_text="ICC from which a feature is robust.")
    lesion_limit = models.PositiveIntegerField(null=True, blank=True, help_text="At most this many lesion masks.")
    n_lesions = models.PositiveIntegerField(default=0, help_text="Lesion masks (lesion x timepoint) in the ICC.")
    n_patients = models.PositiveIntegerField(default=0)
    n_features = models.PositiveIntegerField(default=0)
    n_robust = models.PositiveIntegerField(default=0)
    features = CompactJSONField(default=dict, blank=True,
                                help_text='{feature: {"icc", "ci_lower", "ci_upper", "robust", "n"}}')
    lesions = models.JSONField(default=list, blank=True,
                               help_text="The lesion masks used: segment, lesion, patient, voxels per perturbation, "
                                         "image and mask SHA-256.")
    excluded = models.JSONField(default=list, blank=True, help_text="Lesion masks left out, with the reason.")
    notes = models.JSONField(default=list, blank=True, help_text="Warnings of the computation.")
    inputs_sha256 = models.CharField(max_length=64, blank=True,
                                     help_text="SHA-256 of the lesion list (image and mask hashes) and parameters.")
    versions = models.JSONField(default=dict, blank=True, help_text="Library versions.")
    computed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["profile", "method"]
        verbose_name = "feature robustness"
        verbose_name_plural = "feature robustness"
        constraints = [
            models.UniqueConstraint(fields=["profile", "method"], name="robustness_unique_profile_method"),
            models.CheckConstraint(condition=models.Q(threshold__gte=-1.0, threshold__lte=1.0),
                                   name="robustness_threshold_is_an_icc"),
        ]

    def __str__(self):
        return f"{self.profile} · {self.get_method_display()}"

    def robust_names(self, threshold=None):
        """Sorted names of the robust features (ICC >= ``threshold``, default the row's own)."""
        cut = self.threshold if threshold is None else threshold
        return sorted(name for name, row in self.features.items() if row.get("icc") is not None and row["icc"] >= cut)
