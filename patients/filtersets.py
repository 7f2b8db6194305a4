"""One FilterSet per model, shared by the web list and the API."""
import django_filters
from django.db.models import Q

from . import choices
from .models import AdverseEvent, Biomarker, Outcome, Patient, Site, TreatmentRegimen


CURRENT_RESPONSES = [(c, c) for c in ("iCR", "iPR", "iSD", "iUPD", "iCPD", "NE")]
FLAGS = [("scan-to-read", "Scan awaiting reading"), ("awaiting-confirmation", "iUPD awaiting confirmation"),
         ("hyperprogression", "Hyperprogression"), ("pseudoprogression", "Pseudoprogression"),
         ("dissociated", "Dissociated response")]
FLAG_FIELDS = {"awaiting-confirmation": "iupd_awaiting_confirmation", "hyperprogression": "hyperprogression_any",
               "pseudoprogression": "pseudoprogression", "dissociated": "dissociated_any"}


class PatientFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Study ID")
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), field_name="site", to_field_name="code",
                                            empty_label="All sites")
    tumour_type = django_filters.ChoiceFilter(choices=choices.TumourType.choices, empty_label="All tumour types")
    drug_class = django_filters.ChoiceFilter(choices=choices.DrugClass.choices, method="filter_drug_class",
                                             label="Drug class", empty_label="All drug classes")
    response = django_filters.ChoiceFilter(choices=CURRENT_RESPONSES, method="filter_response",
                                           label="Current iRECIST", empty_label="Any response")
    flag = django_filters.ChoiceFilter(choices=FLAGS, method="filter_flag", label="Flag", empty_label="Any flag")
    care_team = django_filters.ChoiceFilter(choices=[("mine", "My patients")], method="filter_care_team",
                                            label="Care team", empty_label="Everyone's patients")
    o = django_filters.OrderingFilter(
        label="Sort by", empty_label="Site, then study ID",
        fields=(("study_id", "study_id"), ("site__code", "site"), ("tumour_type", "tumour_type"),
                ("last_scan_date", "last_scan"), ("current_response", "response")),
        field_labels={"study_id": "Study ID", "site__code": "Site", "tumour_type": "Tumour type",
                      "last_scan_date": "Last scan", "current_response": "Current response"},
    )

    class Meta:
        model = Patient
        fields = ["q", "site", "tumour_type", "drug_class", "response", "flag", "care_team"]

    def filter_care_team(self, queryset, name, value):
        """"mine": the patients whose care team holds the requesting user (none without a request)."""
        if value != "mine":
            return queryset
        return queryset.followed_by(getattr(self.request, "user", None))

    def filter_response(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(response_assessments__is_latest=True,  # a join on an index, not a subquery per row
                               response_assessments__current_irecist=value)

    def filter_flag(self, queryset, name, value):
        """A flag of any of the patient's ICI regimens (stored by the analytics app, reached by relation name)."""
        if not value:
            return queryset
        assessments = Patient._meta.get_field("response_assessments").related_model._default_manager
        flagged = (assessments.filter(awaiting_read_from__isnull=False) if value == "scan-to-read"
                   else assessments.filter(**{FLAG_FIELDS[value]: True}))
        return queryset.filter(pk__in=flagged.values("patient"))  # a semi-join: no DISTINCT

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(study_id__icontains=value)) if value else queryset

    def filter_drug_class(self, queryset, name, value):
        return queryset.on_drug_class(value) if value else queryset


class PatientRecordFilterSet(django_filters.FilterSet):
    """Records of a patient: filter by the patient's study ID, site code, or pk (``patient_id``). The base of
    every patient-owned record's FilterSet (imaging's too)."""

    patient = django_filters.CharFilter(field_name="patient__study_id", label="Patient (study ID)")
    patient_id = django_filters.NumberFilter(field_name="patient_id", label="Patient (id)")
    site = django_filters.CharFilter(field_name="patient__site__code", label="Site (code)")


class RegimenFilterSet(PatientRecordFilterSet):
    drug_class = django_filters.ChoiceFilter(choices=choices.DrugClass.choices, field_name="agents__drug_class",
                                             distinct=True, label="Drug class")
    ongoing = django_filters.BooleanFilter(field_name="end_date", lookup_expr="isnull", label="Ongoing")

    class Meta:
        model = TreatmentRegimen
        fields = ["patient", "patient_id", "site", "line_of_therapy", "end_reason", "drug_class", "ongoing"]


class BiomarkerFilterSet(PatientRecordFilterSet):
    kind = django_filters.CharFilter(field_name="kind__code", label="Kind (code)")

    class Meta:
        model = Biomarker
        fields = ["patient", "patient_id", "site", "kind", "specimen", "source"]


class AdverseEventFilterSet(PatientRecordFilterSet):
    grade_min = django_filters.NumberFilter(field_name="grade", lookup_expr="gte", label="Grade at least")

    class Meta:
        model = AdverseEvent
        fields = ["patient", "patient_id", "site", "term", "grade", "grade_min", "regimen"]


class OutcomeFilterSet(PatientRecordFilterSet):
    class Meta:
        model = Outcome
        fields = ["patient", "patient_id", "site", "vital_status"]
