"""Curation admin for the patients app. Every model keeps a change history (who, when, before → after)."""
from django.contrib import admin
from django.db.models import Count
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin_scope import SiteScopedAdmin
from radimmuno.versioning import VersionedModelForm

from .models import (
    AdverseEvent,
    Biomarker,
    BiomarkerKind,
    CareTeamMember,
    DemoGroundTruth,
    Drug,
    ImportRun,
    Outcome,
    Patient,
    PatientIdentity,
    Site,
    TreatmentRegimen,
)


class HistoryAdmin(SiteScopedAdmin, SimpleHistoryAdmin):
    """Base admin: change history with field-level before/after, sensible page size."""

    list_per_page = 50
    show_full_result_count = False


@admin.register(Site)
class SiteAdmin(HistoryAdmin):
    list_display = ["code", "name", "patient_count"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_patients=Count("patients"))

    @admin.display(ordering="_patients", description="patients")
    def patient_count(self, obj):
        return obj._patients


class IdentityInline(SiteScopedAdmin, admin.StackedInline):
    model = PatientIdentity
    can_delete = False
    extra = 0
    max_num = 1


class OutcomeInline(SiteScopedAdmin, admin.StackedInline):
    model = Outcome
    extra = 0
    max_num = 1


class RegimenInline(SiteScopedAdmin, admin.TabularInline):
    model = TreatmentRegimen
    form = VersionedModelForm  # saved meanwhile by someone else: a conflict showing both values
    extra = 0
    fields = ["line_of_therapy", "agents", "start_date", "end_date", "end_reason"]
    autocomplete_fields = ["agents"]
    show_change_link = True


class BiomarkerInline(SiteScopedAdmin, admin.TabularInline):
    model = Biomarker
    extra = 0
    fields = ["kind", "value_numeric", "value_category", "measured_on", "specimen", "assay", "source"]
    autocomplete_fields = ["kind"]


class AdverseEventInline(SiteScopedAdmin, admin.TabularInline):
    model = AdverseEvent
    extra = 0
    fields = ["term", "term_other", "grade", "onset_date", "resolution_date", "corticosteroids",
              "other_immunosuppressants", "ici_action", "regimen"]


class CareTeamInline(SiteScopedAdmin, admin.TabularInline):
    model = CareTeamMember
    extra = 0
    fields = ["user", "added_at"]
    readonly_fields = ["added_at"]
    autocomplete_fields = ["user"]
    verbose_name = "care team member"


@admin.register(Patient)
class PatientAdmin(HistoryAdmin):
    list_display = ["study_id", "site", "tumour_type", "sex", "year_of_birth", "stage", "ecog_baseline",
                    "diagnosis_date"]
    list_filter = ["site", "tumour_type", "sex", "smoking_status", "ecog_baseline",
                   "regimens__agents__drug_class"]
    search_fields = ["study_id", "histology"]
    list_select_related = ["site"]
    date_hierarchy = "diagnosis_date"
    # The imaging admin appends its timepoint inline (imaging.admin): patients imports nothing from above it.
    inlines = [IdentityInline, OutcomeInline, RegimenInline, BiomarkerInline, AdverseEventInline, CareTeamInline]
    fieldsets = [
        (None, {"fields": ["site", "study_id"]}),
        ("Demographics", {"fields": ["sex", "year_of_birth", "smoking_status", "ecog_baseline"]}),
        ("Disease", {"fields": ["tumour_type", "histology", "stage", "diagnosis_date"]}),
    ]


@admin.register(PatientIdentity)
class PatientIdentityAdmin(HistoryAdmin):
    list_display = ["patient", "mrn", "family_name", "given_name", "date_of_birth"]
    search_fields = ["patient__study_id", "mrn", "family_name"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]


@admin.register(Drug)
class DrugAdmin(HistoryAdmin):
    list_display = ["name", "drug_class", "target"]
    list_filter = ["drug_class"]
    search_fields = ["name", "target"]


@admin.register(TreatmentRegimen)
class TreatmentRegimenAdmin(HistoryAdmin):
    form = VersionedModelForm  # saved meanwhile by someone else: a conflict showing both values
    list_display = ["patient", "line_of_therapy", "agent_list", "start_date", "end_date", "end_reason"]
    list_filter = ["line_of_therapy", "end_reason", "agents__drug_class", "patient__site"]
    search_fields = ["patient__study_id", "agents__name"]
    autocomplete_fields = ["patient", "agents"]
    date_hierarchy = "start_date"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("patient").prefetch_related("agents")

    @admin.display(description="agents")
    def agent_list(self, obj):
        return obj.agent_names


@admin.register(BiomarkerKind)
class BiomarkerKindAdmin(HistoryAdmin):
    list_display = ["code", "name", "unit", "value_type", "min_value", "max_value", "categories"]
    list_filter = ["value_type", "default_specimen"]
    search_fields = ["code", "name"]


@admin.register(Biomarker)
class BiomarkerAdmin(HistoryAdmin):
    list_display = ["patient", "kind", "value_numeric", "value_category", "measured_on", "specimen", "assay",
                    "source"]
    list_filter = ["kind", "specimen", "source", "patient__site"]
    search_fields = ["patient__study_id", "assay"]
    list_select_related = ["patient", "kind"]
    autocomplete_fields = ["patient", "kind"]
    date_hierarchy = "measured_on"


@admin.register(AdverseEvent)
class AdverseEventAdmin(HistoryAdmin):
    list_display = ["patient", "term", "grade", "onset_date", "resolution_date", "corticosteroids", "ici_action"]
    list_filter = ["term", "grade", "corticosteroids", "other_immunosuppressants", "ici_action", "patient__site"]
    search_fields = ["patient__study_id", "term_other"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient", "regimen"]
    date_hierarchy = "onset_date"


@admin.register(Outcome)
class OutcomeAdmin(HistoryAdmin):
    list_display = ["patient", "vital_status", "last_contact_date", "death_date", "clinical_progression_date"]
    list_filter = ["vital_status", "patient__site"]
    search_fields = ["patient__study_id"]
    list_select_related = ["patient"]
    autocomplete_fields = ["patient"]


@admin.register(DemoGroundTruth)
class DemoGroundTruthAdmin(SiteScopedAdmin, admin.ModelAdmin):
    list_display = ["patient", "pattern", "seed"]
    list_filter = ["pattern"]
    search_fields = ["patient__study_id"]
    list_select_related = ["patient"]
    readonly_fields = ["patient", "pattern", "parameters", "seed"]


@admin.register(ImportRun)
class ImportRunAdmin(SiteScopedAdmin, admin.ModelAdmin):
    list_display = ["created_at", "kind", "filename", "status", "rows", "started_by"]
    list_filter = ["kind", "status"]
    search_fields = ["filename", "sha256"]
    readonly_fields = [f.name for f in ImportRun._meta.fields]

    def has_add_permission(self, request):
        return False
