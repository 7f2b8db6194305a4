"""The patients app's API: sites (read), patients, regimens, biomarkers, irAEs and outcomes. Reads for every
authenticated user; a POST writes through the same upsert service as the importer and the pages (the row its
natural key names is created or updated) and needs the model's add permission; PATCH the change permission."""
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, viewsets

from radimmuno.api import Conflict, ServiceCreateMixin, field_errors, service_create_schema
from radimmuno.versioning import EditConflict

from .. import selectors as patient_selectors
from .. import services
from ..filtersets import (
    AdverseEventFilterSet,
    BiomarkerFilterSet,
    OutcomeFilterSet,
    PatientFilterSet,
    RegimenFilterSet,
)
from ..models import AdverseEvent, Biomarker, Outcome, Patient, Site, TreatmentRegimen
from .serializers import (
    AdverseEventSerializer,
    BiomarkerSerializer,
    OutcomeSerializer,
    PatientDetailSerializer,
    PatientSerializer,
    RegimenSerializer,
    SiteSerializer,
)


class SiteViewSet(viewsets.ReadOnlyModelViewSet):
    """Sites (hospitals) patients are treated at."""

    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    filterset_fields = ["code"]


class _RecordViewSet(ServiceCreateMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """List, read, create-or-update (POST, through the service), correct (PATCH/PUT, through the same service)."""

    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    #: The app's upsert service for POST: ``upsert(**data) -> (row, created, changes)``.
    upsert = None

    def perform_write(self, data):
        data.pop("version", None)  # POST names the row by its natural key: correct a read version with PATCH
        row, created, _ = self.upsert(**data)
        return row, created

    def perform_update(self, serializer):
        try:
            serializer.instance = services.record_update(instance=serializer.instance,
                                                         fields=dict(serializer.validated_data))
        except EditConflict as exc:
            raise Conflict(exc) from exc
        except DjangoValidationError as exc:
            raise field_errors(exc) from exc


@service_create_schema(PatientSerializer)
class PatientViewSet(_RecordViewSet):
    """Patients (pseudonymous). Filter with ``q`` (study ID), ``site``, ``tumour_type``, ``drug_class``, ``response``
    (current iRECIST), ``flag`` and ``care_team=mine``; order with ``o`` (study_id, site, tumour_type, last_scan,
    response; ``-`` for descending). POST creates the patient with this study ID at this site, or updates it."""

    filterset_class = PatientFilterSet

    def get_queryset(self):
        if self.action == "list":
            return Patient.objects.for_list()  # the list's filters and orderings; a page's columns: below
        return Patient.objects.with_list_columns().select_related("outcome").prefetch_related(
            "biomarkers__kind", "adverse_events")

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return page if page is None else patient_selectors.patient_list_rows(page)

    def get_serializer_class(self):
        return PatientDetailSerializer if self.action == "retrieve" else PatientSerializer

    def perform_write(self, data):
        patient, created, _ = services.patient_upsert(site=data.pop("site"), study_id=data.pop("study_id"), **data)
        return Patient.objects.with_list_columns().get(pk=patient.pk), created


@service_create_schema(RegimenSerializer)
class RegimenViewSet(_RecordViewSet):
    """ICI (and other) regimens. POST creates the regimen of this patient, line and start date, or updates it."""

    queryset = TreatmentRegimen.objects.select_related("patient").prefetch_related("agents")
    serializer_class = RegimenSerializer
    filterset_class = RegimenFilterSet
    upsert = staticmethod(services.regimen_upsert)


@service_create_schema(BiomarkerSerializer)
class BiomarkerViewSet(_RecordViewSet):
    """Biomarker results (PD-L1, TMB, MSI, …). POST: keyed by patient, kind, date, specimen and source."""

    queryset = Biomarker.objects.select_related("kind")
    serializer_class = BiomarkerSerializer
    filterset_class = BiomarkerFilterSet
    upsert = staticmethod(services.biomarker_upsert)


@service_create_schema(AdverseEventSerializer)
class AdverseEventViewSet(_RecordViewSet):
    """Immune-related adverse events (CTCAE). POST: keyed by patient, term and onset date."""

    queryset = AdverseEvent.objects.order_by("patient_id", "onset_date", "pk")
    serializer_class = AdverseEventSerializer
    filterset_class = AdverseEventFilterSet
    upsert = staticmethod(services.adverse_event_upsert)


@service_create_schema(OutcomeSerializer)
class OutcomeViewSet(_RecordViewSet):
    """Follow-up and outcome, one per patient. POST sets the patient's (creating it the first time)."""

    queryset = Outcome.objects.order_by("patient_id")
    serializer_class = OutcomeSerializer
    filterset_class = OutcomeFilterSet

    def perform_write(self, data):
        existed = Outcome.objects.filter(patient=data["patient"]).exists()
        outcome, _ = services.outcome_set(**data)
        return outcome, not existed
