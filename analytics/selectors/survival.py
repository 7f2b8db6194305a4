"""The survival analyses' input, read from the database: one ``SubjectRecord`` per patient of a cohort.

``survival_records(spec=...)`` is the only bridge between the database and ``analytics.compute.survival``
(which never imports Django). It reads the cohort with the patient list's own FilterSet (so ``site``,
``tumour_type``, ``drug_class`` and ``q`` mean what they mean on the patient list), chooses each patient's
regimen from ``time_zero``, and takes progression dates, last adequate assessments and response groups from the
STORED response-engine results (``ResponseAssessment.result``), never recomputing them. Everything is read in a
fixed number of queries whatever the cohort size (tests pin it). See docs/analytics.md.
"""
import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from typing import NamedTuple

from django.db.models import Q

from imaging import selectors as imaging_selectors
from patients.choices import ICI_CLASSES, BiomarkerValueType, DrugClass, SmokingStatus
from patients.filtersets import PatientFilterSet
from patients.models import AdverseEvent, Biomarker, BiomarkerKind, Patient, TreatmentRegimen

from ..compute.delta import is_additive
from ..compute import survival
from ..compute.survival import RESPONSE_GROUPS, SpecError, SubjectRecord
from ..models import AnalysisRun, ResponseAssessment

#: Covariates read from the patient or the chosen regimen (biomarker kind codes come from the vocabulary).
PATIENT_COVARIATES = ("age_at_start", "sex", "ecog_baseline", "tumour_type", "stage", "smoking_status",
                      "line_of_therapy", "drug_class")
#: Time-point responses that are not an adequate (evaluable) assessment.
_NOT_EVALUABLE = (None, "", "NE")
#: The engine's iPFS events that are progression (the others: death, handled from Outcome by the endpoint).
_IRECIST_PROGRESSION = ("iUPD confirmed as iCPD", "unconfirmed iUPD")
#: A radiomic covariate: ``radiomics:<profile>:<feature>[:<aggregation>]`` (docs/analytics.md, "Radiomic features").
RADIOMICS_PREFIX = "radiomics:"
RADIOMICS_HINT = "radiomics:<profile>:<feature>"
RADIOMICS_AGGREGATIONS = ("sum", "mean", "min", "max")
#: A stored prediction model's probability as a covariate: ``model:<classification run id>``.
MODEL_PREFIX = "model:"
MODEL_HINT = "model:<classification run id>"


def survival_covariate_names():
    """Every name a spec may use as a covariate or ``group_by`` today: {name: "patient" | "biomarker" |
    "response" | "radiomics"} (biomarker kinds from the vocabulary; one query). Radiomic features are too many to
    list: one hint entry, ``"radiomics:<profile>:<feature>"`` (kind "radiomics"), stands for all of them
    (``radiomic_covariate`` parses and checks a real name)."""
    names = dict.fromkeys(PATIENT_COVARIATES, "patient")
    names.update(dict.fromkeys(BiomarkerKind.objects.values_list("code", flat=True), "biomarker"))
    names.update(dict.fromkeys(RESPONSE_GROUPS, "response"))
    names[RADIOMICS_HINT] = "radiomics"
    names[MODEL_HINT] = "model"
    return names


def is_model_covariate(name):
    return isinstance(name, str) and name.startswith(MODEL_PREFIX)


def model_covariate(name, *, field="covariates"):
    """The finished classification run a ``model:<id>`` covariate names (its stored model scores the cohort)."""
    run_id = name[len(MODEL_PREFIX):].strip()
    run_row = (AnalysisRun.objects.filter(pk=int(run_id), kind="classification", status="done")
               .exclude(model=None).first() if run_id.isdigit() else None)
    if run_row is None:
        raise SpecError(field, f"{name!r}: there is no finished classification run #{run_id} with a stored model "
                               f"(use model:<id> of a done classification run, see /analytics/analyses/).")
    return run_row


def is_radiomic(name):
    return isinstance(name, str) and name.startswith(RADIOMICS_PREFIX)


def _radiomic_parts(field, name):
    """``(profile, feature, aggregation)`` of a radiomic covariate name, or SpecError for a malformed one."""
    parts = name[len(RADIOMICS_PREFIX):].split(":")
    if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise SpecError(field, f"{name!r} is not a radiomic covariate name: use radiomics:<profile>:<feature> "
                               f"or radiomics:<profile>:<feature>:<aggregation> "
                               f"(e.g. radiomics:ct-default:original_shape_VoxelVolume).")
    profile, feature = parts[0].strip(), parts[1].strip()
    if len(parts) == 3:
        aggregation = parts[2].strip()
        if aggregation not in RADIOMICS_AGGREGATIONS:
            raise SpecError(field, f"{name!r}: unknown aggregation {aggregation!r}; use one of "
                                   f"{', '.join(RADIOMICS_AGGREGATIONS)} (or none: sum for additive features "
                                   f"such as *_shape_VoxelVolume, mean otherwise).")
    else:
        aggregation = "sum" if is_additive(feature) else "mean"  # the same rule as the delta-radiomics aggregates
    return profile, feature, aggregation


def radiomic_covariate(name, *, field="covariates"):
    """A radiomic covariate name checked against the database: ``{"profile", "version", "feature",
    "aggregation"}`` (``version``: the profile's latest version, the only one whose features are used).

    Raises ``SpecError`` (``field``) for a malformed name, an unknown profile, or a feature that no done feature
    set of the profile's latest version holds. At most three queries.
    """
    profile, feature, aggregation = _radiomic_parts(field, name)
    found = imaging_selectors.radiomic_feature_lookup(profile=profile, feature=feature)
    if found["version"] is None:
        raise SpecError(field, f"{name!r}: there is no radiomics extraction profile named {profile!r} "
                               f"(profiles are listed in the admin; e.g. ct-default, mr-default, pet-default).")
    if not found["known"]:
        close = f" Did you mean {', '.join(found['close'])}?" if found["close"] else ""
        raise SpecError(field, f"{name!r}: no finished feature set of profile {profile} v{found['version']} (its "
                               f"latest version) holds a feature {feature!r}. Features use pyradiomics' names, "
                               f"e.g. original_shape_VoxelVolume.{close}")
    return {"profile": profile, "version": found["version"], "feature": feature, "aggregation": aggregation}


def _radiomic_value(rows, time_zero, aggregation):
    """A patient's radiomic covariate from ``baseline_target_feature_values`` rows (see docs/analytics.md).

    The baseline is the patient's latest timepoint of kind baseline dated on or before time zero. On it, each
    target lesion gives one value: that of its newest segment (highest pk). Any such set not done, or without a
    finite number for the feature, makes the value missing (never a partial sum); no set at all: missing.
    """
    if time_zero is None:
        return None
    dates = [row[0] for row in rows if row[0] is not None and row[0] <= time_zero]
    if not dates:
        return None
    baseline = max(dates)
    by_lesion = {}
    for date, lesion_pk, segment_pk, status, value in rows:  # ordered by segment: the newest segment wins
        if date == baseline:
            by_lesion[lesion_pk] = (status, value)
    values = []
    for status, value in by_lesion.values():
        if status != "done" or isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not math.isfinite(value):
            return None
        values.append(float(value))
    if aggregation == "sum":
        return math.fsum(values)
    if aggregation == "mean":
        return math.fsum(values) / len(values)
    return min(values) if aggregation == "min" else max(values)


def survival_cohort(*, cohort):
    """The patients a spec's ``cohort`` selects, with the patient list's FilterSet (``PatientFilterSet``).

    ``cohort`` maps a filter name to a value or a list of values; the values of one filter are alternatives
    (OR), different filters all apply (AND). Raises ``SpecError`` (field ``cohort.<name>``) for an unknown filter
    or a value the FilterSet refuses. Lazy: the queryset is one query when evaluated.
    """
    if cohort is None:
        cohort = {}
    if not isinstance(cohort, dict):
        raise SpecError("cohort", "The cohort must be an object of patient-list filters, e.g. {\"site\": [\"A\"]}.")
    known = set(PatientFilterSet.base_filters) - {"o"}  # ordering is not a cohort
    queryset = Patient.objects.all()
    for name in sorted(cohort):
        if name not in known:
            raise SpecError(f"cohort.{name}", f"Unknown cohort filter {name!r}; the patient list's filters are: "
                                              f"{', '.join(sorted(known))}.")
        values = cohort[name]
        values = values if isinstance(values, (list, tuple)) else [values]
        values = [v for v in values if v not in (None, "")]
        if not values:
            continue
        alternatives = Q()
        for value in values:
            filterset = PatientFilterSet({name: str(value)}, queryset=Patient.objects.all())
            if not filterset.is_valid():
                messages = " ".join(str(m) for m in filterset.errors.get(name, filterset.errors.get("__all__", [])))
                raise SpecError(f"cohort.{name}", f"{value!r} is not a valid {name}: {messages}".strip())
            alternatives |= Q(pk__in=filterset.qs.values("pk"))
        queryset = queryset.filter(alternatives)
    return queryset


def _asked_names(spec):
    names = list(spec.get("covariates") or [])
    if spec.get("group_by"):
        names.append(spec["group_by"])
    return list(dict.fromkeys(names))


def _drug_class_value(value):
    """A drug class by its stored value (``anti_pd1``) or its label (``anti-PD-1``)."""
    for choice in DrugClass:
        if str(value).strip().lower() in (choice.value.lower(), choice.label.lower()):
            return choice.value
    raise SpecError("time_zero", f"Unknown drug class {value!r}; use one of: "
                                 f"{', '.join(c.label for c in DrugClass)}.")


def _regimen_chooser(time_zero):
    """A function choosing the time-zero regimen among a patient's regimens (oldest first), from the spec."""
    time_zero = time_zero or {"regimen": "first_ici"}
    if "line_of_therapy" in time_zero:
        line = int(time_zero["line_of_therapy"])
        return lambda regimens: next((r for r in regimens if r.line_of_therapy == line), None)
    if "drug_class" in time_zero:
        wanted = _drug_class_value(time_zero["drug_class"])
        return lambda regimens: next((r for r in regimens if wanted in _classes(r)), None)
    if time_zero.get("regimen", "first_ici") == "first_ici":
        ici = {str(c) for c in ICI_CLASSES}
        return lambda regimens: next((r for r in regimens if ici & _classes(r)), None)
    raise SpecError("time_zero", "time_zero is {\"regimen\": \"first_ici\"}, {\"line_of_therapy\": N} or "
                                 "{\"drug_class\": \"anti-PD-1\"}.")


class _Regimen(NamedTuple):
    """What the records read of a regimen (plain rows: model instances cost ~0.1 ms each at 10,000 patients)."""

    pk: int
    start_date: dt.date
    end_date: dt.date | None
    end_reason: str
    line_of_therapy: int | None
    drug_classes: frozenset


class _Patient(NamedTuple):
    pk: int
    year_of_birth: int | None
    sex: str
    ecog_baseline: int | None
    tumour_type: str
    stage: str
    smoking_status: str
    death_date: dt.date | None
    last_contact: dt.date | None


_PATIENT_FIELDS = ("pk", "year_of_birth", "sex", "ecog_baseline", "tumour_type", "stage", "smoking_status",
                   "outcome__death_date", "outcome__last_contact_date")


def _classes(regimen):
    return regimen.drug_classes  # from one query of the regimen-agent table


def _date(value):
    return dt.date.fromisoformat(value) if value else None


def _last_evaluable(timepoints, key, *, until=None):
    """The date of the latest follow-up assessment with an evaluable time-point response under ``key``."""
    last = None
    for tp in timepoints:
        date = _date(tp.get("date"))
        if tp.get("kind") != "follow-up" or tp.get(key) in _NOT_EVALUABLE or date is None:
            continue
        if until is not None and date > until:
            break
        last = date if last is None or date > last else last
    return last


def _assessment_fields(assessment, time_zero):
    """What the records take from one stored, done response assessment (its ``summary`` as ``result``, and its
    headline columns)."""
    result = assessment["result"]
    timepoints = result.get("timepoints") or []
    recist_pfs = result.get("recist_pfs") or {}
    irecist_pfs = result.get("irecist_pfs") or {}
    progression_recist = (_date(recist_pfs.get("date"))
                          if recist_pfs.get("event") and recist_pfs.get("event_kind") == "RECIST PD" else None)
    progression_irecist = (_date(irecist_pfs.get("date"))
                           if irecist_pfs.get("event") and irecist_pfs.get("event_kind") in _IRECIST_PROGRESSION
                           else None)
    first_pd = next((_date(tp["date"]) for tp in timepoints if tp.get("recist_tpr") == "PD"), None)

    groups, dates = {}, {}
    for name, block in (("recist_bor", result.get("recist_bor")), ("irecist_ibor", result.get("irecist_ibor"))):
        block = block or {}
        groups[name] = block.get("value") or None
        dates[name] = _date(block.get("confirmed_at") or block.get("decided_at")) if groups[name] else None

    dcb = result.get("dcb") or {}
    groups["dcb"] = {True: "DCB", False: "NDB"}.get(dcb.get("dcb"))
    if groups["dcb"] == "DCB":
        dates["dcb"] = time_zero + dt.timedelta(days=math.ceil(dcb.get("threshold_days") or 0))
    elif groups["dcb"] == "NDB":
        pfs = irecist_pfs if dcb.get("pfs_used") == "iRECIST" else recist_pfs
        dates["dcb"] = _date(pfs.get("date"))
    else:
        dates["dcb"] = None

    pseudo = result.get("pseudoprogression") or {}
    groups["pseudoprogression"] = bool(pseudo.get("any"))
    resolved = [_date(e.get("resolved_at")) for e in pseudo.get("episodes") or []
                if e.get("outcome") == "reset" and e.get("resolved_at")]
    dates["pseudoprogression"] = min(resolved) if groups["pseudoprogression"] and resolved else None

    groups["hyperprogression_any"] = bool(assessment["hyperprogression_any"])
    common = result.get("hyperprogression_common") or {}
    first_label = common.get("first_evaluation_label")
    first_eval = next((_date(tp["date"]) for tp in timepoints if first_label and tp.get("label") == first_label),
                      next((_date(tp["date"]) for tp in timepoints if tp.get("kind") == "follow-up"), None))
    dates["hyperprogression_any"] = first_eval if groups["hyperprogression_any"] else None

    return {
        "progression_recist": progression_recist,
        "progression_irecist": progression_irecist,
        "last_adequate_assessment": _last_evaluable(timepoints, "recist_tpr", until=first_pd),
        "last_adequate_assessment_irecist": _last_evaluable(timepoints, "irecist_tpr"),
        "assessed": True,
        "response_groups": groups,
        "response_group_dates": dates,
    }


_NO_ASSESSMENT = {
    "progression_recist": None, "progression_irecist": None, "last_adequate_assessment": None,
    "last_adequate_assessment_irecist": None, "assessed": False,
    "response_groups": dict.fromkeys(RESPONSE_GROUPS), "response_group_dates": dict.fromkeys(RESPONSE_GROUPS),
}


def _patient_covariate(name, patient, regimen, time_zero):
    if name == "age_at_start":
        # Completed years approximated as start year - year of birth: only the year of birth is stored
        # (full dates of birth live in PatientIdentity, which research code never reads). Off by at most one.
        return time_zero.year - patient.year_of_birth if patient.year_of_birth and time_zero else None
    if name == "sex":
        return patient.sex if patient.sex and patient.sex != "U" else None
    if name == "ecog_baseline":
        return patient.ecog_baseline
    if name == "tumour_type":
        return patient.tumour_type or None
    if name == "stage":
        return patient.stage.strip() or None
    if name == "smoking_status":
        return patient.smoking_status if patient.smoking_status != SmokingStatus.UNKNOWN else None
    if name == "line_of_therapy":
        return regimen.line_of_therapy if regimen else None
    if name == "drug_class":
        # One category per regimen: its agents' classes joined (``anti_ctla4+anti_pd1`` for the combination).
        return "+".join(sorted(_classes(regimen))) or None if regimen else None
    raise KeyError(name)


def survival_spec_check(spec):
    """Check what only the database can tell: cohort filters, time zero, covariate names. Returns the known
    names (``survival_covariate_names`` without the radiomics hint; each radiomic name the spec uses maps to its
    ``radiomic_covariate``); raises ``SpecError`` naming the field."""
    known = survival_covariate_names()
    known.pop(RADIOMICS_HINT)
    known.pop(MODEL_HINT)
    for field, names in (("covariates", spec.get("covariates") or []),
                         ("group_by", [spec["group_by"]] if spec.get("group_by") else [])):
        for name in names:
            if is_radiomic(name):
                known[name] = radiomic_covariate(name, field=field)
            elif is_model_covariate(name):
                known[name] = model_covariate(name, field=field)
            elif name not in known:
                raise SpecError(field, f"Unknown covariate {name!r}. Known: the patient covariates "
                                       f"({', '.join(PATIENT_COVARIATES)}), the biomarker kind codes "
                                       f"({', '.join(sorted(n for n, k in known.items() if k == 'biomarker'))}), "
                                       f"the response groups ({', '.join(RESPONSE_GROUPS)}) and radiomic "
                                       f"features ({RADIOMICS_HINT}, e.g. "
                                       f"radiomics:ct-default:original_shape_VoxelVolume).")
    _regimen_chooser(spec.get("time_zero"))
    survival_cohort(cohort=spec.get("cohort"))
    return known


def survival_records(*, spec):
    """One ``SubjectRecord`` per patient of the spec's cohort, ordered by patient pk.

    Time zero is the start of the regimen ``spec["time_zero"]`` chooses (default the first ICI regimen); a patient
    without one gets ``time_zero=None`` (the analysis excludes and counts them). Covariates are those the spec
    names (``covariates`` and ``group_by``): patient fields, the chosen regimen's line and drug class, and
    biomarkers by kind code (the latest MEASURED result on or before time zero; numeric kinds as floats,
    categorical ones as their category; predicted values are not data). Response groups and the progression
    dates come from the regimen's stored, done response assessment. ``irae_onsets`` are the patient's irAEs with
    onset on or after time zero. A radiomic covariate (``radiomics:<profile>:<feature>[:<aggregation>]``) is the
    feature of the profile's latest version on the baseline target lesions, aggregated (``_radiomic_value``).
    A fixed number of queries whatever the cohort size (nine for the pinned test's spec, checks included), plus
    three per radiomic covariate (two to check it, one to read it).

    Raises ``SpecError`` for a cohort filter, a time zero or a covariate name the database does not know.
    """
    known = survival_spec_check(spec)
    asked = _asked_names(spec)
    patient_names = [n for n in asked if known[n] == "patient"]
    biomarker_codes = [n for n in asked if known[n] == "biomarker"]
    radiomic = {n: known[n] for n in asked if is_radiomic(n)}
    models = {n: known[n] for n in asked if is_model_covariate(n)}
    choose = _regimen_chooser(spec.get("time_zero"))
    cohort = survival_cohort(cohort=spec.get("cohort"))
    cohort_pks = cohort.values("pk")

    patients = [_Patient(*row) for row in
                Patient.objects.filter(pk__in=cohort_pks).order_by("pk").values_list(*_PATIENT_FIELDS)]
    regimens = _patient_regimens(cohort_pks)
    biomarkers = defaultdict(list)
    value_types = {}
    for row in (Biomarker.objects.filter(patient__in=cohort_pks, kind__code__in=biomarker_codes, source="measured")
                .order_by("measured_on", "pk")
                .values_list("patient_id", "kind__code", "kind__value_type", "measured_on", "value_numeric",
                             "value_category")):
        biomarkers[row[0]].append(row[1:])
        value_types[row[1]] = row[2]
    assessments = _regimen_assessments(cohort_pks)
    adverse_events = defaultdict(list)
    for patient_id, term, grade, onset in (AdverseEvent.objects.filter(patient__in=cohort_pks)
                                           .order_by("onset_date", "term", "pk")
                                           .values_list("patient_id", "term", "grade", "onset_date")):
        adverse_events[patient_id].append((term, grade, onset))
    radiomic_rows = {name: imaging_selectors.baseline_target_feature_values(
        patients=cohort_pks, profile=r["profile"], feature=r["feature"]) for name, r in radiomic.items()}
    if models:
        from .prediction import model_probabilities

        model_scores = {name: model_probabilities(run_row, patients=[p.pk for p in patients])[0]
                        for name, run_row in models.items()}

    records = []
    for patient in patients:
        regimen = choose(regimens.get(patient.pk, []))
        time_zero = regimen.start_date if regimen else None
        covariates = {name: _patient_covariate(name, patient, regimen, time_zero) if time_zero else None
                      for name in patient_names}
        for code in biomarker_codes:
            covariates[code] = None
        for code, value_type, measured_on, numeric, category in biomarkers.get(patient.pk, []):
            if time_zero is not None and measured_on <= time_zero:  # ordered by date: the latest wins
                if value_type == BiomarkerValueType.NUMERIC:
                    covariates[code] = float(numeric) if numeric is not None else None
                else:
                    covariates[code] = category or None
        for name, r in radiomic.items():
            covariates[name] = _radiomic_value(radiomic_rows[name].get(patient.pk, []), time_zero, r["aggregation"])
        for name in models:
            covariates[name] = model_scores[name].get(patient.pk) if time_zero else None
        records.append(_subject_record(
            patient, regimen, assessments.get(regimen.pk) if regimen else None, covariates=covariates,
            irae_onsets=tuple(ae for ae in adverse_events.get(patient.pk, [])
                              if time_zero is not None and ae[2] >= time_zero)))
    return records


def _patient_regimens(patients):
    """Each patient's regimens as ``_Regimen`` (with their agents' drug classes), in the analyses' order: start
    date, line, pk. ``patients``: pks or a pk subquery. Two queries."""
    classes = defaultdict(set)
    for regimen_id, drug_class in (TreatmentRegimen.agents.through.objects
                                   .filter(treatmentregimen__patient__in=patients)
                                   .values_list("treatmentregimen_id", "drug__drug_class")):
        classes[regimen_id].add(drug_class)
    regimens = defaultdict(list)
    for pk, patient_id, start, end, end_reason, line in (
            TreatmentRegimen.objects.filter(patient__in=patients).order_by("start_date", "line_of_therapy", "pk")
            .values_list("pk", "patient_id", "start_date", "end_date", "end_reason", "line_of_therapy")):
        regimens[patient_id].append(_Regimen(pk, start, end, end_reason, line, frozenset(classes[pk])))
    return regimens


def _regimen_assessments(patients):
    """The done response assessments of these patients by regimen pk: the engine results' summaries (the blocks
    and time-point categories analyses read, stored with each result). One query."""
    assessments = {}
    for row in (ResponseAssessment.objects.filter(patient__in=patients, status="done", result__isnull=False)
                .values("pk", "regimen_id", "hyperprogression_any", "summary")):
        row["result"] = row.pop("summary")
        assessments[row["regimen_id"]] = row
    return assessments


def _subject_record(patient, regimen, assessment, **extra):
    """The ``SubjectRecord`` of a patient with time zero at ``regimen``'s start (None: no time zero)."""
    time_zero = regimen.start_date if regimen else None
    fields = _assessment_fields(assessment, time_zero) if assessment else _NO_ASSESSMENT
    return SubjectRecord(
        patient_id=patient.pk, time_zero=time_zero,
        regimen_end=regimen.end_date if regimen else None,
        regimen_end_reason=regimen.end_reason if regimen else "",
        death_date=patient.death_date, last_contact=patient.last_contact,
        **extra,
        **{**fields, "response_groups": dict(fields["response_groups"]),
           "response_group_dates": dict(fields["response_group_dates"])})


def regimen_survival_records(*, patients):
    """One ``SubjectRecord`` per regimen of these patients, with time zero at that regimen's start.

    For the research export (``exports``), whose endpoints table has a row per patient and regimen: each record is
    what an analysis whose time zero chose that regimen reads (outcome, regimen end, the stored response
    assessment's progression and last adequate assessment dates, by the same ``_assessment_fields``), without
    covariates or irAEs, so that ``compute.survival.endpoint_date`` derives the endpoints exactly as the analyses
    do. ``patients``: a list or queryset of patient pks. Returns ``[{"regimen", "first_ici", "record"}]`` ordered by
    patient pk, then by regimen as the analyses order them (start date, line, pk); ``first_ici`` marks the regimen
    the default time zero (``{"regimen": "first_ici"}``) chooses. Four queries.
    """
    people = {row[0]: _Patient(*row) for row in Patient.objects.filter(pk__in=patients).values_list(*_PATIENT_FIELDS)}
    regimens = _patient_regimens(patients)
    assessments = _regimen_assessments(patients)
    first_ici = _regimen_chooser(None)
    out = []
    for patient_pk in sorted(people):
        own = regimens.get(patient_pk, [])
        chosen = first_ici(own)
        for regimen in own:
            record = _subject_record(people[patient_pk], regimen, assessments.get(regimen.pk))
            out.append({"regimen": regimen.pk, "first_ici": regimen is chosen, "record": record})
    return out


def records_sha256(records):
    """SHA-256 of the records as the database gave them (order, dates and values): equal hashes, equal input."""
    def default(value):
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        return str(value)

    rows = [{
        "patient_id": r.patient_id, "time_zero": r.time_zero, "regimen_end": r.regimen_end,
        "regimen_end_reason": r.regimen_end_reason, "death_date": r.death_date, "last_contact": r.last_contact,
        "progression_recist": r.progression_recist, "progression_irecist": r.progression_irecist,
        "last_adequate_assessment": r.last_adequate_assessment,
        "last_adequate_assessment_irecist": r.last_adequate_assessment_irecist, "assessed": r.assessed,
        "covariates": dict(r.covariates), "response_groups": dict(r.response_groups),
        "response_group_dates": dict(r.response_group_dates), "irae_onsets": [list(a) for a in r.irae_onsets],
    } for r in records]
    text = json.dumps(rows, sort_keys=True, default=default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def analysis_runs():
    """Stored analysis runs, newest first (the API list and, later, the page's)."""
    return AnalysisRun.objects.select_related("created_by", "rerun_of").order_by("-created_at", "-pk")


def analysis_run_data_changed(run_row):
    """Whether the database now gives the run a different input: ``{"changed", "reason"}``.

    Re-derives the records from the run's spec. The same records (``records_sha256``) mean the same input; when
    they differ, the analysis itself is re-derived and its table's ``input_sha256`` compared, so an edit that does
    not touch the analysed table (e.g. an irAE in an OS Cox model without irAEs) does not count as a change.
    ``changed`` is None for a run that never finished.
    """
    if run_row.status != "done" or not run_row.records_sha256:
        return {"changed": None, "reason": "The run has no result to compare with."}
    if run_row.spec.get("kind") == "classification":
        from ..compute.prediction import input_sha256
        from .prediction import prediction_table

        try:
            X, y, _, _ = prediction_table(spec=run_row.spec)
        except SpecError as exc:
            return {"changed": True, "reason": f"The spec no longer fits the data ({exc.field}: {exc.message})."}
        if input_sha256(X, y) == run_row.input_sha256:
            return {"changed": False, "reason": "The data the run read are unchanged."}
        return {"changed": True, "reason": "The data changed since this run: re-run it for current numbers."}
    try:
        records = survival_records(spec=run_row.spec)
    except SpecError as exc:
        return {"changed": True, "reason": f"The spec no longer fits the data ({exc.field}: {exc.message})."}
    if records_sha256(records) == run_row.records_sha256:
        return {"changed": False, "reason": "The data the run read are unchanged."}
    try:
        result = survival.run(run_row.spec, records)  # lifelines loads here, not with this module
    except ValueError as exc:  # SpecError / AnalysisError: the data changed so much that it no longer runs
        return {"changed": True, "reason": f"The data changed since the run; it no longer runs: {exc}"}
    if result.get("input_sha256") == run_row.input_sha256:
        return {"changed": False, "reason": "The database changed, but not the table this analysis uses."}
    return {"changed": True, "reason": "The data changed since this run: re-run it for current numbers."}
