import warnings

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from ..compute.response import ResponseInputError, evaluate
from ..filtersets import ResponseAssessmentFilterSet, TimepointResponseFilterSet
from ..models import ResponseAssessment, TimepointResponse
from .serializers import ResponseAssessmentDetailSerializer, ResponseAssessmentSerializer, TimepointResponseSerializer


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
