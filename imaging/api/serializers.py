from rest_framework import serializers

from patients.models import Patient
from radimmuno.api import ScopedRelatedFieldsMixin, version_field

from ..models import (
    ExtractionProfile,
    FeatureSet,
    IngestJob,
    Lesion,
    LesionMeasurement,
    QuarantinedFile,
    Segment,
    Segmentation,
    Series,
    Study,
    Timepoint,
)


class IngestJobSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:imaging:ingest-job-detail")
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = IngestJob
        fields = ["url", "id", "source", "label", "status", "error", "files_total", "files_done", "progress_percent",
                  "stored", "duplicates", "conflicts", "rejected", "quarantined", "segmentations", "summary",
                  "created_at", "started_at", "finished_at"]


class UploadSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)
    resample = serializers.BooleanField(required=False, default=False)
    reference_series_uid = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")


class SeriesSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:imaging:series-detail")
    patient = serializers.CharField(source="study.patient.study_id", read_only=True)
    study_instance_uid = serializers.CharField(source="study.study_instance_uid", read_only=True)
    study_date = serializers.DateField(source="study.study_date", read_only=True, allow_null=True)
    timepoint = serializers.PrimaryKeyRelatedField(source="study.timepoint", read_only=True, allow_null=True)

    class Meta:
        model = Series
        fields = ["url", "id", "patient", "study_instance_uid", "study_date", "timepoint", "series_instance_uid",
                  "modality", "series_number", "series_description", "manufacturer", "manufacturer_model_name",
                  "convolution_kernel", "kvp", "contrast_bolus_agent", "slice_thickness_mm", "pixel_spacing_row_mm",
                  "pixel_spacing_column_mm", "rows", "columns", "acquisition_date", "acquisition_time",
                  "radiopharmaceutical", "radionuclide_total_dose_bq", "radionuclide_half_life_s",
                  "radiopharmaceutical_start", "pet_units", "decay_correction", "suv_bw_factor", "patient_weight_kg",
                  "instance_count", "volume_status", "volume_error_code", "volume_message", "volume_warnings",
                  "geometry"]


class SegmentSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:imaging:segment-detail")
    kind = serializers.CharField(source="segmentation.kind", read_only=True)
    image_series = serializers.HyperlinkedRelatedField(
        source="segmentation.image_series", view_name="api:imaging:series-detail", read_only=True)
    lesion_label = serializers.CharField(source="lesion.label", read_only=True, default=None, allow_null=True)
    proposed_size_mm = serializers.DecimalField(max_digits=7, decimal_places=1, read_only=True, allow_null=True)

    class Meta:
        model = Segment
        fields = ["url", "id", "kind", "image_series", "number", "label", "lesion", "lesion_label", "lesion_mapping",
                  "voxel_count", "volume_mm3", "long_axis_mm", "short_axis_mm", "slice_index", "proposed_size_mm",
                  "proposal_status", "measurement", "mask_sha256"]


class SegmentAcceptSerializer(serializers.Serializer):
    replace_manual = serializers.BooleanField(required=False, default=False)


class SegmentOverrideSerializer(serializers.Serializer):
    size_mm = serializers.DecimalField(max_digits=7, decimal_places=2, min_value=0)


class QuarantinedFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = QuarantinedFile
        fields = ["id", "reason_code", "reason", "original_name", "source", "peer_ae_title", "dicom_patient_id",
                  "sop_instance_uid", "series_instance_uid", "referenced_series_uid", "sha256", "size_bytes",
                  "status", "resolution", "created_at", "resolved_at"]


class FeatureSetSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:imaging:feature-set-detail")
    patient = serializers.CharField(source="segment.segmentation.image_series.study.patient.study_id", read_only=True)
    image_series = serializers.HyperlinkedRelatedField(
        source="segment.segmentation.image_series", view_name="api:imaging:series-detail", read_only=True)
    segment = serializers.HyperlinkedRelatedField(view_name="api:imaging:segment-detail", read_only=True)
    lesion_label = serializers.CharField(source="segment.lesion.label", read_only=True, default=None,
                                         allow_null=True)
    profile_name = serializers.CharField(source="profile.name", read_only=True)
    profile_version = serializers.IntegerField(source="profile.version", read_only=True)

    class Meta:
        model = FeatureSet
        fields = ["url", "id", "patient", "image_series", "segment", "lesion_label", "profile", "profile_name",
                  "profile_version", "region", "status", "error", "feature_count", "started_at", "finished_at"]


class FeatureSetDetailSerializer(FeatureSetSerializer):
    class Meta(FeatureSetSerializer.Meta):
        fields = FeatureSetSerializer.Meta.fields + ["features", "diagnostics", "provenance", "timings"]


class StudySerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:imaging:study-detail")
    patient = serializers.CharField(source="patient.study_id", read_only=True, help_text="Study ID (pseudonymous).")
    series_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Study
        fields = ["url", "id", "patient", "timepoint", "study_instance_uid", "study_date", "study_description",
                  "series_count", "created_at"]


class TimepointSerializer(ScopedRelatedFieldsMixin, serializers.ModelSerializer):
    """An imaging assessment. POST creates the patient's assessment on that date or updates its kind (the regimen
    it evaluates is chosen from the dates when not given)."""

    url = serializers.HyperlinkedIdentityField(view_name="api:imaging:timepoint-detail")
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    study_id = serializers.CharField(source="patient.study_id", read_only=True)

    class Meta:
        model = Timepoint
        fields = ["url", "id", "patient", "study_id", "date", "kind", "regimen", "days_from_regimen_start", "notes"]
        validators = []  # an upsert by (patient, date): the service updates the existing one


class LesionSerializer(ScopedRelatedFieldsMixin, serializers.ModelSerializer):
    """A lesion followed over time. POST creates it (the target-selection rules of RECIST 1.1 §1.2 apply)."""

    url = serializers.HyperlinkedIdentityField(view_name="api:imaging:lesion-detail")
    study_id = serializers.CharField(source="patient.study_id", read_only=True)

    class Meta:
        model = Lesion
        fields = ["url", "id", "patient", "study_id", "label", "organ", "location", "nodal", "role", "appeared_at",
                  "equivocal", "split_from", "merged_into"]
        validators = []  # the model's clean() says a label is taken, in its own words


class MeasurementSerializer(ScopedRelatedFieldsMixin, serializers.ModelSerializer):
    """A lesion's size or status at one assessment. POST records it, or corrects the one already there, as the lesion
    table does (a segmentation's proposed size there is overridden); the response is recomputed after commit."""

    url = serializers.HyperlinkedIdentityField(view_name="api:imaging:measurement-detail")
    lesion_label = serializers.CharField(source="lesion.label", read_only=True)
    date = serializers.DateField(source="timepoint.date", read_only=True)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    version = version_field()

    class Meta:
        model = LesionMeasurement
        fields = ["url", "id", "lesion", "lesion_label", "timepoint", "date", "size_mm", "status",
                  "non_target_status", "source", "recorded_by", "recorded_at", "version"]
        read_only_fields = ["source"]
        validators = []

    def validate(self, data):
        lesion, timepoint = data.get("lesion"), data.get("timepoint")
        if lesion and timepoint and lesion.patient_id != timepoint.patient_id:
            raise serializers.ValidationError({"timepoint": "This assessment belongs to another patient."})
        return data


class SegmentationSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:imaging:segmentation-detail")
    image_series = serializers.HyperlinkedRelatedField(view_name="api:imaging:series-detail", read_only=True)
    patient = serializers.CharField(source="image_series.study.patient.study_id", read_only=True)
    segments = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Segmentation
        fields = ["url", "id", "patient", "kind", "image_series", "label", "sha256", "resampled", "notes",
                  "segments", "created_at"]


class ExtractionProfileSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:imaging:extraction-profile-detail")

    class Meta:
        model = ExtractionProfile
        fields = ["url", "id", "name", "version", "source", "modality", "params", "params_hash", "rings_mm",
                  "description", "active", "created_at"]


class FeatureValueSerializer(serializers.Serializer):
    """One radiomic feature value (long format): a feature of one feature set."""

    feature_set = serializers.IntegerField()
    patient = serializers.CharField(help_text="Study ID (pseudonymous).")
    lesion = serializers.CharField(allow_null=True, help_text="The lesion's label (null: segment not mapped).")
    timepoint = serializers.IntegerField(allow_null=True)
    date = serializers.DateField(allow_null=True, help_text="The assessment's date.")
    profile = serializers.CharField(help_text="name@vN")
    region = serializers.CharField()
    feature = serializers.CharField(help_text="pyradiomics name, e.g. original_glcm_JointEnergy.")
    value = serializers.FloatField(allow_null=True)
