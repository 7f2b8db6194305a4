"""Curation admin for timepoints, lesions and measurements, with change history."""
from django.contrib import admin

from accounts.admin_scope import SiteScopedAdmin
from patients.admin import HistoryAdmin, PatientAdmin
from radimmuno.versioning import VersionedModelForm

from .models import Lesion, LesionMeasurement, Timepoint


class TimepointInline(SiteScopedAdmin, admin.TabularInline):
    """The patient's imaging assessments on the patient's change page (attached below: patients imports nothing
    from imaging)."""

    model = Timepoint
    form = VersionedModelForm
    extra = 0
    fields = ["date", "kind", "regimen", "days_from_regimen_start"]
    readonly_fields = ["days_from_regimen_start"]
    show_change_link = True


PatientAdmin.inlines = [*PatientAdmin.inlines, TimepointInline]


class MeasurementInline(SiteScopedAdmin, admin.TabularInline):
    model = LesionMeasurement
    form = VersionedModelForm  # a measurement saved meanwhile by someone else: a conflict with both values
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
    form = VersionedModelForm  # saved meanwhile by someone else: a conflict showing both values
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
    form = VersionedModelForm  # saved meanwhile by someone else: a conflict showing both values
    list_display = ["patient", "label", "organ", "nodal", "role", "appeared_at", "equivocal"]
    list_filter = ["role", "organ", "nodal", "equivocal", "patient__site"]
    search_fields = ["patient__study_id", "label", "location"]
    list_select_related = ["patient", "appeared_at"]
    autocomplete_fields = ["patient", "appeared_at", "split_from", "merged_into"]


@admin.register(LesionMeasurement)
class LesionMeasurementAdmin(HistoryAdmin):
    form = VersionedModelForm  # a measurement saved meanwhile by someone else: a conflict with both values
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


# --------------------------------------------------------------------------- imaging ingest (issue 3)
from django.contrib import messages  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402
from django.template.response import TemplateResponse  # noqa: E402

from . import services  # noqa: E402
from radimmuno.lazy import lazy_import  # noqa: E402
from .services.radiomics import feature_set_retry, profile_export_yaml, profile_save  # noqa: E402
from .forms import QuarantineAssignForm, QuarantineCreatePatientForm, QuarantineDiscardForm  # noqa: E402
from .choices import QuarantineStatus  # noqa: E402

ingest = lazy_import("imaging.ingest")  # pydicom, highdicom: loaded by the first quarantine action
from .models import IngestJob, Instance, QuarantinedFile, Segment, Segmentation, Series, Study  # noqa: E402


class ReadOnlyAdmin(SiteScopedAdmin, admin.ModelAdmin):
    """Rows written by ingest only: browsable, not editable by hand."""

    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Study)
class StudyAdmin(HistoryAdmin):
    list_display = ["patient", "study_date", "study_description", "timepoint", "study_instance_uid"]
    list_filter = ["patient__site"]
    search_fields = ["patient__study_id", "study_instance_uid", "study_description"]
    list_select_related = ["patient", "timepoint__patient"]
    autocomplete_fields = ["timepoint"]
    readonly_fields = ["patient", "study_instance_uid", "study_date", "study_time", "study_description"]

    def has_add_permission(self, request):
        return False


@admin.register(Series)
class SeriesAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "study", "modality", "instance_count", "volume_status", "volume_message"]
    list_filter = ["modality", "volume_status"]
    search_fields = ["series_instance_uid", "series_description", "study__patient__study_id"]
    list_select_related = ["study__patient"]


@admin.register(Instance)
class InstanceAdmin(ReadOnlyAdmin):
    list_display = ["sop_instance_uid", "series", "instance_number", "size_bytes", "received_at"]
    search_fields = ["sop_instance_uid", "sha256"]
    list_select_related = ["series"]


@admin.register(IngestJob)
class IngestJobAdmin(ReadOnlyAdmin):
    list_display = ["pk", "source", "label", "status", "files_done", "stored", "duplicates", "conflicts", "rejected",
                    "quarantined", "segmentations", "created_at"]
    list_filter = ["source", "status"]


class SegmentInline(SiteScopedAdmin, admin.TabularInline):
    model = Segment
    extra = 0
    can_delete = False
    fields = ["number", "label", "lesion", "lesion_mapping", "voxel_count", "long_axis_mm", "short_axis_mm",
              "proposal_status"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Segmentation)
class SegmentationAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "image_series", "resampled", "created_at"]
    list_filter = ["kind", "resampled"]
    list_select_related = ["image_series__study__patient"]
    inlines = [SegmentInline]


@admin.register(Segment)
class SegmentAdmin(HistoryAdmin):
    """Curators map segments to lesions; clinicians accept the derived measurement (action) or override it."""

    list_display = ["label", "patient", "lesion", "lesion_mapping", "long_axis_mm", "short_axis_mm",
                    "proposed_size_mm", "proposal_status"]
    list_filter = ["proposal_status", "lesion_mapping", "segmentation__kind"]
    search_fields = ["label", "segmentation__image_series__study__patient__study_id"]
    list_select_related = ["lesion", "segmentation__image_series__study__patient"]
    fields = ["segmentation", "number", "label", "lesion", "lesion_mapping", "voxel_count", "volume_mm3",
              "long_axis_mm", "short_axis_mm", "slice_index", "proposal_status", "measurement", "reviewed_by",
              "reviewed_at"]
    readonly_fields = [f for f in fields if f != "lesion"]
    actions = ["accept_proposals"]

    @admin.display(description="patient")
    def patient(self, obj):
        return obj.segmentation.image_series.study.patient

    def has_add_permission(self, request):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "lesion" and request.resolver_match and request.resolver_match.kwargs.get("object_id"):
            segment = Segment.objects.select_related("segmentation__image_series__study").filter(
                pk=request.resolver_match.kwargs["object_id"]).first()
            if segment:
                patient_id = segment.segmentation.image_series.study.patient_id
                kwargs["queryset"] = Lesion.objects.filter(patient_id=patient_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if "lesion" in form.changed_data and obj.lesion is not None:
            services.segment_assign_lesion(segment=obj, lesion=obj.lesion, user=request.user)
        elif "lesion" in form.changed_data:
            obj.lesion_mapping = "unmatched"
            super().save_model(request, obj, form, change)

    @admin.action(description="Accept the derived measurement (never replaces a manual one)")
    def accept_proposals(self, request, queryset):
        done, problems = 0, []
        for segment in queryset.select_related("lesion", "segmentation__image_series__study__timepoint"):
            try:
                services.segment_measurement_accept(segment=segment, user=request.user)
                done += 1
            except ValidationError as exc:
                problems.append(f"{segment.label}: {' '.join(exc.messages)}")
        if done:
            self.message_user(request, f"Accepted {done} measurement(s).", messages.SUCCESS)
        for problem in problems:
            self.message_user(request, problem, messages.WARNING)


@admin.register(QuarantinedFile)
class QuarantinedFileAdmin(HistoryAdmin):
    """Files ingest could not place, with the reason; resolve them with the actions (which call services)."""

    list_display = ["original_name", "reason_code", "short_reason", "dicom_patient_id", "source", "peer_ae_title",
                    "status", "created_at"]
    list_filter = ["status", "reason_code", "source"]
    search_fields = ["original_name", "dicom_patient_id", "sop_instance_uid", "series_instance_uid", "sha256"]
    readonly_fields = [f.name for f in QuarantinedFile._meta.fields]
    actions = ["retry", "assign_patient", "create_patient", "discard"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method != "POST" or obj is None  # only the actions write

    @admin.display(description="reason")
    def short_reason(self, obj):
        return obj.reason if len(obj.reason) < 120 else obj.reason[:117] + "…"

    def _open(self, request, queryset):
        selected = list(queryset.filter(status=QuarantineStatus.OPEN))
        if not selected:
            self.message_user(request, "None of the selected files is open.", messages.WARNING)
        return selected

    def _report(self, request, job):
        level = messages.SUCCESS if job.status == "done" else messages.ERROR
        self.message_user(request, f"Ingest job #{job.pk}: {job.stored} stored, {job.duplicates} duplicate(s), "
                                   f"{job.rejected + job.quarantined + job.conflicts} still quarantined. {job.error}",
                          level)

    def _form_step(self, request, queryset, form_class, title, call):
        selected = self._open(request, queryset)
        if not selected:
            return None
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            try:
                job = call(selected, form.cleaned_data)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return None
            if job is not None:
                self._report(request, job)
            return None
        context = {**self.admin_site.each_context(request), "title": title, "form": form, "queryset": selected,
                   "action": request.POST.get("action"), "opts": self.model._meta,
                   "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
        return TemplateResponse(request, "imaging/admin_quarantine_action.html", context)

    @admin.action(description="Re-try ingest (after the cause was fixed)")
    def retry(self, request, queryset):
        selected = self._open(request, queryset)
        if selected:
            self._report(request, ingest.curation.quarantine_retry(quarantined=selected, user=request.user))

    @admin.action(description="Assign to a patient and ingest")
    def assign_patient(self, request, queryset):
        return self._form_step(request, queryset, QuarantineAssignForm, "Assign quarantined files to a patient",
                               lambda files, data: ingest.curation.quarantine_assign_patient(
                                   quarantined=files, patient=data["patient"], user=request.user))

    @admin.action(description="Create a patient for them and ingest")
    def create_patient(self, request, queryset):
        return self._form_step(request, queryset, QuarantineCreatePatientForm, "Create a patient for these files",
                               lambda files, data: ingest.curation.quarantine_create_patient(
                                   quarantined=files, user=request.user, **data))

    @admin.action(description="Discard (keep the file, close the entry)")
    def discard(self, request, queryset):
        return self._form_step(request, queryset, QuarantineDiscardForm, "Discard quarantined files",
                               lambda files, data: ingest.curation.quarantine_discard(
                                   quarantined=files, user=request.user, reason=data["reason"]))


# -- radiomics --------------------------------------------------------------------------------------------------
from django import forms as _forms  # noqa: E402
from django.core.exceptions import ValidationError as _ValidationError  # noqa: E402

from .models import ExternalFeatureSet, ExtractionProfile, FeatureSet  # noqa: E402


class ExtractionProfileForm(_forms.ModelForm):
    """Edit a profile as pyradiomics YAML; saving creates the next version (the old one stays for its features)."""

    yaml = _forms.CharField(widget=_forms.Textarea(attrs={"rows": 18, "cols": 90}), label="Parameters (YAML)",
                            help_text="A pyradiomics parameter file: setting / imageType / featureClass.")

    class Meta:
        model = ExtractionProfile
        fields = ["name", "modality", "rings_mm", "description", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.is_external:
            self.initial["yaml"] = self.instance.params.get("description", "")  # free text, not pyradiomics YAML
        elif self.instance.pk:

            self.initial["yaml"] = profile_export_yaml(self.instance)

    def clean(self):
        from .compute.radiomics import load_params

        cleaned = super().clean()
        try:
            cleaned["params"] = load_params(cleaned.get("yaml", ""))
        except Exception as exc:  # noqa: BLE001 - shown on the form
            raise _ValidationError({"yaml": f"Not a valid pyradiomics parameter file: {exc}"}) from None
        return cleaned


@admin.register(ExtractionProfile)
class ExtractionProfileAdmin(SiteScopedAdmin, admin.ModelAdmin):
    form = ExtractionProfileForm
    list_display = ["name", "version", "source", "modality", "active", "regions_list", "params_hash_short",
                    "created_at"]
    list_filter = ["source", "active", "modality", "name"]
    search_fields = ["name", "description"]
    readonly_fields = ["version", "params_hash", "created_by", "created_at"]

    def has_change_permission(self, request, obj=None):
        """External profiles are written by import_features only (their parameters are not pyradiomics YAML)."""
        if obj is not None and obj.is_external:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="regions")
    def regions_list(self, obj):
        return ", ".join(obj.regions)

    @admin.display(description="parameters")
    def params_hash_short(self, obj):
        return obj.params_hash[:12]

    def save_model(self, request, obj, form, change):
        """Never edit a version in place: the service stores the next version when anything changed."""

        profile, _ = profile_save(name=form.cleaned_data["name"], params=form.cleaned_data["params"],
                                  rings_mm=form.cleaned_data["rings_mm"], modality=form.cleaned_data["modality"],
                                  description=form.cleaned_data["description"], active=form.cleaned_data["active"],
                                  user=request.user)
        obj.pk = profile.pk
        obj.refresh_from_db()


@admin.register(FeatureSet)
class FeatureSetAdmin(ReadOnlyAdmin):
    list_display = ["segment", "profile", "region", "status", "feature_count", "attempts", "duration",
                    "finished_at"]
    list_filter = ["status", "region", "profile"]
    search_fields = ["segment__segmentation__image_series__study__patient__study_id", "segment__label", "error"]
    list_select_related = ["segment__segmentation", "profile"]
    actions = ["retry"]

    @admin.display(description="seconds")
    def duration(self, obj):
        return f"{obj.duration_s:.1f}" if obj.duration_s is not None else "–"

    @admin.action(description="Extract the selected feature sets again")
    def retry(self, request, queryset):

        n = 0
        for fs in queryset:
            feature_set_retry(feature_set=fs)
            n += 1
        self.message_user(request, f"{n} feature set(s) queued for extraction.")


@admin.register(ExternalFeatureSet)
class ExternalFeatureSetAdmin(ReadOnlyAdmin):
    """Written by import_features only: browsable (and deletable), never edited by hand."""

    list_display = ["lesion", "timepoint", "profile", "region", "feature_count", "import_run", "imported_at"]
    list_filter = ["profile", "region"]
    search_fields = ["lesion__patient__study_id", "lesion__label"]
    list_select_related = ["lesion__patient", "timepoint__patient", "profile", "import_run"]
    readonly_fields = [f.name for f in ExternalFeatureSet._meta.fields]
