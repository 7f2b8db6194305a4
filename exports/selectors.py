"""Reads of the research export: the cohort, each patient's pseudonym and day zero, and every table's rows.

The cohort is the patient list's (``analytics.selectors.survival.survival_cohort``, the patient list's FilterSet),
so ``--site A --tumour-type nsclc`` selects what the patient list and the analyses select. Day zero is each
patient's first ICI regimen as the analyses choose it, and the endpoints come from the analyses' own records
(``regimen_survival_records``) through their endpoint rules. Features come through ``imaging.selectors``; the rest
is read here from the lower apps' tables, column by column: nothing from ``PatientIdentity``, no free-text field, no
DICOM attribute, no calendar date (dates become day offsets before they leave this module).

Rows are yielded in a fixed order — patients by pseudonym, then each table's key — a batch of patients at a time,
so memory does not grow with the cohort and a re-export of unchanged data yields the same rows.
"""
import math
from collections import defaultdict
from decimal import Decimal
from typing import NamedTuple

from analytics.compute.survival.endpoints import endpoint_date
from analytics.compute.survival.model import SpecError
from analytics.models import ResponseAssessment, TimepointResponse
from analytics.selectors.survival import regimen_survival_records, survival_cohort
from imaging import selectors as imaging_selectors
from imaging.models import ExtractionProfile, Lesion, LesionMeasurement, Series, Timepoint
from patients.choices import ICI_CLASSES, TumourType
from patients.models import AdverseEvent, Biomarker, Patient, Site, TreatmentRegimen

from .compute import sdtm, tables
from .compute.errors import ExportError
from .compute.pseudonyms import Pseudonymiser, age_text, lesion_ids, stage_group
from .models import DatasetExport

#: The patient-list filters an export may select by (the page, the command and the API offer the same).
FILTERS = ("site", "tumour_type", "drug_class")
BATCH = 500          # patients per query for the clinical and imaging tables
FEATURE_BATCH = 8    # patients per feature query: one patient may hold 10^5 feature values
_ICI = {str(c) for c in ICI_CLASSES}
_CRITERIA = {"recist1.1": "RECIST 1.1", "irecist": "iRECIST"}
_MODALITY_ORDER = ("CT", "MR", "PT")
RESEARCH_TABLES = tuple(tables.TABLES)
SDTM_TABLES = tuple(sdtm.TABLE_NAMES.values())


class Subject(NamedTuple):
    pk: int
    pseudonym: str
    site: str
    day_zero: object  # datetime.date: the start of the first ICI regimen


class Selection:
    """One export's cohort, prepared once: subjects in pseudonym order, their regimens' survival records, and what
    was left out. ``profiles_used`` collects the extraction-profile pks of the features written."""

    def __init__(self, *, filters, project, subjects, regimens, excluded):
        self.filters, self.project = filters, project
        self.subjects, self.regimens, self.excluded = subjects, regimens, excluded
        self.by_pk = {s.pk: s for s in subjects}
        self.regimen_numbers = {}
        for pk, items in regimens.items():
            for number, item in enumerate(items, start=1):
                self.regimen_numbers[item["regimen"]] = number
        self.studyid = (project.slug.upper() if project else "RADIMMUNO")
        self.profiles_used = set()

    def batches(self, size=BATCH):
        for start in range(0, len(self.subjects), size):
            yield self.subjects[start:start + size]

    def day(self, subject, date):
        return (date - subject.day_zero).days if date is not None else None


def export_filters(filters):
    """The selection normalised (``{name: sorted values}``, empty filters dropped), or ExportError."""
    normalised = {}
    for name, values in sorted((filters or {}).items()):
        if name not in FILTERS:
            raise ExportError(name, f"Unknown filter {name!r}; an export selects by {', '.join(FILTERS)}.")
        values = values if isinstance(values, (list, tuple)) else [values]
        values = sorted({str(v).strip() for v in values if v not in (None, "") and str(v).strip()})
        if values:
            normalised[name] = values
    known_sites = set(Site.objects.values_list("code", flat=True))
    unknown = [code for code in normalised.get("site", []) if code not in known_sites]
    if unknown:
        raise ExportError("site", f"Unknown site {', '.join(unknown)}; the sites are "
                                  f"{', '.join(sorted(known_sites)) or '(none yet)'}.")
    unknown = [t for t in normalised.get("tumour_type", []) if t not in TumourType.values]
    if unknown:
        raise ExportError("tumour_type", f"Unknown tumour type {', '.join(unknown)}; use one of "
                                         f"{', '.join(TumourType.values)}.")
    return normalised


def export_selection(*, filters=None, project=None):
    """The cohort an export writes, prepared: ``Selection``. Raises ExportError for a filter the patient list does not
    know, or when two selected patients would share a pseudonym (the same study ID at two sites, exported without
    a pseudonymising project)."""
    filters = export_filters(filters)
    try:
        cohort = survival_cohort(cohort=filters)
    except SpecError as exc:
        raise ExportError(exc.field.removeprefix("cohort."), exc.message) from None
    pks = cohort.values("pk")
    records = regimen_survival_records(patients=pks)
    regimens = defaultdict(list)
    day_zero = {}
    for item in records:
        regimens[item["record"].patient_id].append(item)
        if item["first_ici"]:
            day_zero[item["record"].patient_id] = item["record"].time_zero
    pseudonymiser = Pseudonymiser(project.secret if project and project.pseudonymise else None)
    subjects, excluded = [], {}
    for pk, study_id, site_code in Patient.objects.filter(pk__in=pks).order_by().values_list(
            "pk", "study_id", "site__code"):
        if pk not in day_zero:
            excluded["no ICI regimen"] = excluded.get("no ICI regimen", 0) + 1
            continue
        subjects.append(Subject(pk, pseudonymiser.patient(site_code, study_id), pseudonymiser.site(site_code),
                                day_zero[pk]))
    subjects.sort(key=lambda s: s.pseudonym)
    for before, after in zip(subjects, subjects[1:]):
        if before.pseudonym == after.pseudonym:
            raise ExportError("project", f"Two selected patients (at different sites) share the study ID "
                                         f"{before.pseudonym}: export them with a pseudonymising project, or one site "
                                         f"at a time.")
    return Selection(filters=filters, project=project, subjects=subjects,
                     regimens={pk: regimens[pk] for pk in day_zero}, excluded=excluded)


# -- the research tables -----------------------------------------------------------------------------------------
def _float(value):
    return float(value) if value is not None else None


def _text(value):
    return value or None


def _patients(sel):
    for batch in sel.batches():
        by_pk = {s.pk: s for s in batch}
        rows = []
        for (pk, sex, year_of_birth, tumour_type, stage, ecog, smoking, diagnosis, vital, last_contact, death,
             progression) in Patient.objects.filter(pk__in=by_pk).order_by().values_list(
                "pk", "sex", "year_of_birth", "tumour_type", "stage", "ecog_baseline", "smoking_status",
                "diagnosis_date", "outcome__vital_status", "outcome__last_contact_date", "outcome__death_date",
                "outcome__clinical_progression_date"):
            s = by_pk[pk]
            rows.append((s.pseudonym, s.site, sex, age_text(s.day_zero.year, year_of_birth), tumour_type,
                         stage_group(stage), ecog, smoking, sel.day(s, diagnosis), vital, sel.day(s, last_contact),
                         sel.day(s, death), sel.day(s, progression)))
        rows.sort(key=lambda r: r[0])
        yield from rows


def _regimens(sel):
    for batch in sel.batches():
        by_pk = {s.pk: s for s in batch}
        agents = defaultdict(list)
        for regimen_id, name, drug_class in (TreatmentRegimen.agents.through.objects
                                             .filter(treatmentregimen__patient__in=by_pk)
                                             .values_list("treatmentregimen_id", "drug__name", "drug__drug_class")):
            agents[regimen_id].append((name, drug_class))
        first = {item["regimen"] for s in batch for item in sel.regimens[s.pk] if item["first_ici"]}
        rows = []
        for pk, patient_id, line, start, end, end_reason in (
                TreatmentRegimen.objects.filter(patient__in=by_pk).order_by()
                .values_list("pk", "patient_id", "line_of_therapy", "start_date", "end_date", "end_reason")):
            s = by_pk[patient_id]
            classes = sorted({c for _, c in agents[pk]})
            rows.append((s.pseudonym, sel.regimen_numbers[pk], line, "+".join(sorted(n for n, _ in agents[pk])) or None,
                         "+".join(classes) or None, bool(_ICI & set(classes)), pk in first, sel.day(s, start),
                         sel.day(s, end), _text(end_reason)))
        rows.sort(key=lambda r: (r[0], r[1]))
        yield from rows


def _biomarkers(sel):
    for batch in sel.batches():
        by_pk = {s.pk: s for s in batch}
        rows = []
        for patient_id, code, unit, numeric, category, measured_on, specimen, source in (
                Biomarker.objects.filter(patient__in=by_pk).order_by()
                .values_list("patient_id", "kind__code", "kind__unit", "value_numeric", "value_category",
                             "measured_on", "specimen", "source")):
            s = by_pk[patient_id]
            rows.append((s.pseudonym, code, _text(unit), _float(numeric), _text(category), sel.day(s, measured_on),
                         specimen, source))
        rows.sort(key=lambda r: (r[0], r[5], r[1], r[6], r[7]))
        yield from rows


def _adverse_events(sel):
    for batch in sel.batches():
        by_pk = {s.pk: s for s in batch}
        rows = []
        for (patient_id, regimen_id, term, grade, onset, resolution, steroids, other, action) in (
                AdverseEvent.objects.filter(patient__in=by_pk).order_by()
                .values_list("patient_id", "regimen_id", "term", "grade", "onset_date", "resolution_date",
                             "corticosteroids", "other_immunosuppressants", "ici_action")):
            s = by_pk[patient_id]
            rows.append((s.pseudonym, sel.regimen_numbers.get(regimen_id), term, grade, sel.day(s, onset),
                         sel.day(s, resolution), steroids, other, action))
        rows.sort(key=lambda r: (r[0], r[4], r[2]))
        yield from rows


#: The endpoints table's column stems -> the analyses' endpoint names.
ENDPOINT_COLUMNS = (("os", "os"), ("pfs_recist", "pfs_recist"), ("pfs_irecist", "ipfs_irecist"), ("ttf", "ttf"))


def _endpoints(sel):
    for s in sel.subjects:
        for item in sel.regimens[s.pk]:
            record = item["record"]
            values = []
            for _, endpoint in ENDPOINT_COLUMNS:
                day, event = endpoint_date(record, endpoint)
                values += [(day - record.time_zero).days, int(event)] if day is not None else [None, None]
            yield (s.pseudonym, sel.regimen_numbers[item["regimen"]], item["first_ici"],
                   sel.day(s, record.time_zero), *values)


def _lesion_index(by_pk):
    """``{lesion pk: (patient pk, identifier)}`` and the lesion rows of these patients (one query)."""
    rows = list(Lesion.objects.filter(patient__in=by_pk).order_by().values_list(
        "pk", "patient_id", "label", "role", "organ", "nodal", "equivocal", "appeared_at__date", "appeared_at_id",
        "split_from_id", "merged_into_id"))
    per_patient = defaultdict(list)
    for pk, patient_id, label, role, *_ in rows:
        per_patient[patient_id].append((pk, role, label))
    ids = {}
    for patient_id, lesions in per_patient.items():
        ids.update(lesion_ids(lesions))
    return ids, rows


def _lesions(sel):
    for batch in sel.batches():
        by_pk = {s.pk: s for s in batch}
        ids, lesions = _lesion_index(by_pk)
        rows = []
        for pk, patient_id, _label, role, organ, nodal, equivocal, appeared, _, split_from, merged_into in lesions:
            s = by_pk[patient_id]
            rows.append((s.pseudonym, ids[pk], role, organ, nodal, equivocal, sel.day(s, appeared),
                         ids.get(split_from), ids.get(merged_into)))
        rows.sort(key=lambda r: (r[0], r[1]))
        yield from rows


def _measurement_rows(by_pk):
    return (LesionMeasurement.objects.filter(lesion__patient__in=by_pk).order_by()
            .values_list("lesion_id", "lesion__patient_id", "timepoint_id", "timepoint__date", "timepoint__kind",
                         "size_mm", "status", "non_target_status", "source"))


def _measurements(sel):
    for batch in sel.batches():
        by_pk = {s.pk: s for s in batch}
        ids, _ = _lesion_index(by_pk)
        rows = []
        for lesion_id, patient_id, _tp, date, kind, size, status, state, source in _measurement_rows(by_pk):
            s = by_pk[patient_id]
            rows.append((s.pseudonym, ids[lesion_id], sel.day(s, date), kind, _float(size), status, _text(state),
                         source))
        rows.sort(key=lambda r: (r[0], r[2], r[1]))
        yield from rows


def _assessments(by_pk):
    """The done response assessments of these patients and their time-point rows (two queries)."""
    overall = list(ResponseAssessment.objects.filter(patient__in=by_pk, status="done", result__isnull=False)
                   .order_by().values("pk", "patient_id", "regimen_id", "recist_bor", "irecist_ibor",
                                      "recist_progression_date", "irecist_progression_date", "best_pct_change", "dcb",
                                      "pseudoprogression", "pseudoprogression_candidate", "hyperprogression_any",
                                      "hyperprogression_definitions", "dissociated_any", "dissociated_definitions"))
    points = list(TimepointResponse.objects.filter(assessment__in=[a["pk"] for a in overall]).order_by()
                  .values_list("assessment__patient_id", "assessment__regimen_id", "criteria", "timepoint_id",
                               "timepoint__date", "category", "target_sum_mm", "nadir_prior_mm",
                               "pct_change_from_baseline", "pct_change_from_nadir"))
    return overall, points


def _finite(value):
    return value if value is not None and math.isfinite(value) else None


def _responses(sel):
    for batch in sel.batches():
        by_pk = {s.pk: s for s in batch}
        overall, points = _assessments(by_pk)
        rows = []
        for patient_id, regimen_id, criteria, _tp, date, category, total, nadir, from_baseline, from_nadir in points:
            s = by_pk[patient_id]
            rows.append((s.pseudonym, sel.regimen_numbers[regimen_id], "timepoint", _CRITERIA[criteria],
                         sel.day(s, date), _text(category), _float(total), _float(nadir), _finite(from_baseline),
                         _finite(from_nadir), None, None, None, None, None, None, None, None, None))
        for a in overall:
            s = by_pk[a["patient_id"]]
            flags = (_text(a["dcb"]), a["pseudoprogression"], a["pseudoprogression_candidate"],
                     a["hyperprogression_any"], "+".join(sorted(a["hyperprogression_definitions"] or [])) or None,
                     a["dissociated_any"], "+".join(sorted(a["dissociated_definitions"] or [])) or None)
            for criteria, response, progression in (("RECIST 1.1", a["recist_bor"], a["recist_progression_date"]),
                                                    ("iRECIST", a["irecist_ibor"], a["irecist_progression_date"])):
                rows.append((s.pseudonym, sel.regimen_numbers[a["regimen_id"]], "overall", criteria, None,
                             _text(response), None, None, None, None, sel.day(s, progression),
                             _finite(a["best_pct_change"]), *flags))
        rows.sort(key=lambda r: (r[0], r[1], r[2] == "overall", r[4] if r[4] is not None else 0, r[3]))
        yield from rows


# -- radiomic features -------------------------------------------------------------------------------------------
def _feature_sets(sel):
    """Per patient (in pseudonym order): ``(subject, [(lesion id, day, region, profile, version, features)])``,
    sorted. Through ``imaging.selectors.lesion_feature_rows`` a few patients at a time."""
    profiles = imaging_selectors.profile_versions()
    for batch in sel.batches(FEATURE_BATCH):
        by_pk = {s.pk: s for s in batch}
        ids, _ = _lesion_index(by_pk)
        dates = imaging_selectors.patient_timepoint_dates(patients=list(by_pk))
        sets = defaultdict(list)
        for patient_pk, lesion_pk, timepoint_pk, profile_pk, region, features, _ in (
                imaging_selectors.lesion_feature_rows(patients=list(by_pk))):
            s = by_pk[patient_pk]
            name, version = profiles[profile_pk]
            sel.profiles_used.add(profile_pk)
            sets[patient_pk].append((ids[lesion_pk], sel.day(s, dates[patient_pk][timepoint_pk][0]), region, name,
                                     version, features))
        for s in batch:
            yield s, sorted(sets.get(s.pk, []), key=lambda item: item[:5])


def _value(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _features_long(sel):
    for s, sets in _feature_sets(sel):
        for lesion, day, region, profile, version, features in sets:
            for feature in sorted(features):
                yield (s.pseudonym, lesion, day, region, profile, version, feature, _value(features[feature]))


def _wide_columns(sel):
    keys = set()
    for _, sets in _feature_sets(sel):
        for _, _, _, profile, version, features in sets:
            keys.update((profile, version, feature) for feature in features)
    return sorted(keys)


def features_wide_table(sel):
    """The wide table's definition (its feature columns found in a first pass) and its rows (the second)."""
    keys = _wide_columns(sel)
    table = tables.FEATURES_WIDE.with_columns(tables.wide_column(*key) for key in keys)
    position = {key: i for i, key in enumerate(keys)}

    def rows():
        for s, sets in _feature_sets(sel):
            grouped = {}
            for lesion, day, region, profile, version, features in sets:
                values = grouped.setdefault((lesion, day, region), [None] * len(keys))
                for feature, value in features.items():
                    values[position[(profile, version, feature)]] = _value(value)
            for (lesion, day, region) in sorted(grouped, key=lambda k: (k[0], k[1] if k[1] is not None else 0, k[2])):
                yield (s.pseudonym, lesion, day, region, *grouped[(lesion, day, region)])

    return table, rows()


def profiles_used(sel):
    """The extraction-profile versions whose features were written: ``[{"name", "version", "source",
    "params_sha256"}]``."""
    return [{"name": name, "version": version, "source": source, "params_sha256": params_hash}
            for name, version, source, params_hash in ExtractionProfile.objects.filter(pk__in=sel.profiles_used)
            .order_by("name", "version").values_list("name", "version", "source", "params_hash")]


# -- SDTM ------------------------------------------------------------------------------------------------------
def _imaging_context(by_pk):
    """Visits (``{timepoint pk: (VISITNUM, VISIT)}``), day offsets and kinds of timepoints, and the modality each
    timepoint's images were taken with (two queries)."""
    per_patient = defaultdict(list)
    timepoints = {}
    for pk, patient_id, date, kind in (Timepoint.objects.filter(patient__in=by_pk).order_by()
                                       .values_list("pk", "patient_id", "date", "kind")):
        per_patient[patient_id].append((pk, date, kind))
        timepoints[pk] = (patient_id, date, kind)
    visits = {}
    for items in per_patient.values():
        visits.update(sdtm.visits(items))
    modalities = defaultdict(set)
    for timepoint_id, modality in (Series.objects.filter(study__timepoint__patient__in=by_pk).order_by()
                                   .values_list("study__timepoint_id", "modality").distinct()):
        modalities[timepoint_id].add(modality)
    method = {tp: next((m for m in _MODALITY_ORDER if m in found), None) for tp, found in modalities.items()}
    return visits, timepoints, method


def _sdtm(sel, domain):
    for batch in sel.batches():
        by_pk = {s.pk: s for s in batch}
        visits, timepoints, method = _imaging_context(by_pk)
        ids, lesions = _lesion_index(by_pk)
        lesion_facts = {pk: {"role": role, "organ": organ, "nodal": nodal, "equivocal": equivocal,
                             "appeared": appeared_id}
                        for pk, _, _, role, organ, nodal, equivocal, _, appeared_id, _, _ in lesions}
        per_patient = defaultdict(list)
        if domain in ("TU", "TR"):
            measurements = list(_measurement_rows(by_pk))
        if domain == "TU":
            first_seen = {}
            for lesion_id, _, tp, date, *_ in sorted(measurements, key=lambda m: (m[3], m[2])):
                first_seen.setdefault(lesion_id, tp)
            for pk, patient_id, *_ in lesions:
                facts = lesion_facts[pk]
                tp = facts["appeared"] or first_seen.get(pk)
                s = by_pk[patient_id]
                per_patient[patient_id].append({
                    "id": ids[pk], "role": facts["role"], "organ": facts["organ"], "visit": visits.get(tp),
                    "day": sel.day(s, timepoints[tp][1]) if tp else None, "modality": method.get(tp)})
            for s in batch:
                yield from sdtm.tu_rows(sel.studyid, f"{sel.studyid}-{s.pseudonym}", per_patient[s.pk])
        elif domain == "TR":
            sums = defaultdict(dict)
            by_date = {(patient_id, date.isoformat()): tp for tp, (patient_id, date, _) in timepoints.items()}
            for patient_id, date, total in (  # the baseline's sum: the engine keeps it with its result
                    ResponseAssessment.objects.filter(patient__in=by_pk, status="done", result__isnull=False)
                    .order_by("regimen__start_date", "pk")
                    .values_list("patient_id", "result__baseline__date", "result__baseline__target_sum_mm")):
                tp = by_date.get((patient_id, date))
                if tp is not None and isinstance(total, (int, float)) and not isinstance(total, bool):
                    sums[patient_id].setdefault(tp, {"visit": visits[tp], "day": sel.day(by_pk[patient_id],
                                                                                         timepoints[tp][1]),
                                                     "modality": method.get(tp), "target_sum_mm": Decimal(repr(total))})
            _, points = _assessments(by_pk)
            for patient_id, _, criteria, tp, date, _, total, *_ in points:
                if criteria == "recist1.1" and total is not None:
                    sums[patient_id].setdefault(tp, {"visit": visits[tp], "day": sel.day(by_pk[patient_id], date),
                                                     "modality": method.get(tp), "target_sum_mm": total})
            for lesion_id, patient_id, tp, date, _, size, status, state, _ in measurements:
                facts = lesion_facts[lesion_id]
                per_patient[patient_id].append({
                    "lesion": ids[lesion_id], "role": facts["role"], "nodal": facts["nodal"],
                    "equivocal": facts["equivocal"], "visit": visits[tp], "day": sel.day(by_pk[patient_id], date),
                    "modality": method.get(tp), "size_mm": size, "status": status, "non_target_status": state})
            for s in batch:
                yield from sdtm.tr_rows(sel.studyid, f"{sel.studyid}-{s.pseudonym}", per_patient[s.pk],
                                        list(sums[s.pk].values()))
        else:
            _, points = _assessments(by_pk)
            seen = set()
            for patient_id, regimen_id, criteria, tp, date, category, *_ in points:
                if (tp, criteria) in seen:  # a timepoint assessed for two regimens: the first regimen's
                    continue
                seen.add((tp, criteria))
                per_patient[patient_id].append({
                    "regimen": sel.regimen_numbers[regimen_id], "criteria": criteria, "category": category,
                    "visit": visits[tp], "day": sel.day(by_pk[patient_id], date)})
            for s in batch:
                yield from sdtm.rs_rows(sel.studyid, f"{sel.studyid}-{s.pseudonym}", per_patient[s.pk])


_RESEARCH = {"patients": _patients, "regimens": _regimens, "biomarkers": _biomarkers,
             "adverse_events": _adverse_events, "endpoints": _endpoints, "lesions": _lesions,
             "measurements": _measurements, "responses": _responses, "features_long": _features_long}


def table_rows(sel, name):
    """``(Table, rows)`` of one table of the export (research table or ``sdtm_tu``/``sdtm_tr``/``sdtm_rs``)."""
    if name == "features_wide":
        return features_wide_table(sel)
    if name in _RESEARCH:
        return tables.TABLES[name], _RESEARCH[name](sel)
    domain = {v: k for k, v in sdtm.TABLE_NAMES.items()}.get(name)
    if domain is None:
        raise ExportError("table", f"Unknown table {name!r}; the tables are "
                                   f"{', '.join(RESEARCH_TABLES + SDTM_TABLES)}.")
    return sdtm.table(domain), _sdtm(sel, domain)


def dataset_exports(*, user=None):
    """Exports newest first: everyone's for staff, one's own otherwise."""
    queryset = DatasetExport.objects.select_related("project", "requested_by")
    if user is not None and not user.is_staff:
        queryset = queryset.filter(requested_by=user)
    return queryset
