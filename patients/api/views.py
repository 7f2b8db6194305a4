from django.db.models import Prefetch
from rest_framework import viewsets

from ..filtersets import PatientFilterSet
from ..models import Patient, TreatmentRegimen
from .serializers import PatientDetailSerializer, PatientSerializer


class PatientViewSet(viewsets.ReadOnlyModelViewSet):
    """Patients (pseudonymous). Filter with ``q`` (study ID), ``site``, ``tumour_type`` and ``drug_class``."""

    filterset_class = PatientFilterSet

    def get_queryset(self):
        queryset = Patient.objects.select_related("site").prefetch_related(
            Prefetch("regimens", queryset=TreatmentRegimen.objects.prefetch_related("agents"))
        ).order_by("site__code", "study_id")
        if self.action == "retrieve":
            queryset = queryset.select_related("outcome").prefetch_related("biomarkers__kind", "adverse_events")
        return queryset

    def get_serializer_class(self):
        return PatientDetailSerializer if self.action == "retrieve" else PatientSerializer
