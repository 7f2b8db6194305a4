"""Curation admin for timepoints, lesions and measurements, with change history."""
from django.contrib import admin

from patients.admin import HistoryAdmin

from .models import Lesion, LesionMeasurement, Timepoint


class MeasurementInline(admin.TabularInline):
    model = LesionMeasurement
    extra = 0
    fields = ["lesion", "size_mm", "status", "non_target_status", "source", "recorded_by", "recorded_at"]
    readonly_fields = ["recorded_by", "recorded_at"]
    autocomplete_fields = ["lesion"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("lesion", "recorded_by")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Offer only the lesions of this timepoint's patient.
        if db_field.name == "lesion" and getattr(request, "_timepoint_patient_id", None):
            kwargs["queryset"] = Lesion.objects.filter(patient_id=request._timepoint_patient_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Timepoint)
class TimepointAdmin(HistoryAdmin):
    list_display = ["patient", "date", "kind", "regimen", "days_from_regimen_start"]
    list_filter = ["kind", "patient__site", "patient__tumour_type"]
    search_fields = ["patient__study_id"]
    list_select_related = ["patient", "regimen"]
    autocomplete_fields = ["patient"]
    readonly_fields = ["days_from_regimen_start"]
    date_hierarchy = "date"
    inlines = [MeasurementInline]

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            request._timepoint_patient_id = obj.patient_id
        return obj

    def save_formset(self, request, form, formset, change):
        for instance in formset.save(commit=False):
            if isinstance(instance, LesionMeasurement):
                instance.recorded_by = request.user
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()


@admin.register(Lesion)
class LesionAdmin(HistoryAdmin):
    list_display = ["patient", "label", "organ", "nodal", "role", "appeared_at", "equivocal"]
    list_filter = ["role", "organ", "nodal", "equivocal", "patient__site"]
    search_fields = ["patient__study_id", "label", "location"]
    list_select_related = ["patient", "appeared_at"]
    autocomplete_fields = ["patient", "appeared_at", "split_from", "merged_into"]


@admin.register(LesionMeasurement)
class LesionMeasurementAdmin(HistoryAdmin):
    list_display = ["lesion", "timepoint", "size_mm", "status", "non_target_status", "source", "recorded_by",
                    "recorded_at"]
    list_filter = ["status", "non_target_status", "source", "lesion__role", "lesion__patient__site"]
    search_fields = ["lesion__patient__study_id", "lesion__label"]
    list_select_related = ["lesion__patient", "timepoint__patient", "recorded_by"]
    autocomplete_fields = ["lesion", "timepoint"]
    readonly_fields = ["recorded_by", "recorded_at"]

    def save_model(self, request, obj, form, change):
        obj.recorded_by = request.user
        super().save_model(request, obj, form, change)
