"""Forms of the analytics pages. They parse what a researcher typed into a spec (docs/analytics.md); the service
(``analysis_run_create``) validates it and its ``ValidationError`` is shown on the field it names."""
from django import forms

from patients.choices import AEGrade, AETerm, DrugClass, TumourType
from patients.models import Site

from .filtersets import AnalysisRunFilterSet

KIND_CHOICES = AnalysisRunFilterSet.base_filters["kind"].extra["choices"]
ENDPOINT_CHOICES = AnalysisRunFilterSet.base_filters["endpoint"].extra["choices"]
COVARIATE_GROUPS = (("patient", "Patient and regimen"), ("biomarker", "Biomarkers (latest before time zero)"),
                    ("response", "Response groups (landmark analyses only)"))


TIME_ZERO_CHOICES = [
    ("first_ici", "Each patient's first ICI regimen"),
    ("Line of therapy", [(f"line:{n}", f"The regimen of line {n}") for n in range(1, 5)]),
    ("Drug class", [(f"class:{c.value}", f"The first regimen with an {c.label} agent") for c in DrugClass]),
]


def _time_zero(choice):
    choice = choice or "first_ici"
    if choice.startswith("line:"):
        return {"line_of_therapy": int(choice[5:])}
    if choice.startswith("class:"):
        return {"drug_class": choice[6:]}
    return {"regimen": "first_ici"}


def _pairs(text):
    """'sex=F, tumour_type=nsclc' -> {"sex": "F", "tumour_type": "nsclc"}; ValidationError for a malformed pair."""
    pairs = {}
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, level = (p.strip() for p in part.partition("="))
        if not sep or not name or not level:
            raise forms.ValidationError(f"{part!r}: write each reference level as covariate=level, e.g. sex=F.")
        pairs[name] = level
    return pairs


def _numbers(text, field):
    """'1, 50' -> [1, 50] (whole numbers stay whole); raises ValidationError for anything else."""
    values = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            number = float(part)
        except ValueError:
            raise forms.ValidationError(f"{part!r} is not a number; give {field} as numbers separated by commas.")
        values.append(int(number) if number.is_integer() else number)
    return values


class AnalysisRunForm(forms.Form):
    """A new survival analysis: the cohort (the patient list's filters), what to fit and on what.

    ``covariate_names`` is ``survival_covariate_names()`` ({name: "patient" | "biomarker" | "response"}).
    """

    site = forms.ModelMultipleChoiceField(queryset=Site.objects.order_by("code"), to_field_name="code",
                                          required=False, help_text="None selected: every site.")
    tumour_type = forms.MultipleChoiceField(choices=TumourType.choices, required=False,
                                            help_text="None selected: every tumour type.")
    kind = forms.ChoiceField(label="Analysis", choices=KIND_CHOICES, initial="km")
    endpoint = forms.ChoiceField(choices=ENDPOINT_CHOICES, initial="os")
    covariates = forms.MultipleChoiceField(required=False, help_text="Cox, landmark Cox and time-varying models.")
    group_by = forms.ChoiceField(label="Group by", required=False,
                                 help_text="Kaplan–Meier groups (or a landmark analysis's response group).")
    cut = forms.CharField(label="Cut points", required=False, help_text="For a numeric group, e.g. 1, 50.",
                          widget=forms.TextInput(attrs={"placeholder": "1, 50"}))
    times = forms.CharField(label="Survival at (days)", required=False, initial="182, 365, 730",
                            help_text="Kaplan–Meier survival is reported at these times.")
    landmark_weeks = forms.FloatField(label="Landmark (weeks)", required=False, min_value=0, initial=12,
                                      help_text="Landmark analyses only.")
    time_zero = forms.ChoiceField(label="Time zero", choices=TIME_ZERO_CHOICES, initial="first_ici", required=False,
                                  help_text="Follow-up starts at this regimen's start; patients without one are "
                                            "excluded and counted.")
    radiomic_covariates = forms.CharField(
        label="Radiomic covariates", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: radiomics:<profile>:<feature>[:sum|mean|min|max], the baseline target lesions' "
                  "feature (e.g. radiomics:ct-default:original_shape_VoxelVolume).")
    reference = forms.CharField(label="Reference levels", required=False,
                                widget=forms.TextInput(attrs={"placeholder": "sex=F, tumour_type=nsclc"}),
                                help_text="Categorical covariates only; default: the first level in sorted order.")
    irae = forms.ChoiceField(label="irAE term", required=False, choices=[("any", "Any irAE"), *AETerm.choices],
                             initial="any", help_text="Time-varying irAE Cox only.")
    min_grade = forms.TypedChoiceField(label="irAE minimum grade", required=False, coerce=int,
                                       choices=AEGrade.choices, initial=2)

    def __init__(self, *args, covariate_names, **kwargs):
        super().__init__(*args, **kwargs)
        grouped = [(label, [(name, name) for name, source in covariate_names.items() if source == group])
                   for group, label in COVARIATE_GROUPS]
        grouped = [(label, names) for label, names in grouped if names]
        self.fields["covariates"].choices = grouped
        self.fields["group_by"].choices = [("", "No grouping (one curve)"), *grouped]

    def clean_radiomic_covariates(self):
        return [line.strip() for line in self.cleaned_data["radiomic_covariates"].splitlines() if line.strip()]

    def clean_reference(self):
        return _pairs(self.cleaned_data["reference"])

    def clean_cut(self):
        return _numbers(self.cleaned_data["cut"], "cut points")

    def clean_times(self):
        return _numbers(self.cleaned_data["times"], "times")

    def spec(self):
        """The spec the cleaned form describes (only the keys its kind uses; defaults left to the service)."""
        data = self.cleaned_data
        cohort = {}
        if data["site"]:
            cohort["site"] = [s.code for s in data["site"]]
        if data["tumour_type"]:
            cohort["tumour_type"] = list(data["tumour_type"])
        spec = {"kind": data["kind"], "endpoint": data["endpoint"], "cohort": cohort,
                "time_zero": _time_zero(data["time_zero"])}
        covariates = [*data["covariates"], *data["radiomic_covariates"]]
        if covariates:
            spec["covariates"] = covariates
        if data["reference"]:
            spec["reference"] = data["reference"]
        if data["group_by"]:
            spec["group_by"] = data["group_by"]
        if data["cut"]:
            spec["cut"] = data["cut"]
        if data["times"]:
            spec["times"] = data["times"]
        if data["kind"] == "landmark" and data["landmark_weeks"] is not None:
            weeks = data["landmark_weeks"]
            spec["landmark_weeks"] = int(weeks) if float(weeks).is_integer() else weeks
        if data["kind"] == "cox_tv":
            spec["irae"] = {"irae": data["irae"] or "any", "min_grade": data["min_grade"] or 1}
        return spec

    def add_spec_errors(self, error):
        """Show a service ``ValidationError`` ({spec field: messages}) on the form field it names."""
        for key, messages in error.message_dict.items():
            field = key.split(".", 1)[1] if key.startswith("cohort.") else key
            if field == "irae" and any("grade" in m for m in messages):
                field = "min_grade"
            if field == "covariates" and any("radiomics:" in m and m.startswith("'radiomics:") for m in messages):
                field = "radiomic_covariates"
            if field not in self.fields:
                messages = [f"{key}: {m}" for m in messages]
                field = None
            for message in messages:
                self.add_error(field, message)
