from rest_framework import serializers

from ..models import AnalysisRun, FeatureRobustness, ResponseAssessment, TimepointResponse


class ResponseDocumentSerializer(serializers.Serializer):
    """A response document (RESPONSE_RULES.md §5). Validation is the engine's own; see docs/response.md."""

    treatment_start = serializers.CharField()
    timepoints = serializers.ListField(child=serializers.DictField())

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"document": ["Expected a JSON object."]})
        return data


# The calculator's document and result, for the schema (docs/response.md, "Input format" and "Output"); the engine
# validates the document itself and says what is wrong in its own words.
class _LesionReading(serializers.Serializer):
    id = serializers.CharField(help_text="The lesion's id, the same at every timepoint.")
    kind = serializers.ChoiceField(choices=["target", "non-target"], required=False, help_text="Baseline only.")
    organ = serializers.CharField(required=False)
    nodal = serializers.BooleanField(required=False)
    size_mm = serializers.FloatField(required=False, min_value=0, help_text="Longest diameter (short axis of a node).")
    measurement = serializers.ChoiceField(choices=["disappeared", "too-small-to-measure", "not-assessed"],
                                          required=False)
    status = serializers.ChoiceField(required=False, choices=[
        "present", "absent", "unequivocal-progression", "increased-from-last-assessment",
        "no-change-from-last-assessment", "not-evaluated"], help_text="Non-target and new lesions.")
    equivocal = serializers.BooleanField(required=False, help_text="New lesions.")


class _TimepointDocument(serializers.Serializer):
    label = serializers.CharField()
    date = serializers.DateField()
    kind = serializers.ChoiceField(choices=["pre-baseline", "baseline", "follow-up"], required=False)
    lesions = _LesionReading(many=True, required=False)
    new_lesions = _LesionReading(many=True, required=False)
    not_evaluable = serializers.BooleanField(required=False)


class ResponseDocumentInputSerializer(serializers.Serializer):
    """A response document (docs/response.md): the treatment start and the timepoints with their lesion readings."""

    patient_id = serializers.CharField(required=False)
    treatment_start = serializers.DateField(help_text="First ICI dose: day 0.")
    timepoints = _TimepointDocument(many=True)
    clinical = serializers.DictField(required=False, help_text="ttf_days or treatment_end, ECOG, death_date.")
    options = serializers.DictField(required=False, help_text="Engine options (docs/response.md); unknown ones are "
                                                              "errors.")


class _BestResponse(serializers.Serializer):
    value = serializers.CharField(allow_null=True)
    decided_at = serializers.CharField(allow_null=True)
    confirmed_at = serializers.CharField(allow_null=True)
    explanation = serializers.ListField(child=serializers.CharField())


class _Survival(serializers.Serializer):
    event = serializers.BooleanField()
    event_kind = serializers.CharField(allow_null=True)
    date = serializers.DateField(allow_null=True)
    label = serializers.CharField(allow_null=True)
    days = serializers.IntegerField(allow_null=True)
    months = serializers.FloatField(allow_null=True)
    explanation = serializers.ListField(child=serializers.CharField())


class _TimepointResult(serializers.Serializer):
    label = serializers.CharField()
    date = serializers.DateField()
    kind = serializers.CharField()
    days_from_treatment_start = serializers.IntegerField()
    target_sum_mm = serializers.FloatField(allow_null=True)
    pct_change_from_baseline = serializers.FloatField(allow_null=True)
    nadir_prior_mm = serializers.FloatField(allow_null=True)
    pct_change_from_nadir = serializers.FloatField(allow_null=True)
    target_response = serializers.CharField()
    non_target_response = serializers.CharField()
    recist_tpr = serializers.CharField(allow_null=True)
    irecist_tpr = serializers.CharField(allow_null=True)
    explanation = serializers.ListField(child=serializers.CharField())


class ResponseResultSerializer(serializers.Serializer):
    """The engine's result (docs/response.md, "Output"); the main keys typed, the per-definition blocks as objects."""

    engine = serializers.DictField(child=serializers.CharField())
    input_sha256 = serializers.CharField()
    options = serializers.DictField()
    treatment_start = serializers.DateField()
    baseline = serializers.DictField()
    timepoints = _TimepointResult(many=True)
    recist_bor = _BestResponse()
    irecist_ibor = _BestResponse()
    recist_progression_date = serializers.DateField(allow_null=True)
    ipfs_event_date = serializers.DateField(allow_null=True)
    recist_pfs = _Survival()
    irecist_pfs = _Survival()
    iupd_episodes = serializers.ListField(child=serializers.DictField())
    pseudoprogression = serializers.DictField()
    dcb = serializers.DictField()
    hyperprogression = serializers.DictField(child=serializers.DictField())
    dissociated_response = serializers.DictField(child=serializers.DictField())
    warnings = serializers.ListField(child=serializers.CharField())


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
                  "confirmation_earliest", "confirmation_latest", "current_date", "current_recist", "current_irecist",
                  "next_scan_due", "awaiting_read_from", "awaiting_read"]


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
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    rerun_of = serializers.HyperlinkedRelatedField(view_name="api:analytics:analysis-run-detail", read_only=True,
                                                   allow_null=True)
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

    spec = serializers.DictField(help_text="kind (km, cox, landmark, irae_cox, classification, ...), endpoint, "
                                           "cohort, covariates or group_by, options: see docs/analytics.md.")


class AnalysisRunDataChangedSerializer(serializers.Serializer):
    changed = serializers.BooleanField(allow_null=True)
    reason = serializers.CharField()


class DeltaFeatureLongSerializer(serializers.Serializer):
    """One feature's change for one stored pair (long format). ``lesion`` is null for a patient aggregate."""

    delta_id = serializers.IntegerField()
    patient = serializers.CharField(help_text="Study ID (pseudonymous).")
    lesion = serializers.CharField(allow_null=True)
    members = serializers.ListField(child=serializers.CharField(),
                                    help_text="Lesions compared as one (split/merge links) or aggregated.")
    profile = serializers.CharField(help_text="name@vN")
    region = serializers.CharField()
    aggregation = serializers.CharField(allow_blank=True)
    reference = serializers.ChoiceField(choices=["baseline", "nadir", "timepoint"])
    from_date = serializers.DateField()
    to_date = serializers.DateField()
    weeks = serializers.FloatField()
    feature = serializers.CharField()
    absolute = serializers.FloatField()
    relative = serializers.FloatField(allow_null=True, help_text="Null where the reference is near zero.")
    per_week = serializers.FloatField()
    near_zero = serializers.BooleanField()
    acquisition_flags = serializers.ListField(child=serializers.CharField())


class FeatureRobustnessSerializer(serializers.ModelSerializer):
    """The stored robustness of one profile version's features (ICC(3,1) across mask perturbations)."""

    profile = serializers.SerializerMethodField()

    class Meta:
        model = FeatureRobustness
        fields = ["id", "profile", "method", "perturbations", "seed", "threshold", "n_lesions", "n_patients",
                  "n_features", "n_robust", "status", "error", "computed_at", "versions"]

    def get_profile(self, row) -> str:
        return f"{row.profile.name}@v{row.profile.version}"


class FeatureRobustnessDetailSerializer(FeatureRobustnessSerializer):
    """With the per-feature table: ``{feature: {icc, ci_lower, ci_upper, robust, n}}``, the lesions used and the
    lesions excluded with the reason."""

    class Meta(FeatureRobustnessSerializer.Meta):
        fields = FeatureRobustnessSerializer.Meta.fields + ["features", "lesions", "excluded", "notes",
                                                            "inputs_sha256"]


class ModelScoreRequestSerializer(serializers.Serializer):
    patients = serializers.ListField(child=serializers.CharField(), min_length=1, max_length=1000,
                                     help_text="Study IDs of the patients to score.")


class _Score(serializers.Serializer):
    patient = serializers.CharField()
    probability = serializers.FloatField()


class _Refusal(serializers.Serializer):
    patient = serializers.CharField()
    reason = serializers.CharField()


class ModelScoreSerializer(serializers.Serializer):
    """Probabilities of the model's target — research decision support with the model's validated AUC, never a
    diagnosis."""

    scores = _Score(many=True)
    refused = _Refusal(many=True)
    auc = serializers.FloatField(allow_null=True)
    auc_lower = serializers.FloatField(allow_null=True)
    auc_upper = serializers.FloatField(allow_null=True)
    note = serializers.CharField()
