"""Bulk import of radiomic features computed by another tool (LIFEx, MIRP, a site's own pipeline):
``manage.py import_features FILE --profile NAME`` and the import page. Layout and rules: ``docs/import.md``.

Long format, one row per value: patient (``record_id``), ``lesion`` (label), ``assessment_date``, ``region``
(default ``lesion``), ``feature``, ``value``. The lesion and the assessment must already be recorded (imported
with ``import_measurements`` or entered in the app). The values of one lesion × timepoint × region become one
``ExternalFeatureSet`` of an *external* extraction profile, created on first use, whose parameters are free text;
a name used by a pyradiomics profile is refused, so imported and extracted features never mix under one name.

All-or-nothing and idempotent like every import (``patients.importer``); built for 100,000-row files: a fixed
number of queries (one per table looked up), values checked in memory, sets written with ``bulk_create`` /
``bulk_update``, then one ``features_imported`` signal after commit naming the patients whose features changed.
"""
import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from patients.importer import ImportReport, Problem, header_problems, ignored_redcap, record_run, run_import
from patients.models import ImportRun

from ..models import LESION_REGION, ExternalFeatureSet, ExtractionProfile, Lesion, Timepoint
from ..signals import bulk_changes, features_imported
from .measurement_import import IGNORED, _chunks, by_patient, patient_lookup

COLUMNS = ["record_id", "site", "lesion", "assessment_date", "region", "feature", "value"]
REQUIRED = {
    "record_id": "The header has no 'record_id' column (the study ID).",
    "lesion": "The header has no 'lesion' column (the lesion's label, e.g. T1).",
    "assessment_date": "The header has no 'assessment_date' column (the date of the assessment).",
    "feature": "The header has no 'feature' column (the feature's name).",
    "value": "The header has no 'value' column (the feature's value).",
}
PROFILE_OPTION = "--profile"  # where a problem of the profile (not of a row) is reported
MAX_FEATURE_NAME = 200
MAX_REGION = ExternalFeatureSet._meta.get_field("region").max_length


def features_import(*, data: bytes, filename: str, profile: str, description=None, dry_run=False,
                    user=None) -> ImportReport:
    """Validate and (unless ``dry_run`` or any problem) apply a feature file to the external profile ``profile``.

    ``description`` (free text: the tool, its version and settings) is the profile's parameters: given for a new
    name it creates version 1; given and different from the latest version's, it creates the next version (the
    values go there; earlier versions keep theirs); not given, the latest version is used. Always records an
    ImportRun of kind "features". After commit, ``imaging.signals.features_imported`` names the patients whose
    features were created or changed.
    """
    return run_import(data=data, filename=filename, kind=ImportRun.Kind.FEATURES, dry_run=dry_run, user=user,
                      check_header=_check_header,
                      apply=partial(_apply, profile_name=profile, description=description, user=user))


def _check_header(header, report):
    report.problems.extend(header_problems(
        header, known=COLUMNS, required=REQUIRED, ignored=lambda c: ignored_redcap(c) or c in IGNORED))


def external_profile_for_import(*, name, description=None, user=None):
    """The external profile version an import writes to, created when needed. Returns (profile, created).

    Raises ValidationError when ``name`` is not a valid profile name or is a pyradiomics profile's name.
    """
    latest = ExtractionProfile.objects.select_for_update().filter(name=name).order_by("-version").first()
    if latest is not None and not latest.is_external:
        raise ValidationError(f"'{name}' is a pyradiomics profile (features extracted here); imported features "
                              "never mix with extracted ones under one name. Choose another profile name.")
    if latest is not None and (description is None or latest.params.get("description", "") == description):
        return latest, False
    params = {"description": description or ""}
    profile = ExtractionProfile(
        name=name, version=(latest.version + 1) if latest else 1, source=ExtractionProfile.Source.EXTERNAL,
        modality="", params=params, params_hash=_free_text_hash(params), rings_mm=[], description=description or "",
        active=False, created_by=user if (user is not None and user.is_authenticated) else None,
    )
    try:
        profile.full_clean()
    except ValidationError as exc:
        raise ValidationError(" ".join(m for messages in exc.message_dict.values() for m in messages)) from None
    profile.save()
    return profile, True


def _free_text_hash(params):
    """SHA-256 of the canonical JSON of free-text parameters (pyradiomics' hash would validate them first)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _apply(rows, report, *, profile_name, description, user):
    try:
        profile, created = external_profile_for_import(name=profile_name, description=description, user=user)
    except ValidationError as exc:  # reported; the rows are checked all the same
        report.problems.append(Problem(0, PROFILE_OPTION, " ".join(exc.messages)))
    else:
        report.counts["profile created" if created else "profile"] = f"{profile} (external)"
    parsed = _read(rows, report)
    sets, patient_of = _resolve(parsed, report)
    if report.problems:
        return
    existing = {}
    for chunk in _chunks(set(patient_of.values())):
        for fs in ExternalFeatureSet.objects.filter(profile=profile, lesion__patient_id__in=chunk).only(
                "pk", "lesion_id", "timepoint_id", "region", "features", "feature_count"):
            existing[(fs.lesion_id, fs.timepoint_id, fs.region)] = fs
    new, updated, unchanged, values = [], [], 0, 0
    for key, features in sets.items():
        values += len(features)
        fs = existing.get(key)
        if fs is None:
            lesion_id, timepoint_id, region = key
            new.append(ExternalFeatureSet(lesion_id=lesion_id, timepoint_id=timepoint_id, profile=profile,
                                          region=region, features=features, feature_count=len(features)))
            continue
        merged = {**fs.features, **features}  # features not in the file are kept (a file may add features)
        if merged == fs.features:
            unchanged += 1
            continue
        fs.features, fs.feature_count = merged, len(merged)
        updated.append(fs)
    report.count("feature sets", "created", len(new))
    report.count("feature sets", "updated", len(updated))
    report.count("feature sets", "unchanged", unchanged)
    report.count("feature values", "read", values)
    if report.dry_run:
        return
    run = record_run(report, user)  # inside the transaction: the sets name the run that wrote them
    now = timezone.now()
    for fs in updated:
        fs.import_run, fs.imported_at = run, now
    for fs in new:
        fs.import_run = run
    with bulk_changes():
        ExternalFeatureSet.objects.bulk_create(new, batch_size=500)
        ExternalFeatureSet.objects.bulk_update(updated, ["features", "feature_count", "import_run", "imported_at"],
                                               batch_size=500)
    changed = {patient_of[lesion_id] for lesion_id in {fs.lesion_id for fs in [*new, *updated]}}
    if changed:
        transaction.on_commit(partial(features_imported.send, sender=ExternalFeatureSet,
                                      patient_ids=frozenset(changed)))


def _read(rows, report):
    """The rows as (row, study_id, site, label, date, region, feature, value); bad cells reported."""
    problems, parsed, dates = report.problems, [], {}
    for number, row in rows:
        if "__error__" in row:
            problems.append(Problem(number, "", row["__error__"]))
            continue
        ok = True
        study_id, label, feature = row.get("record_id", ""), row.get("lesion", ""), row.get("feature", "")
        region = row.get("region", "") or LESION_REGION
        if not study_id:
            problems.append(Problem(number, "record_id", "is required (the patient's study ID)."))
            ok = False
        if not label:
            problems.append(Problem(number, "lesion", "is required (the lesion's label, e.g. T1)."))
            ok = False
        if not feature:
            problems.append(Problem(number, "feature", "is required (the feature's name)."))
            ok = False
        elif len(feature) > MAX_FEATURE_NAME:
            problems.append(Problem(number, "feature", f"A feature name has at most {MAX_FEATURE_NAME} characters."))
            ok = False
        if len(region) > MAX_REGION:
            problems.append(Problem(number, "region", f"A region name has at most {MAX_REGION} characters."))
            ok = False
        raw = row.get("assessment_date", "")
        date = dates.get(raw)
        if date is None:
            date = dates[raw] = _date(raw)
        if isinstance(date, str):
            problems.append(Problem(number, "assessment_date", date))
            ok = False
        raw = row.get("value", "")
        try:
            value = float(raw.replace(",", ".")) if raw else None
        except ValueError:
            value = None
            problems.append(Problem(number, "value", f"'{raw}' is not a number."))
            ok = False
        else:
            if value is None:
                problems.append(Problem(number, "value", "is required (a number; leave out the row of a feature "
                                                         "that was not computed)."))
                ok = False
            elif not math.isfinite(value):
                problems.append(Problem(number, "value", f"'{raw}' is not a finite number; leave out the row of a "
                                                         "feature that could not be computed."))
                ok = False
        if ok:
            parsed.append((number, study_id, row.get("site", ""), label, date, region, feature, value))
    return parsed


def _date(raw):
    """The date, or the reason it is none (a string)."""
    if not raw:
        return "is required (a date as YYYY-MM-DD)."
    try:
        if len(raw) < 10 or raw[4] != "-":
            raise ValueError(raw)
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        return f"is not a valid date '{raw}'; use YYYY-MM-DD."


def _resolve(parsed, report):
    """Group the values by (lesion pk, timepoint pk, region); report unknown patients, lesions, assessments and
    values given twice. Returns (sets, patient_of): sets maps the key to {feature: value}, patient_of a lesion pk
    to its patient's pk."""
    problems = report.problems
    patients = patient_lookup({(study_id, site) for _, study_id, site, *_ in parsed})
    patient_ids = {p.pk for p in patients.values() if not isinstance(p, tuple)}
    lesions = {(patient_id, label): pk for pk, patient_id, label in
               by_patient(Lesion.objects.values_list("pk", "patient_id", "label"), patient_ids)}
    timepoints = {(patient_id, date): pk for pk, patient_id, date in
                  by_patient(Timepoint.objects.values_list("pk", "patient_id", "date"), patient_ids)}
    patient_of = {}  # lesion pk -> patient pk
    sets, first_row = defaultdict(dict), {}
    for number, study_id, site, label, date, region, feature, value in parsed:
        patient = patients[study_id, site]
        if isinstance(patient, tuple):
            problems.append(Problem(number, *patient))
            continue
        lesion_id = lesions.get((patient.pk, label))
        timepoint_id = timepoints.get((patient.pk, date))
        if lesion_id is None:
            problems.append(Problem(number, "lesion", f"Study ID {study_id} has no lesion {label}; record the "
                                                      "lesion first (import_measurements or the app)."))
            continue
        if timepoint_id is None:
            problems.append(Problem(number, "assessment_date", f"Study ID {study_id} has no assessment on "
                                                               f"{date.isoformat()}; record it first "
                                                               "(import_measurements or the app)."))
            continue
        key = (lesion_id, timepoint_id, region)
        values = sets[key]
        if feature in values:
            problems.append(Problem(number, "feature", f"Feature {feature} of lesion {label} on {date.isoformat()} "
                                                       f"(region {region}) is given twice (rows "
                                                       f"{first_row[key, feature]} and {number})."))
            continue
        values[feature] = value
        first_row[key, feature] = number
        patient_of[lesion_id] = patient.pk
    return sets, patient_of
