import warnings

import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from ..compute.response import ResponseInputError, evaluate
from ..models import ResponseAssessment
from ..selectors import worklist
from .serializers import ResponseAssessmentDetailSerializer, ResponseAssessmentSerializer


class ResponseAssessmentFilterSet(django_filters.FilterSet):
    patient = django_filters.CharFilter(field_name="patient__study_id")
    site = django_filters.CharFilter(field_name="patient__site__code")
    worklist = django_filters.ChoiceFilter(
        method="filter_worklist", label="Worklist",
        choices=[("all", "all alerts"), ("awaiting", "iUPD awaiting confirmation"),
                 ("overdue", "overdue confirmation"), ("hyperprogression", "hyperprogression"),
                 ("dissociated", "dissociated response")],
    )

    class Meta:
        model = ResponseAssessment
        fields = ["patient", "site", "status", "recist_bor", "irecist_ibor", "pseudoprogression",
                  "hyperprogression_any", "dissociated_any", "iupd_awaiting_confirmation"]

    def filter_worklist(self, queryset, name, value):
        return queryset.filter(pk__in=worklist(kind=None if value == "all" else value).values("pk"))


class ResponseAssessmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Stored response assessments (one per patient and ICI regimen), recomputed when lesion data change.

    ``?worklist=awaiting|overdue|hyperprogression|dissociated|all`` gives the same lists as the worklist page.
    """

    filterset_class = ResponseAssessmentFilterSet
    queryset = ResponseAssessment.objects.select_related("patient__site", "regimen").order_by("patient__study_id",
                                                                                                "regimen__start_date")

    def get_serializer_class(self):
        return ResponseAssessmentDetailSerializer if self.action == "retrieve" else ResponseAssessmentSerializer


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
