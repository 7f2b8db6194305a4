import warnings

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from ..compute.response import ResponseInputError, evaluate
from ..filtersets import AnalysisRunFilterSet, ResponseAssessmentFilterSet, TimepointResponseFilterSet
from ..models import ResponseAssessment, TimepointResponse
from ..selectors import analysis_run_data_changed, analysis_runs
from ..services import analysis_run_create, analysis_run_rerun
from .serializers import (
    AnalysisRunCreateSerializer,
    AnalysisRunDataChangedSerializer,
    AnalysisRunDetailSerializer,
    AnalysisRunSerializer,
    ResponseAssessmentDetailSerializer,
    ResponseAssessmentSerializer,
    TimepointResponseSerializer,
)


class ResponseAssessmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Stored response assessments (one per patient and ICI regimen), recomputed when lesion data change.

    ``?worklist=awaiting|overdue|hyperprogression|dissociated|all`` gives the same lists as the worklist page.
    """

    filterset_class = ResponseAssessmentFilterSet
    queryset = ResponseAssessment.objects.select_related("patient__site", "regimen").order_by("patient__study_id",
                                                                                                "regimen__start_date")

    def get_serializer_class(self):
        return ResponseAssessmentDetailSerializer if self.action == "retrieve" else ResponseAssessmentSerializer


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

    @extend_schema(request=dict, responses={200: dict, 400: dict},
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

    @extend_schema(request=AnalysisRunCreateSerializer, responses={202: AnalysisRunDetailSerializer, 400: dict},
                   examples=[OpenApiExample("Cox model of OS", value=ANALYSIS_EXAMPLE, request_only=True),
                             OpenApiExample("KM of PFS by PD-L1 TPS group", value=ANALYSIS_KM_EXAMPLE,
                                            request_only=True)])
    def create(self, request):
        serializer = AnalysisRunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            run = analysis_run_create(spec=serializer.validated_data["spec"], user=request.user)
        except ValidationError as exc:
            return Response(_validation_errors(exc), status=status.HTTP_400_BAD_REQUEST)
        return self._accepted(run)

    @extend_schema(request=None, responses={202: AnalysisRunDetailSerializer, 400: dict},
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
