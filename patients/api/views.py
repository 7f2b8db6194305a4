from rest_framework import viewsets

from ..filtersets import PatientFilterSet
from ..models import Patient
from .serializers import PatientDetailSerializer, PatientSerializer


class PatientViewSet(viewsets.ReadOnlyModelViewSet):
    """Patients (pseudonymous). Filter with ``q`` (study ID), ``site``, ``tumour_type``, ``drug_class``, ``response``
    (current iRECIST) and ``flag``; order with ``o`` (study_id, site, tumour_type, last_scan, response; ``-`` for
    descending)."""

    filterset_class = PatientFilterSet

    def get_queryset(self):
        queryset = Patient.objects.with_list_columns()  # the list's columns, filters and orderings
        if self.action == "retrieve":
            queryset = queryset.select_related("outcome").prefetch_related("biomarkers__kind", "adverse_events")
        return queryset

    def get_serializer_class(self):
        return PatientDetailSerializer if self.action == "retrieve" else PatientSerializer
