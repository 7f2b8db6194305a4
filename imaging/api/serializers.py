from rest_framework import serializers

from ..models import FeatureSet, IngestJob, QuarantinedFile, Segment, Series


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
    study_date = serializers.DateField(source="study.study_date", read_only=True)
    timepoint = serializers.PrimaryKeyRelatedField(source="study.timepoint", read_only=True)

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
    lesion_label = serializers.CharField(source="lesion.label", read_only=True, default=None)
    proposed_size_mm = serializers.DecimalField(max_digits=7, decimal_places=1, read_only=True)

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
    lesion_label = serializers.CharField(source="segment.lesion.label", read_only=True, default=None)
    profile_name = serializers.CharField(source="profile.name", read_only=True)
    profile_version = serializers.IntegerField(source="profile.version", read_only=True)

    class Meta:
        model = FeatureSet
        fields = ["url", "id", "patient", "image_series", "segment", "lesion_label", "profile", "profile_name",
                  "profile_version", "region", "status", "error", "feature_count", "started_at", "finished_at"]


class FeatureSetDetailSerializer(FeatureSetSerializer):
    class Meta(FeatureSetSerializer.Meta):
        fields = FeatureSetSerializer.Meta.fields + ["features", "diagnostics", "provenance", "timings"]
