from django import forms

from patients.choices import TumourType
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
