from django.contrib import admin

from accounts.admin_scope import SiteScopedAdmin

from .models import AnalysisRun, FeatureRobustness, ResponseAssessment, TimepointResponse


class TimepointResponseInline(SiteScopedAdmin, admin.TabularInline):
    model = TimepointResponse
    extra = 0
    can_delete = False
    fields = ["timepoint", "criteria", "category", "target_sum_mm", "pct_change_from_baseline", "pct_change_from_nadir"]
    readonly_fields = fields


@admin.register(ResponseAssessment)
class ResponseAssessmentAdmin(SiteScopedAdmin, admin.ModelAdmin):
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
class AnalysisRunAdmin(SiteScopedAdmin, admin.ModelAdmin):
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


@admin.register(FeatureRobustness)
class FeatureRobustnessAdmin(SiteScopedAdmin, admin.ModelAdmin):
    """Stored robustness of each profile version (``manage.py feature_robustness``): read-only, with its table."""

    list_display = ["profile", "method", "status", "n_lesions", "n_patients", "robust_of", "threshold",
                    "perturbations_list", "computed_at"]
    list_filter = ["profile", "method", "status"]
    list_select_related = ["profile"]
    fields = ["profile", "method", "status", "error", "perturbations", "seed", "contour_probability", "threshold",
              "lesion_limit", "n_lesions", "n_patients", "n_features", "n_robust", "by_class", "feature_table",
              "excluded_lesions", "notes", "inputs_sha256", "versions", "computed_at", "started_at", "finished_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="robust")
    def robust_of(self, obj):
        return f"{obj.n_robust} / {obj.n_features}"

    @admin.display(description="perturbations")
    def perturbations_list(self, obj):
        return ", ".join(obj.perturbations)

    @admin.display(description="ICC by feature class")
    def by_class(self, obj):
        from django.utils.html import format_html, format_html_join

        from .selectors import robustness_class_summary

        if not obj.features:
            return "–"
        summary = robustness_class_summary(row=obj, texture_row=True)
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td></tr>", (
            (cls, int(s.n_features), int(s.n_robust), f"{s.median_icc:.3f}", f"{s.q1_icc:.3f}", f"{s.q3_icc:.3f}")
            for cls, s in summary.iterrows()))
        return format_html("<table><thead><tr><th>class</th><th>features</th><th>robust</th><th>median ICC</th>"
                           "<th>IQR</th></tr></thead><tbody>{}</tbody></table>", rows)

    @admin.display(description="features (lowest ICC first)")
    def feature_table(self, obj):
        from django.utils.html import format_html, format_html_join

        def number(value):
            return "–" if value is None else f"{value:.3f}"

        ranked = sorted(obj.features.items(), key=lambda item: (item[1].get("icc") is not None,
                                                                 item[1].get("icc") or 0.0))
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{} – {}</td><td>{}</td><td>{}</td></tr>", (
            (name, number(row.get("icc")), number(row.get("ci_lower")), number(row.get("ci_upper")), row.get("n"),
             "robust" if row.get("robust") else (row.get("undefined") or "not robust"))
            for name, row in ranked))
        return format_html("<table><thead><tr><th>feature</th><th>ICC(3,1)</th><th>95 % CI</th><th>lesions</th>"
                           "<th></th></tr></thead><tbody>{}</tbody></table>", rows)

    @admin.display(description="left out")
    def excluded_lesions(self, obj):
        from django.utils.html import format_html_join

        return format_html_join("", "<p>{} of {} ({}, segment {}): {}</p>", (
            (e["lesion"], e["patient"], e["date"], e["segment"], e["reason"]) for e in obj.excluded)) or "–"
