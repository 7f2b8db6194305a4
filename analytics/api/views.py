import warnings

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, pagination, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from patients.models import Patient
from accounts.access import scope
from radimmuno.api import DetailSerializer, PageThenRowsMixin, error_schema

from ..compute.response import ResponseInputError, evaluate
from ..filtersets import (
    AnalysisRunFilterSet,
    DeltaFeatureFilterSet,
    FeatureRobustnessFilterSet,
    ResponseAssessmentFilterSet,
    TimepointResponseFilterSet,
)
from ..models import AnalysisRun, FeatureRobustness, ResponseAssessment, TimepointResponse
from ..selectors import analysis_run_data_changed, analysis_runs, delta_features, delta_long
from ..services import analysis_run_create, analysis_run_rerun, model_score
from .serializers import (
    ResponseDocumentInputSerializer,
    ResponseResultSerializer,
    AnalysisRunCreateSerializer,
    AnalysisRunDataChangedSerializer,
    AnalysisRunDetailSerializer,
    AnalysisRunSerializer,
    DeltaFeatureLongSerializer,
    FeatureRobustnessDetailSerializer,
    FeatureRobustnessSerializer,
    ModelScoreRequestSerializer,
    ModelScoreSerializer,
    ResponseAssessmentDetailSerializer,
    ResponseAssessmentSerializer,
    TimepointResponseSerializer,
)


class ResponseAssessmentViewSet(PageThenRowsMixin, viewsets.ReadOnlyModelViewSet):
    """Stored response assessments (one per patient and ICI regimen), recomputed when lesion data change.

    ``?worklist=to-read|awaiting|overdue|hyperprogression|dissociated|all`` lists the assessments with a worklist
    alert not yet resolved (any patient).
    """

    filterset_class = ResponseAssessmentFilterSet
    queryset = ResponseAssessment.objects.select_related("patient__site", "regimen").order_by("patient__study_id",
                                                                                                "regimen__start_date")

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "retrieve":  # the list never shows the engine's full result (~16 KB of JSON each)
            queryset = queryset.defer("result", "summary")
        return queryset

    def get_serializer_class(self):
        return ResponseAssessmentDetailSerializer if self.action == "retrieve" else ResponseAssessmentSerializer

    def page_rows_queryset(self):
        return ResponseAssessment.objects.select_related("patient__site", "regimen").defer("result", "summary")


class TimepointResponseViewSet(viewsets.ReadOnlyModelViewSet):
    """Time-point responses of the stored assessments, one per assessment, timepoint and criteria (RECIST 1.1,
    iRECIST), with the target sum, nadir and changes behind each category and the engine's explanation."""

    serializer_class = TimepointResponseSerializer
    filterset_class = TimepointResponseFilterSet
    queryset = TimepointResponse.objects.select_related("assessment__patient", "timepoint").order_by(
        "assessment__patient__study_id", "assessment_id", "timepoint__date", "criteria")


EXAMPLE = {
    "treatment_start": "2024-01-10",
    "timepoints": [
        {"label": "BL", "date": "2024-01-05", "kind": "baseline",
         "lesions": [{"id": "T1", "kind": "target", "organ": "lung", "size_mm": 30},
                     {"id": "T2", "kind": "target", "organ": "liver", "size_mm": 20}]},
        {"label": "FU1", "date": "2024-03-01", "lesions": [{"id": "T1", "size_mm": 20}, {"id": "T2", "size_mm": 12}]},
    ],
}


class ResponseEvaluateView(APIView):
    """Stateless calculator: evaluate one response document and return the full result (nothing is stored)."""

    @extend_schema(request=ResponseDocumentInputSerializer, responses={200: ResponseResultSerializer,
                                                                        400: error_schema()},
                   examples=[OpenApiExample("two targets, partial response", value=EXAMPLE, request_only=True)])
    def post(self, request):
        document = request.data
        if not isinstance(document, dict):
            return Response({"errors": ["The body must be a JSON object (a response document)."]},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deviations are listed in the result's "warnings"
                result = evaluate(document)
        except ResponseInputError as exc:
            return Response({"errors": list(exc.problems)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(result)


ANALYSIS_EXAMPLE = {
    "spec": {"kind": "cox", "endpoint": "os", "cohort": {"tumour_type": ["nsclc", "melanoma"]},
             "covariates": ["age_at_start", "sex", "ecog_baseline", "pdl1_tps"]},
}
ANALYSIS_KM_EXAMPLE = {"spec": {"kind": "km", "endpoint": "pfs_recist", "group_by": "pdl1_tps", "cut": [1, 50]}}


SPEC_ERRORS = error_schema(spec={"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                                 "description": "Per key of the spec at fault, what is wrong with it."})


def _validation_errors(exc):
    """A Django ValidationError as ``{"spec": {field: [message]}}`` (the field is the spec key at fault)."""
    return {"spec": exc.message_dict if hasattr(exc, "error_dict") else {"spec": exc.messages}}


@extend_schema_view(
    list=extend_schema(summary="Stored survival analyses, newest first"),
    retrieve=extend_schema(summary="One analysis: its status, and its result and figures once done"),
)
class AnalysisRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Survival analyses (KM, Cox, landmark, time-varying irAE Cox) as stored, reproducible runs.

    ``POST`` a spec (docs/analytics.md) to run one: the answer is 202 with the pending run; poll its URL until
    ``status`` is ``done`` (``result``, ``figures``) or ``failed`` (``error``, a message to act on).
    """

    filterset_class = AnalysisRunFilterSet

    def get_queryset(self):
        return analysis_runs()

    def get_serializer_class(self):
        if self.action == "create":
            return AnalysisRunCreateSerializer
        return AnalysisRunSerializer if self.action == "list" else AnalysisRunDetailSerializer

    def _accepted(self, run):
        run.refresh_from_db()  # in-process (no broker) the run may already be finished
        data = AnalysisRunDetailSerializer(run, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})

    @extend_schema(request=AnalysisRunCreateSerializer, responses={202: AnalysisRunDetailSerializer, 400: SPEC_ERRORS},
                   examples=[OpenApiExample("Cox model of OS", value=ANALYSIS_EXAMPLE, request_only=True),
                             OpenApiExample("KM of PFS by PD-L1 TPS group", value=ANALYSIS_KM_EXAMPLE,
                                            request_only=True)])
    def create(self, request):
        serializer = AnalysisRunCreateSerializer(data=request.data)
        if not serializer.is_valid():  # no spec, or not an object: said as every other refusal of the spec
            errors = serializer.errors.get("spec", serializer.errors)
            return Response({"spec": errors if isinstance(errors, dict) else {"spec": errors}},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            run = analysis_run_create(spec=serializer.validated_data["spec"], user=request.user)
        except ValidationError as exc:
            return Response(_validation_errors(exc), status=status.HTTP_400_BAD_REQUEST)
        return self._accepted(run)

    @extend_schema(request=None, responses={202: AnalysisRunDetailSerializer, 400: SPEC_ERRORS},
                   summary="Run the same spec again (a new run linked to this one)")
    @action(detail=True, methods=["post"])
    def rerun(self, request, pk=None):
        try:
            run = analysis_run_rerun(self.get_object(), user=request.user)
        except ValidationError as exc:
            return Response(_validation_errors(exc), status=status.HTTP_400_BAD_REQUEST)
        return self._accepted(run)

    @extend_schema(responses={200: AnalysisRunDataChangedSerializer},
                   summary="Whether the data changed since the run (re-derives its input and compares the hash)")
    @action(detail=True, methods=["get"], url_path="data-changed")
    def data_changed(self, request, pk=None):
        return Response(AnalysisRunDataChangedSerializer(analysis_run_data_changed(self.get_object())).data)


class DeltaRowPagination(pagination.PageNumberPagination):
    """Pages of stored pairs (each expanded to one record per feature): 5 pairs by default, up to 100."""

    page_size = 5
    page_size_query_param = "page_size"
    max_page_size = 100


@extend_schema_view(list=extend_schema(
    summary="Delta-radiomics in long format",
    parameters=[OpenApiParameter("feature", str, description="Feature name pattern(s), e.g. original_glcm_* "
                                                             "(shell patterns, comma-separated)"),
                OpenApiParameter("page_size", int, description="Stored pairs per page (1-100; default 5)")],
    responses=DeltaFeatureLongSerializer(many=True)))
class DeltaFeatureViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Stored delta-radiomics (docs/analytics.md, "Delta-radiomics"): one record per feature of each stored pair
    (lesion or patient aggregate × profile version × region × reference → later timepoint), with the absolute,
    relative and per-week change and the pair's acquisition flags. Paginated by pair; filter by patient, lesion,
    profile, region, reference, aggregation, level, flagged and a feature-name pattern."""

    filterset_class = DeltaFeatureFilterSet
    pagination_class = DeltaRowPagination
    serializer_class = DeltaFeatureLongSerializer

    def get_queryset(self):
        return delta_features()

    def list(self, request, *args, **kwargs):
        rows = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        records = list(delta_long(rows, feature_pattern=request.query_params.get("feature")))
        return self.get_paginated_response(self.get_serializer(records, many=True).data)


class FeatureRobustnessViewSet(viewsets.ReadOnlyModelViewSet):
    """Feature robustness per extraction-profile version (``manage.py feature_robustness``): the ICC(3,1) of every
    feature across one-voxel mask perturbations; the detail holds the per-feature table. Later analyses exclude
    the features below the threshold by name."""

    filterset_class = FeatureRobustnessFilterSet
    queryset = FeatureRobustness.objects.select_related("profile").order_by("profile__name", "-profile__version")

    def get_serializer_class(self):
        return FeatureRobustnessDetailSerializer if self.action == "retrieve" else FeatureRobustnessSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset if self.action == "retrieve" else queryset.defer("features", "lesions")


SCORE_NOTE = ("Research decision support: the probability of the model's target from a model validated by nested "
              "cross-validation (AUC and 95 % CI given), not a diagnosis.")


class ModelScoreView(APIView):
    """Score patients with a stored classification model (``POST {"patients": ["DEMO-00001"]}``). Patients whose
    features do not come from the extraction profile version the model was fitted on are refused with the reason."""

    @extend_schema(request=ModelScoreRequestSerializer,
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The model's run id.")],
                   responses={200: ModelScoreSerializer, 400: error_schema(), 404: DetailSerializer})
    def post(self, request, pk):
        run_row = AnalysisRun.objects.filter(pk=pk, kind="classification").first()
        if run_row is None:
            return Response({"detail": "No classification model with this id."}, status=status.HTTP_404_NOT_FOUND)
        body = ModelScoreRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        patients = list(scope(Patient.objects.filter(study_id__in=body.validated_data["patients"]),
                              request.user))  # a patient of another site is as unknown as a missing one
        unknown = sorted(set(body.validated_data["patients"]) - {p.study_id for p in patients})
        if unknown:
            return Response({"patients": [f"Unknown study IDs: {', '.join(unknown)}."]},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            scored = model_score(run_row, patients=patients)
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ModelScoreSerializer({**scored, "note": SCORE_NOTE}).data)
