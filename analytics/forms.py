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


def _cohort(data):
    """The cohort filters of a cleaned form (only those chosen)."""
    cohort = {}
    if data["site"]:
        cohort["site"] = [s.code for s in data["site"]]
    if data["tumour_type"]:
        cohort["tumour_type"] = list(data["tumour_type"])
    return cohort


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
        cohort = _cohort(data)
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


MODEL_CHOICES = [("l1_logistic", "L1 (lasso) logistic regression"), ("elastic_net", "Elastic-net logistic regression"),
                 ("random_forest", "Random forest"), ("svm", "Support vector machine (RBF)"),
                 ("gradient_boosting", "Gradient boosting")]
SELECTION_CHOICES = [("univariate", "Univariate (ANOVA F, the k best)"), ("l1", "L1 logistic (at most k)"),
                     ("none", "None (every feature passing the filters)")]
TARGET_CHOICES = [("biomarker", "A biomarker status"), ("response", "A response outcome"), ("irae", "An irAE")]
RESPONSE_CHOICES = [("objective", "Objective response (CR/PR, RECIST 1.1)"), ("dcb", "Durable clinical benefit"),
                    ("pseudoprogression", "Pseudoprogression (among patients with a first iUPD)"),
                    ("hyperprogression", "Hyperprogression (any definition)")]
AGGREGATE_CHOICES = [("largest", "The largest target lesion"), ("mean", "Mean over target lesions"),
                     ("volume_weighted", "Volume-weighted mean over target lesions")]
BATCH_CHOICES = [("", "No harmonisation"), ("site", "Site"), ("manufacturer", "Scanner manufacturer"),
                 ("manufacturer_model_name", "Scanner model"), ("convolution_kernel", "Reconstruction kernel")]


def _words(text):
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


class ClassificationRunForm(forms.Form):
    """A new prediction model (``"kind": "classification"``, docs/analytics.md "Prediction models"): the cohort,
    the target, the features and the model. ``covariate_names`` as for :class:`AnalysisRunForm`; ``profiles`` the
    extraction profile names."""

    prefix = "model"

    site = AnalysisRunForm.base_fields["site"]
    tumour_type = AnalysisRunForm.base_fields["tumour_type"]
    time_zero = AnalysisRunForm.base_fields["time_zero"]
    target_kind = forms.ChoiceField(label="Target", choices=TARGET_CHOICES, initial="biomarker")
    biomarker = forms.ChoiceField(label="Biomarker", required=False)
    threshold = forms.FloatField(label="Positive at ≥", required=False,
                                 help_text="A numeric biomarker, e.g. PD-L1 TPS 50 (%).")
    positive = forms.CharField(label="Positive categories", required=False,
                               widget=forms.TextInput(attrs={"placeholder": "MSI-H"}),
                               help_text="A categorical biomarker instead of a threshold, e.g. MSI-H.")
    response = forms.ChoiceField(label="Response outcome", choices=RESPONSE_CHOICES, required=False)
    irae = forms.ChoiceField(label="irAE", required=False, choices=[("any", "Any irAE"), *AETerm.choices],
                             initial="pneumonitis")
    irae_min_grade = forms.TypedChoiceField(label="irAE minimum grade", required=False, coerce=int,
                                            choices=AEGrade.choices, initial=2)
    irae_within_days = forms.IntegerField(label="irAE within (days)", required=False, min_value=1, initial=180)
    profile = forms.ChoiceField(label="Radiomics profile", required=False,
                                help_text="None: clinical predictors only.")
    radiomics_timepoint = forms.ChoiceField(label="Radiomic features", required=False, initial="baseline", choices=[
        ("baseline", "Baseline"), ("delta", "Delta: baseline → first follow-up (relative change)")])
    region = forms.CharField(label="Region", required=False, initial="lesion", max_length=40,
                             help_text="lesion, or a peritumoral ring such as ring_0-3mm.")
    aggregate = forms.ChoiceField(label="Per patient", choices=AGGREGATE_CHOICES, initial="largest", required=False)
    include = forms.CharField(label="Feature families", required=False, initial="original_*",
                              help_text="pyradiomics name patterns, e.g. original_glcm_*, original_firstorder_*.")
    robust_only = forms.BooleanField(label="Robust features only", required=False,
                                     help_text="Drop features below the profile's stored ICC (feature_robustness).")
    exclude_flagged = forms.BooleanField(label="Leave out flagged delta pairs", required=False,
                                         help_text="Delta features: pairs with acquisition differences.")
    harmonise = forms.ChoiceField(label="ComBat harmonisation across", choices=BATCH_CHOICES, required=False)
    clinical = forms.MultipleChoiceField(label="Clinical predictors", required=False)
    model = forms.ChoiceField(label="Model", choices=MODEL_CHOICES, initial="l1_logistic")
    selection = forms.ChoiceField(label="Feature selection", choices=SELECTION_CHOICES, initial="univariate")
    k = forms.IntegerField(label="k", min_value=1, initial=20, help_text="The most features selected.")
    seed = forms.IntegerField(label="Seed", min_value=0, max_value=2 ** 32 - 1, initial=0)

    def __init__(self, *args, covariate_names, profiles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["biomarker"].choices = [(n, n) for n, kind in covariate_names.items() if kind == "biomarker"]
        self.fields["clinical"].choices = [
            (label, [(n, n) for n, kind in covariate_names.items() if kind == group])
            for group, label in COVARIATE_GROUPS if group in ("patient", "biomarker")]
        self.fields["profile"].choices = [("", "No radiomic features"), *[(p, p) for p in profiles]]

    def clean(self):
        data = super().clean()
        kind = data.get("target_kind")
        if kind == "biomarker" and data.get("threshold") is None and not _words(data.get("positive") or ""):
            self.add_error("threshold", "Give the threshold at or above which the biomarker is positive, or its "
                                        "positive categories.")
        if not data.get("profile") and not data.get("clinical"):
            self.add_error("profile", "Choose radiomic features (a profile) or clinical predictors, or both.")
        return data

    def _target(self, data):
        if data["target_kind"] == "biomarker":
            target = {"biomarker": data["biomarker"]}
            if data.get("threshold") is not None:
                value = data["threshold"]
                target["threshold"] = int(value) if float(value).is_integer() else value
            else:
                target["positive"] = _words(data["positive"])
            return target
        if data["target_kind"] == "response":
            return {"response": data["response"] or "objective"}
        return {"irae": data["irae"] or "any", "min_grade": data["irae_min_grade"] or 1,
                "within_days": data["irae_within_days"] or 180}

    def spec(self):
        data = self.cleaned_data
        cohort = _cohort(data)
        features = {}
        if data["profile"]:
            radiomics = {"profile": data["profile"], "aggregate": data["aggregate"] or "largest",
                         **({"region": data["region"].strip()} if data["region"].strip() not in ("", "lesion") else {}),
                         "include": _words(data["include"]) or ["*"],
                         "timepoint": {"delta": ["baseline", "first_follow_up"]}
                         if data["radiomics_timepoint"] == "delta" else "baseline"}
            if data["robust_only"]:
                radiomics["robust_only"] = True
            if data["exclude_flagged"]:
                radiomics["exclude_flagged"] = True
            features["radiomics"] = radiomics
        if data["clinical"]:
            features["clinical"] = list(data["clinical"])
        spec = {"kind": "classification", "cohort": cohort, "time_zero": _time_zero(data["time_zero"]),
                "target": self._target(data), "features": features, "model": data["model"],
                "selection": {"method": data["selection"], "k": data["k"]}, "seed": data["seed"]}
        if data["harmonise"]:
            spec["harmonise"] = {"batch": data["harmonise"]}
        return spec

    def add_spec_errors(self, error):
        """A service ``ValidationError`` on the field it concerns (the target, the features, the model)."""
        fields = {"target": "target_kind", "features": "profile", "features.radiomics": "profile",
                  "features.clinical": "clinical", "harmonise": "harmonise", "selection": "selection",
                  "seed": "seed", "model": "model", "cohort": None, "time_zero": "time_zero"}
        for key, messages in error.message_dict.items():
            field = fields.get(key, fields.get(key.split(".", 1)[0]))
            if key.startswith("cohort.") and key.split(".", 1)[1] in self.fields:
                field = key.split(".", 1)[1]
            for message in messages:
                self.add_error(field, message if field else f"{key}: {message}")
