from django import forms

from patients.choices import TumourType
from patients.forms import ClinicalImportForm
from patients.models import Patient, Site
from radimmuno.versioning import VersionedModelForm

from .models import Lesion, LesionMeasurement, Timepoint


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            if not data and self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class DicomUploadForm(forms.Form):
    files = MultipleFileField(
        help_text="DICOM files, a zip of a study, and NIfTI/NRRD label maps next to the series they were drawn on."
    )
    resample = forms.BooleanField(
        required=False, label="Resample label maps whose grid differs from their series (recorded)"
    )
    reference_series_uid = forms.CharField(
        required=False, max_length=64, label="Reference series UID (for label maps uploaded on their own)"
    )


class QuarantineAssignForm(forms.Form):
    patient = forms.ModelChoiceField(queryset=Patient.objects.select_related("site").order_by("study_id"))


class QuarantineCreatePatientForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.all())
    study_id = forms.CharField(max_length=40, label="Study ID (pseudonymous)")
    tumour_type = forms.ChoiceField(choices=TumourType.choices)


class QuarantineDiscardForm(forms.Form):
    reason = forms.CharField(max_length=500)


class MeasurementImportForm(ClinicalImportForm):
    """A RECIST CRF file (one row per lesion reading), layout in docs/import.md."""

    file = forms.FileField(help_text="CSV (UTF-8) or XLSX, one row per lesion reading (layout: docs/import.md).")


class FeatureImportForm(ClinicalImportForm):
    """Features computed by another tool, in long format, for an external profile."""

    field_order = ["file", "profile", "description", "dry_run"]

    file = forms.FileField(help_text="CSV (UTF-8) or XLSX: record_id, lesion, assessment_date, region, feature, "
                                     "value (layout: docs/import.md).")
    profile = forms.SlugField(max_length=64, label="External profile name",
                              help_text="e.g. lifex-ct. Created on first use; never the name of a pyradiomics "
                                        "profile.")
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The tool, its version and settings. For a new profile: its parameters; a different description "
                  "than the latest version's starts the next version. Leave empty to use the latest version.")


# -- recording on the patient page (lesion table): the model's own validation messages appear at the field ---------
class MeasurementForm(VersionedModelForm):
    """One cell of the lesion table: a lesion's size or status at one assessment (with the version the editor saw:
    a cell saved meanwhile by someone else is a conflict showing both values, radimmuno.versioning)."""

    class Meta:
        model = LesionMeasurement
        fields = ["size_mm", "status", "non_target_status"]
        widgets = {"size_mm": forms.NumberInput(attrs={"step": "0.1", "min": "0", "inputmode": "decimal"})}
        labels = {"size_mm": "Size (mm)", "non_target_status": "Non-target status"}

    def __init__(self, *args, lesion, timepoint, **kwargs):
        kwargs.setdefault("instance", LesionMeasurement.objects.filter(lesion=lesion, timepoint=timepoint).first()
                          or LesionMeasurement(lesion=lesion, timepoint=timepoint))
        kwargs.setdefault("prefix", f"cell-{lesion.pk}-{timepoint.pk}")  # unique ids when several cells are open
        super().__init__(*args, **kwargs)
        self.lesion, self.timepoint = lesion, timepoint
        if lesion.role == "target":
            del self.fields["non_target_status"]
        elif lesion.role == "non-target":
            self.fields["non_target_status"].required = True


class TimepointForm(forms.ModelForm):
    """A new imaging assessment of the patient (the regimen it evaluates is chosen from the dates)."""

    class Meta:
        model = Timepoint
        fields = ["date", "kind"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"})}
        labels = {"date": "Scan date"}

    def __init__(self, *args, patient, **kwargs):
        kwargs.setdefault("prefix", "timepoint")
        super().__init__(*args, instance=Timepoint(patient=patient), **kwargs)
        self.patient = patient

    def clean_date(self):
        date = self.cleaned_data["date"]
        if Timepoint.objects.filter(patient=self.patient, date=date).exists():
            raise forms.ValidationError(f"There is already an assessment on {date.isoformat()}; record its lesions "
                                        "in its column instead.")
        return date


class LesionForm(forms.ModelForm):
    """A new lesion: baseline target or non-target, or a new lesion with the assessment where it appeared."""

    class Meta:
        model = Lesion
        fields = ["label", "role", "organ", "nodal", "location", "appeared_at", "equivocal"]
        labels = {"nodal": "Lymph node (short axis)", "appeared_at": "First seen at (new lesions)"}

    def __init__(self, *args, patient, **kwargs):
        kwargs.setdefault("prefix", "lesion")
        super().__init__(*args, instance=Lesion(patient=patient), **kwargs)
        self.patient = patient
        self.fields["appeared_at"].queryset = Timepoint.objects.filter(patient=patient).order_by("date")
        self.fields["appeared_at"].label_from_instance = lambda tp: f"{tp.date:%Y-%m-%d} ({tp.get_kind_display()})"

    def clean_label(self):
        label = self.cleaned_data["label"].strip()
        if Lesion.objects.filter(patient=self.patient, label__iexact=label).exists():
            raise forms.ValidationError(f"This patient already has a lesion {label}; choose another label.")
        return label
