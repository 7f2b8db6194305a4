"""What arrived from the scanners: DICOM studies, series and instances, lesion segmentations, quarantined files
and the ingest jobs that brought them in (upload, ``import_dicom``, the DICOM listener).

Originals are stored unchanged and content-addressed (SHA-256) under the media storage; rows point at them.
A segmentation keeps its original object (SEG / RTSTRUCT / label map) and, per segment, a mask on the voxel
grid of its image series (NRRD) with the RECIST measurement derived from it, which a clinician accepts or
overrides (see ``imaging.services.segment_measurement_accept``) — ingest never writes a LesionMeasurement.
"""
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Patient
from radimmuno.jobs import BackgroundJob

from ..choices import (
    IngestSource,
    LesionMapping,
    ProposalStatus,
    QuarantineReason,
    QuarantineStatus,
    SegmentationKind,
    VolumeStatus,
)
from .assessment import Lesion, LesionMeasurement, Timepoint


class IngestJob(BackgroundJob):
    """One ingest run: an upload, an ``import_dicom`` call or one DICOM association, with its progress."""

    task_name = "imaging.ingest_job_run"
    stale_after = timedelta(hours=1)  # a large upload or a long association may take a while

    source = models.CharField(max_length=10, choices=IngestSource.choices)
    label = models.CharField(max_length=255, blank=True, help_text="What was sent: file names, paths or peer.")
    peer_ae_title = models.CharField("peer AE title", max_length=16, blank=True)
    peer_address = models.CharField(max_length=64, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    options = models.JSONField(default=dict, blank=True, help_text="resample, reference series, ...")
    files_total = models.PositiveIntegerField(default=0)
    files_done = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0, help_text="New instances stored.")
    duplicates = models.PositiveIntegerField(default=0, help_text="Already stored with the same content.")
    conflicts = models.PositiveIntegerField(default=0, help_text="Same SOP Instance UID, different content.")
    rejected = models.PositiveIntegerField(default=0, help_text="Bad input, kept in quarantine.")
    quarantined = models.PositiveIntegerField(default=0, help_text="Valid but unplaceable (e.g. unknown patient).")
    segmentations = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_source_display()} #{self.pk} ({self.get_status_display().lower()})"

    @property
    def progress_percent(self):
        if not self.files_total:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.files_done / self.files_total))


class Study(models.Model):
    """A DICOM study of a patient, attached to the patient's assessment (Timepoint) on its date."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="studies")
    timepoint = models.ForeignKey(
        Timepoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="studies"
    )
    study_instance_uid = models.CharField("Study Instance UID", max_length=64, unique=True)
    study_date = models.DateField(null=True, blank=True)
    study_time = models.TimeField(null=True, blank=True)
    study_description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "study_date"]
        verbose_name_plural = "studies"

    def __str__(self):
        date = self.study_date.isoformat() if self.study_date else "undated"
        return f"{self.patient} study {date} ({self.study_description or self.study_instance_uid[-12:]})"


class Series(models.Model):
    """A DICOM series with the acquisition attributes radiomics depends on, and its volume check."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField("Series Instance UID", max_length=64, unique=True)
    modality = models.CharField(max_length=16)
    sop_class_uid = models.CharField("SOP Class UID", max_length=64)
    series_number = models.IntegerField(null=True, blank=True)
    series_description = models.CharField(max_length=255, blank=True)
    frame_of_reference_uid = models.CharField(max_length=64, blank=True)
    manufacturer = models.CharField(max_length=128, blank=True)
    manufacturer_model_name = models.CharField(max_length=128, blank=True)
    convolution_kernel = models.CharField("reconstruction kernel", max_length=128, blank=True)
    kvp = models.FloatField("kVp", null=True, blank=True)
    contrast_bolus_agent = models.CharField("contrast agent", max_length=128, blank=True)
    slice_thickness_mm = models.FloatField(null=True, blank=True)
    pixel_spacing_row_mm = models.FloatField(null=True, blank=True)
    pixel_spacing_column_mm = models.FloatField(null=True, blank=True)
    rows = models.PositiveIntegerField(null=True, blank=True)
    columns = models.PositiveIntegerField(null=True, blank=True)
    acquisition_date = models.DateField(null=True, blank=True)
    acquisition_time = models.TimeField(null=True, blank=True)
    patient_weight_kg = models.FloatField(null=True, blank=True)
    patient_size_m = models.FloatField(null=True, blank=True)
    # PET: what SUVbw needs (imaging.compute.volume.suv_bw_factor).
    radiopharmaceutical = models.CharField(max_length=64, blank=True)
    radionuclide_total_dose_bq = models.FloatField(null=True, blank=True)
    radionuclide_half_life_s = models.FloatField(null=True, blank=True)
    radiopharmaceutical_start = models.CharField(
        max_length=32, blank=True, help_text="Injection date-time (DICOM local time, ISO format)."
    )
    pet_units = models.CharField(max_length=16, blank=True)
    decay_correction = models.CharField(max_length=16, blank=True)
    suv_bw_factor = models.FloatField(
        "SUVbw factor", null=True, blank=True, help_text="Multiply Bq/mL by this to get SUVbw (g/mL)."
    )
    instance_count = models.PositiveIntegerField(default=0)
    # The volume check, run when a series is complete (end of an upload / import / association).
    volume_status = models.CharField(max_length=10, choices=VolumeStatus.choices, default=VolumeStatus.PENDING)
    volume_error_code = models.CharField(max_length=32, blank=True)
    volume_message = models.TextField(blank=True)
    volume_warnings = models.JSONField(default=list, blank=True)
    geometry = models.JSONField(
        null=True, blank=True, help_text="Voxel grid: size (x, y, z), origin, spacing (mm), direction (9)."
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "series_number", "pk"]
        verbose_name_plural = "series"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(volume_status="failed") | ~models.Q(volume_message=""),
                name="series_failed_volume_has_reason",
            ),
        ]

    def __str__(self):
        return f"{self.modality} {self.series_description or self.series_instance_uid[-12:]}"

    @property
    def is_image(self):
        from imaging.compute.dicom_headers import IMAGE_SOP_CLASSES

        return self.sop_class_uid in IMAGE_SOP_CLASSES


class Instance(models.Model):
    """One stored DICOM object (a slice, a multi-frame image, a SEG or an RTSTRUCT)."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField("SOP Instance UID", max_length=64, unique=True)
    sop_class_uid = models.CharField("SOP Class UID", max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    sha256 = models.CharField("SHA-256", max_length=64, db_index=True, help_text="Of the stored file.")
    file = models.FileField(max_length=200, help_text="The original file, unchanged (content-addressed).")
    size_bytes = models.PositiveBigIntegerField()
    transfer_syntax_uid = models.CharField(max_length=64, blank=True)
    job = models.ForeignKey(IngestJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="instances")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series", "instance_number", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"), name="instance_sha256_hex"),
        ]

    def __str__(self):
        return f"{self.sop_instance_uid}"


class QuarantinedFile(models.Model):
    """A file ingest could not place: kept unchanged with why, where it came from, and how it was resolved."""

    reason_code = models.CharField(max_length=24, choices=QuarantineReason.choices, db_index=True)
    reason = models.TextField(help_text="What is wrong, for the curator who has to act on it.")
    file = models.FileField(max_length=200, help_text="The file as received (content-addressed).")
    sha256 = models.CharField("SHA-256", max_length=64, db_index=True)
    size_bytes = models.PositiveBigIntegerField()
    original_name = models.CharField(max_length=500, blank=True, help_text="Path, zip member or upload name.")
    source = models.CharField(max_length=10, choices=IngestSource.choices)
    peer_ae_title = models.CharField("peer AE title", max_length=16, blank=True)
    job = models.ForeignKey(
        IngestJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="quarantined_files"
    )
    dicom_patient_id = models.CharField("DICOM Patient ID", max_length=64, blank=True, db_index=True)
    sop_instance_uid = models.CharField(max_length=64, blank=True)
    study_instance_uid = models.CharField(max_length=64, blank=True)
    series_instance_uid = models.CharField(max_length=64, blank=True)
    referenced_series_uid = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="For masks: the image series they were drawn on."
    )
    status = models.CharField(max_length=10, choices=QuarantineStatus.choices, default=QuarantineStatus.OPEN)
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "quarantined file"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", resolved_at__isnull=True)
                | (~models.Q(status="open") & models.Q(resolved_at__isnull=False)),
                name="quarantine_resolved_when_closed",
            ),
        ]

    def __str__(self):
        return f"{self.original_name or self.sha256[:12]}: {self.get_reason_code_display()}"


class Segmentation(models.Model):
    """A segmentation object on an image series: one or more segments, each a lesion mask."""

    kind = models.CharField(max_length=10, choices=SegmentationKind.choices)
    image_series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="segmentations")
    instance = models.OneToOneField(
        Instance, on_delete=models.CASCADE, null=True, blank=True, related_name="segmentation",
        help_text="The SEG / RTSTRUCT instance (label maps have none).",
    )
    file = models.FileField(max_length=200, help_text="The original object, unchanged (content-addressed).")
    sha256 = models.CharField("SHA-256", max_length=64)
    original_name = models.CharField(max_length=500, blank=True)
    label = models.CharField(max_length=255, blank=True)
    resampled = models.BooleanField(
        default=False, help_text="A label map resampled onto the series grid (nearest neighbour), on request."
    )
    notes = models.JSONField(default=list, blank=True, help_text="How the masks were read (mapping, resampling).")
    job = models.ForeignKey(IngestJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["image_series", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["image_series", "sha256"], name="segmentation_unique_object_per_series"),
            models.CheckConstraint(
                condition=models.Q(kind="labelmap", instance__isnull=True)
                | (~models.Q(kind="labelmap") & models.Q(instance__isnull=False)),
                name="segmentation_dicom_objects_have_instance",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.label or self.pk} on {self.image_series}"


class Segment(models.Model):
    """One segment (a lesion mask) of a segmentation, its lesion, and the measurement derived from it.

    The mask is stored as NRRD (uint8, 1 = lesion) on exactly the voxel grid of the image series, so
    radiomics can read image and mask together. The RECIST long axis (short axis for nodes) is *offered*:
    a clinician accepts it (a LesionMeasurement with source "segmentation") or overrides it (a manual one).
    """

    segmentation = models.ForeignKey(Segmentation, on_delete=models.CASCADE, related_name="segments")
    number = models.PositiveIntegerField(help_text="Segment number (SEG), ROI number (RTSTRUCT) or label value.")
    label = models.CharField(max_length=128)
    lesion = models.ForeignKey(Lesion, on_delete=models.SET_NULL, null=True, blank=True, related_name="segments")
    lesion_mapping = models.CharField(max_length=10, choices=LesionMapping.choices, default=LesionMapping.UNMATCHED)
    mask_file = models.FileField(max_length=200, help_text="NRRD mask on the image series grid.")
    mask_sha256 = models.CharField("mask SHA-256", max_length=64)
    voxel_count = models.PositiveIntegerField()
    volume_mm3 = models.FloatField()
    long_axis_mm = models.FloatField(null=True, blank=True)
    short_axis_mm = models.FloatField(null=True, blank=True)
    slice_index = models.PositiveIntegerField(null=True, blank=True, help_text="z index of the long-axis slice.")
    area_mm2 = models.FloatField(null=True, blank=True)
    components_on_slice = models.PositiveIntegerField(null=True, blank=True)
    axis_endpoints = models.JSONField(default=dict, blank=True, help_text="Long/short axis ends (voxel indices).")
    proposal_status = models.CharField(
        max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED
    )
    measurement = models.ForeignKey(
        LesionMeasurement, on_delete=models.SET_NULL, null=True, blank=True, related_name="segments",
        help_text="The measurement recorded when the proposal was accepted or overridden.",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["segmentation", "number"]
        constraints = [
            models.UniqueConstraint(fields=["segmentation", "number"], name="segment_unique_number"),
            models.CheckConstraint(
                condition=models.Q(voxel_count=0, proposal_status="empty")
                | (models.Q(voxel_count__gt=0) & ~models.Q(proposal_status="empty")),
                name="segment_empty_iff_no_voxels",
            ),
            models.CheckConstraint(
                condition=models.Q(lesion__isnull=True, lesion_mapping="unmatched")
                | (models.Q(lesion__isnull=False) & ~models.Q(lesion_mapping="unmatched")),
                name="segment_mapping_matches_lesion",
            ),
        ]

    def __str__(self):
        return f"{self.label} ({self.segmentation.get_kind_display()})"

    @property
    def proposed_size_mm(self):
        """RECIST 1.1 §1.3: the long axis, or the short axis for a lymph node, to 0.1 mm."""
        value = self.short_axis_mm if (self.lesion_id and self.lesion.nodal) else self.long_axis_mm
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def timepoint(self):
        return self.segmentation.image_series.study.timepoint
