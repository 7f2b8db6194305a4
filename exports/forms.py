from django import forms

from patients.choices import DrugClass, TumourType
from patients.models import Site
from patients.selectors import site_codes

from .models import DatasetExport, ExportProject


class DatasetExportForm(forms.Form):
    """The export page's choices: the cohort (patient-list filters), the project, the format, SDTM or not."""

    site = forms.MultipleChoiceField(required=False, help_text="None selected: all your sites.",
                                     widget=forms.SelectMultiple(attrs={"size": 4}))
    tumour_type = forms.MultipleChoiceField(required=False, choices=TumourType.choices,
                                            help_text="None selected: every tumour type.",
                                            widget=forms.SelectMultiple(attrs={"size": 4}))
    drug_class = forms.MultipleChoiceField(required=False, choices=DrugClass.choices, label="Drug class",
                                           help_text="Patients with a regimen of this class (as on the patient "
                                                     "list). None selected: every class.",
                                           widget=forms.SelectMultiple(attrs={"size": 4}))
    project = forms.ModelChoiceField(queryset=ExportProject.objects.all(), required=False, to_field_name="slug",
                                     empty_label="None (study IDs as they are)",
                                     help_text="A project's exports use its keyed-hash pseudonyms.")
    format = forms.ChoiceField(choices=DatasetExport.Format.choices, initial=DatasetExport.Format.CSV)
    sdtm = forms.BooleanField(required=False, label="Also the SDTM TU, TR and RS domains")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = site_codes(user) if user is not None else None  # the user's sites only (issue 15)
        self.fields["site"].choices = [(s.code, str(s)) for s in Site.objects.all()
                                       if allowed is None or s.code in allowed]

    def filters(self):
        return {name: self.cleaned_data[name] for name in ("site", "tumour_type", "drug_class")}
