from django.contrib import admin

from .models import AnalysisRun, ResponseAssessment, TimepointResponse


class TimepointResponseInline(admin.TabularInline):
    model = TimepointResponse
    extra = 0
    can_delete = False
    fields = ["timepoint", "criteria", "category", "target_sum_mm", "pct_change_from_baseline", "pct_change_from_nadir"]
    readonly_fields = fields


@admin.register(ResponseAssessment)
class ResponseAssessmentAdmin(admin.ModelAdmin):
    """Computed results: read-only (they are recomputed from lesion data); curators can re-run them."""

    list_display = ["patient", "regimen", "status", "recist_bor", "irecist_ibor", "pseudoprogression",
                    "hyperprogression_any", "dissociated_any", "iupd_awaiting_confirmation", "computed_at"]
    list_filter = ["status", "recist_bor", "irecist_ibor", "pseudoprogression", "hyperprogression_any",
                   "dissociated_any", "iupd_awaiting_confirmation", "patient__site"]
    search_fields = ["patient__study_id"]
    list_select_related = ["patient", "regimen"]
    inlines = [TimepointResponseInline]
    actions = ["recompute"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ResponseAssessment._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Recompute the selected assessments")
    def recompute(self, request, queryset):
        from .services import response_request

        patients = {a.patient for a in queryset.select_related("patient")}
        for patient in patients:
            response_request(patient=patient)
        self.message_user(request, f"Recomputation requested for {len(patients)} patient(s).")


@admin.register(AnalysisRun)
class AnalysisRunAdmin(admin.ModelAdmin):
    """Stored survival analyses: read-only records (reproducibility); curators can re-run them."""

    list_display = ["pk", "kind", "endpoint", "status", "created_by", "created_at", "finished_at", "rerun_of"]
    list_filter = ["status", "kind", "endpoint"]
    list_select_related = ["created_by", "rerun_of"]
    actions = ["rerun"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AnalysisRun._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Re-run the selected analyses (new runs, linked to these)")
    def rerun(self, request, queryset):
        from django.contrib import messages
        from django.core.exceptions import ValidationError

        from .services import analysis_run_rerun

        requested = 0
        for run in queryset:
            try:
                analysis_run_rerun(run, user=request.user)
                requested += 1
            except ValidationError as exc:  # the spec no longer fits the database (e.g. a removed biomarker kind)
                problems = "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())
                self.message_user(request, f"Analysis {run.pk} cannot be re-run: {problems}", level=messages.ERROR)
        self.message_user(request, f"{requested} re-run(s) requested.")
