from rest_framework import serializers

from ..models import AnalysisRun, ResponseAssessment, TimepointResponse


class ResponseDocumentSerializer(serializers.Serializer):
    """A response document (RESPONSE_RULES.md §5). Validation is the engine's own; see docs/response.md."""

    treatment_start = serializers.CharField()
    timepoints = serializers.ListField(child=serializers.DictField())

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"document": ["Expected a JSON object."]})
        return data


class ResponseAssessmentSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:analytics:response-assessment-detail")
    patient = serializers.SlugRelatedField(slug_field="study_id", read_only=True)
    site = serializers.CharField(source="patient.site.code", read_only=True)
    regimen_start = serializers.DateField(source="regimen.start_date", read_only=True)

    class Meta:
        model = ResponseAssessment
        fields = ["url", "id", "patient", "site", "regimen", "regimen_start", "status", "error", "problems",
                  "computed_at", "engine_version", "recist_bor", "irecist_ibor", "recist_progression_date",
                  "irecist_progression_date", "best_pct_change", "pseudoprogression", "pseudoprogression_candidate",
                  "hyperprogression_any", "hyperprogression_definitions", "dissociated_any",
                  "dissociated_definitions", "dcb", "iupd_awaiting_confirmation", "iupd_date",
                  "confirmation_earliest", "confirmation_latest"]


class ResponseAssessmentDetailSerializer(ResponseAssessmentSerializer):
    class Meta(ResponseAssessmentSerializer.Meta):
        fields = ResponseAssessmentSerializer.Meta.fields + ["result"]


class TimepointResponseSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:analytics:timepoint-response-detail")
    assessment = serializers.HyperlinkedRelatedField(view_name="api:analytics:response-assessment-detail",
                                                     read_only=True)
    patient = serializers.CharField(source="assessment.patient.study_id", read_only=True)
    timepoint_date = serializers.DateField(source="timepoint.date", read_only=True)
    timepoint_kind = serializers.CharField(source="timepoint.kind", read_only=True)

    class Meta:
        model = TimepointResponse
        fields = ["url", "id", "assessment", "patient", "timepoint", "timepoint_date", "timepoint_kind", "criteria",
                  "category", "target_sum_mm", "nadir_prior_mm", "pct_change_from_baseline", "pct_change_from_nadir",
                  "explanation"]


class AnalysisRunSerializer(serializers.ModelSerializer):
    """A stored survival analysis, without its result (the list)."""

    url = serializers.HyperlinkedIdentityField(view_name="api:analytics:analysis-run-detail")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    rerun_of = serializers.HyperlinkedRelatedField(view_name="api:analytics:analysis-run-detail", read_only=True)
    n = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()

    class Meta:
        model = AnalysisRun
        fields = ["url", "id", "kind", "endpoint", "status", "error", "spec", "seed", "n", "events", "input_sha256",
                  "versions", "created_by", "created_at", "enqueued_at", "started_at", "finished_at", "rerun_of"]

    def get_n(self, run) -> int | None:
        return (run.result or {}).get("n")

    def get_events(self, run) -> int | None:
        return (run.result or {}).get("events")


class AnalysisRunDetailSerializer(AnalysisRunSerializer):
    """A stored survival analysis with its result, figures (SVG text by name) and the patients analysed."""

    class Meta(AnalysisRunSerializer.Meta):
        fields = AnalysisRunSerializer.Meta.fields + ["patient_ids", "result", "figures"]


class AnalysisRunCreateSerializer(serializers.Serializer):
    """A spec to run (docs/analytics.md): kind, endpoint, cohort, covariates or group_by, and options."""

    spec = serializers.JSONField()

    def validate_spec(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("The spec must be a JSON object.")
        return value


class AnalysisRunDataChangedSerializer(serializers.Serializer):
    changed = serializers.BooleanField(allow_null=True)
    reason = serializers.CharField()
