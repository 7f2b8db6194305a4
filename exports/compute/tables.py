"""The research export's tables as data: every column with its type, unit and meaning.

One definition serves the writers (column order, CSV header, Parquet schema), the manifest's column dictionary and
docs/export.md, so what the files hold and what the documentation says cannot drift apart. Days are whole calendar
days from the start of the patient's first immune checkpoint inhibitor (ICI) regimen (day 0; negative before it):
no calendar date leaves the database.
"""
from dataclasses import dataclass

#: The column types, as Parquet stores them (CSV holds their text: integers in decimal, floats as Python's
#: ``repr``, booleans as ``true``/``false``, missing as an empty field).
TYPES = ("string", "int32", "int64", "float64", "bool")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    unit: str
    description: str

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type!r}")


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple
    pattern: Column | None = None  # the columns known only at export time (features_wide), as one entry
    dynamic: int = 0               # how many of ``columns`` (the last ones) follow ``pattern``

    @property
    def names(self):
        return [c.name for c in self.columns]

    def with_columns(self, extra):
        """The same table with the columns known only at export time (``features_wide``: one per feature)."""
        extra = tuple(extra)
        return Table(self.name, self.description, tuple(self.columns) + extra, self.pattern, self.dynamic + len(extra))

    def dictionary(self):
        """The manifest's entry for this table (the ``pattern`` columns as one entry with their count)."""
        fixed = self.columns[:len(self.columns) - self.dynamic]
        columns = [{"name": c.name, "type": c.type, "unit": c.unit, "description": c.description} for c in fixed]
        if self.pattern is not None:
            p = self.pattern
            columns.append({"name": p.name, "type": p.type, "unit": p.unit, "description": p.description,
                            "count": self.dynamic})
        return {"description": self.description, "columns": columns}


def _c(name, type_, unit, description):
    return Column(name, type_, unit, description)


PSEUDONYM = _c("pseudonym", "string", "", "The patient's pseudonym in this export project: 'P' and 16 hex digits of "
               "HMAC-SHA256(project key, site code and study ID); the study ID itself only for a project that does "
               "not pseudonymise. The same patient has the same pseudonym in every export of the project.")
LESION = _c("lesion", "string", "", "The lesion's identifier within the patient: T (target), NT (non-target) or NEW, "
            "and its rank among the patient's lesions of that role by the reader's label (T01, NT02, NEW01); never "
            "the reader's label itself (it is typed by hand).")
REGIMEN = _c("regimen", "int32", "", "The regimen's number within the patient, 1 for the earliest (ordered by start, "
             "then line of therapy).")
DAY_NOTE = "days from the start of the first ICI regimen (day 0; negative before it)"


def _day(name, what):
    return _c(name, "int32", "days", f"{what}: {DAY_NOTE}.")


PATIENTS = Table("patients", "One row per patient of the selection who started an ICI regimen.", (
    PSEUDONYM,
    _c("site", "string", "", "The site's pseudonym in this export project ('S' and 8 hex digits of HMAC-SHA256), or "
       "the site code for a project that does not pseudonymise."),
    _c("sex", "string", "", "F, M, O (other) or U (unknown)."),
    _c("age_at_ici_start", "string", "years", "Age at the start of the first ICI regimen, as that year minus the "
       "year of birth (as the survival analyses' age_at_start); '90+' for ages over 89 (HIPAA Safe Harbor). Empty "
       "when the year of birth is not known."),
    _c("tumour_type", "string", "", "nsclc, melanoma, rcc, urothelial, hnscc, hcc, gastric, crc_msih or other."),
    _c("stage", "string", "", "AJCC stage group at diagnosis (0, I–IV with A–D and 1–3 sub-groups, e.g. IVA); a "
       "value that is not a stage group is left empty (the field is typed by hand)."),
    _c("ecog_baseline", "int32", "", "ECOG performance status at baseline, 0–4."),
    _c("smoking_status", "string", "", "never, former, current or unknown."),
    _day("diagnosis_day", "Diagnosis"),
    _c("vital_status", "string", "", "alive, dead or unknown at the last follow-up; empty without a follow-up record."),
    _day("last_contact_day", "Last contact"),
    _day("death_day", "Death"),
    _day("clinical_progression_day", "Clinical progression"),
))

REGIMENS = Table("regimens", "One row per line of systemic therapy of the exported patients.", (
    PSEUDONYM, REGIMEN,
    _c("line_of_therapy", "int32", "", "Line of therapy, 1–15."),
    _c("agents", "string", "", "The regimen's drugs by international non-proprietary name, sorted, joined by '+'."),
    _c("drug_classes", "string", "", "The drugs' classes (anti_pd1, anti_pdl1, anti_ctla4, anti_lag3, chemotherapy, "
       "targeted, other), sorted, joined by '+'."),
    _c("ici", "bool", "", "The regimen contains an immune checkpoint inhibitor."),
    _c("first_ici", "bool", "", "The patient's first ICI regimen (its start is day 0)."),
    _day("start_day", "Start"),
    _day("end_day", "End (empty: ongoing)"),
    _c("end_reason", "string", "", "progression, toxicity, completed, death, patient_choice or other; empty while "
       "ongoing or not recorded."),
))

BIOMARKERS = Table("biomarkers", "One row per biomarker result.", (
    PSEUDONYM,
    _c("biomarker", "string", "", "The biomarker kind's code in the vocabulary (e.g. pdl1_tps, tmb)."),
    _c("unit", "string", "", "The kind's unit (e.g. %, mut/Mb); empty for categorical kinds."),
    _c("value_numeric", "float64", "the biomarker's unit", "The value of a numeric kind."),
    _c("value_category", "string", "", "The category of a categorical kind (one of the kind's listed categories)."),
    _day("measured_day", "Date of the result"),
    _c("specimen", "string", "", "tissue or blood."),
    _c("source", "string", "", "measured, or predicted (by a model: not data)."),
))

ADVERSE_EVENTS = Table("adverse_events", "One row per immune-related adverse event (CTCAE v5).", (
    PSEUDONYM,
    _c("regimen", "int32", "", "The number of the regimen the event is attributed to (empty: not attributed)."),
    _c("term", "string", "", "CTCAE term code of the vocabulary (e.g. colitis, pneumonitis; 'other' is not named: "
       "its free-text name is not exported)."),
    _c("grade", "int32", "", "CTCAE grade, 1–5."),
    _day("onset_day", "Onset"),
    _day("resolution_day", "Resolution (empty: not resolved or not recorded)"),
    _c("corticosteroids", "bool", "", "Treated with corticosteroids."),
    _c("other_immunosuppressants", "bool", "", "Treated with other immunosuppressants."),
    _c("ici_action", "string", "", "none, held or discontinued."),
))

_ENDPOINT_RULE = ("as the survival analyses derive it (analytics.compute.survival.endpoints, docs/analytics.md), "
                  "with time zero at this regimen's start; empty when the analyses would exclude the patient")
ENDPOINTS = Table("endpoints", "One row per patient and regimen: the survival endpoints with time zero at the "
                  "regimen's start. The rows with first_ici true are what an analysis with the default time zero "
                  "(the first ICI regimen) reads.", (
    PSEUDONYM, REGIMEN,
    _c("first_ici", "bool", "", "The patient's first ICI regimen (the analyses' default time zero)."),
    _day("start_day", "The regimen's start (time zero of this row's endpoints)"),
    _c("os_days", "int32", "days", f"Overall survival: days from the regimen's start to death or last contact, "
       f"{_ENDPOINT_RULE}."),
    _c("os_event", "int32", "", "1: death; 0: censored."),
    _c("pfs_recist_days", "int32", "days", f"Progression-free survival (RECIST 1.1), {_ENDPOINT_RULE} (also without "
       f"a stored response assessment of the regimen)."),
    _c("pfs_recist_event", "int32", "", "1: RECIST 1.1 progression or death; 0: censored."),
    _c("pfs_irecist_days", "int32", "days", f"Progression-free survival (iRECIST, confirmed progression dated at its "
       f"iUPD), {_ENDPOINT_RULE}."),
    _c("pfs_irecist_event", "int32", "", "1: iRECIST confirmed progression or death; 0: censored."),
    _c("ttf_days", "int32", "days", f"Time to treatment failure (end of the regimen for any reason, or death), "
       f"{_ENDPOINT_RULE}."),
    _c("ttf_event", "int32", "", "1: the regimen ended or the patient died; 0: censored."),
))

LESIONS = Table("lesions", "One row per lesion followed (RECIST 1.1 target, non-target or new).", (
    PSEUDONYM, LESION,
    _c("role", "string", "", "target, non-target or new."),
    _c("organ", "string", "", "Organ of the vocabulary (lung, liver, lymph_node, adrenal, bone, brain, ...)."),
    _c("nodal", "bool", "", "A lymph node (its short axis is measured)."),
    _c("equivocal", "bool", "", "A new lesion not (yet) unequivocal (RECIST 1.1 §1.6)."),
    _day("appeared_day", "Assessment where a new lesion first appeared"),
    _c("split_from", "string", "", "The lesion this one split off from (its identifier)."),
    _c("merged_into", "string", "", "The lesion this one coalesced into (its identifier)."),
))

MEASUREMENTS = Table("measurements", "One row per lesion and imaging assessment.", (
    PSEUDONYM, LESION,
    _day("day", "The imaging assessment"),
    _c("timepoint_kind", "string", "", "pre-baseline, baseline, follow-up or unscheduled."),
    _c("size_mm", "float64", "mm", "Longest diameter, or short axis for a lymph node (RECIST 1.1 §1.3)."),
    _c("status", "string", "", "present, too-small-to-measure, disappeared or not-assessed."),
    _c("non_target_status", "string", "", "For non-target lesions: present, absent, unequivocal-progression, "
       "increased-from-last-assessment (iRECIST) or not-evaluated."),
    _c("source", "string", "", "manual, or segmentation (accepted from a segmentation's measurement)."),
))

RESPONSES = Table("responses", "The stored response assessments (one per patient and ICI regimen): one row per "
                  "imaging assessment and criteria (scope timepoint), and one overall row per criteria (scope "
                  "overall) with the atypical-response flags of the assessment (the same on both overall rows).", (
    PSEUDONYM, REGIMEN,
    _c("scope", "string", "", "timepoint or overall."),
    _c("criteria", "string", "", "RECIST 1.1 or iRECIST."),
    _day("day", "The imaging assessment (timepoint rows)"),
    _c("response", "string", "", "Timepoint rows: the time-point response (CR, PR, SD, PD, NON-CR/NON-PD, NE; iCR, "
       "iPR, iSD, iUPD, iCPD, NON-iCR/NON-iUPD, NE). Overall rows: the best overall response (RECIST 1.1 BOR or "
       "iRECIST iBOR)."),
    _c("target_sum_mm", "float64", "mm", "Sum of the target lesions' diameters (timepoint rows)."),
    _c("nadir_prior_mm", "float64", "mm", "Smallest target sum before this assessment (timepoint rows)."),
    _c("pct_change_from_baseline", "float64", "%", "Target sum change from baseline (timepoint rows)."),
    _c("pct_change_from_nadir", "float64", "%", "Target sum change from the nadir (timepoint rows)."),
    _day("progression_day", "Overall rows: the first RECIST 1.1 progression (RECIST 1.1 row), or the iPFS event "
         "(confirmed progression dated at its iUPD, or death; iRECIST row)"),
    _c("best_pct_change", "float64", "%", "Overall rows: the best (lowest) target sum change from baseline."),
    _c("dcb", "string", "", "Overall rows: DCB (durable clinical benefit), NDB (none) or empty (not yet known)."),
    _c("pseudoprogression", "bool", "", "Overall rows: an iUPD later reset by iSD/iPR/iCR (pseudoprogression)."),
    _c("pseudoprogression_candidate", "bool", "", "Overall rows: an iUPD awaiting its confirmation scan."),
    _c("hyperprogression_any", "bool", "", "Overall rows: hyperprogression under any published definition."),
    _c("hyperprogression_definitions", "string", "", "Overall rows: the definitions met, sorted, joined by '+'."),
    _c("dissociated_any", "bool", "", "Overall rows: a dissociated response under any definition."),
    _c("dissociated_definitions", "string", "", "Overall rows: the definitions met, sorted, joined by '+'."),
))

_FEATURE_KEY = (
    PSEUDONYM, LESION,
    _day("day", "The imaging assessment the features were computed on"),
    _c("region", "string", "", "lesion, or a peritumoral ring (e.g. ring_0-3mm), or an importing tool's region name."),
)
FEATURES_LONG = Table("features_long", "One row per radiomic feature value: finished feature sets of segments "
                      "mapped to a lesion, at an assessment (where two segments of one lesion were extracted at one "
                      "assessment, the newest), and imported (external) feature sets.", (
    *_FEATURE_KEY,
    _c("profile", "string", "", "The extraction profile's name (pyradiomics, or an external tool's profile)."),
    _c("profile_version", "int32", "", "The profile's version (the manifest lists the versions and their "
       "parameter hashes)."),
    _c("feature", "string", "", "The feature under pyradiomics' name (e.g. original_shape_VoxelVolume) or the "
       "importing tool's."),
    _c("value", "float64", "the feature's own unit (mm, mm², mm³ for shape features; image intensity units otherwise)",
       "The feature's value."),
))

FEATURES_WIDE = Table("features_wide", "One row per lesion, imaging assessment and region; one column per "
                      "'<profile>:v<version>:<feature>' (the same values as features_long).", _FEATURE_KEY,
                      pattern=_c("<profile>:v<version>:<feature>", "float64", "the feature's own unit",
                                 "One column per feature of every profile version in the export, sorted by profile, "
                                 "version and feature name: the feature's value (empty: not in that feature set)."))


def wide_column(profile, version, feature):
    return Column(f"{profile}:v{version}:{feature}", "float64", "the feature's own unit",
                  f"Feature {feature} of profile {profile} version {version}.")


#: The research tables, in the order they are written.
TABLES = {t.name: t for t in (PATIENTS, REGIMENS, BIOMARKERS, ADVERSE_EVENTS, ENDPOINTS, LESIONS, MEASUREMENTS,
                              RESPONSES, FEATURES_LONG, FEATURES_WIDE)}
