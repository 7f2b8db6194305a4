from django import forms

from patients.choices import TumourType
from patients.forms import ClinicalImportForm
from patients.models import Patient, Site


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
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
