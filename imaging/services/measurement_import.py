"""Bulk import of tumour measurements from a RECIST case report form (``manage.py import_measurements``, the page
``/imaging/import/measurements/``); the layout and every rule are in ``docs/import.md``.

One row per lesion reading: the patient (``record_id``, the study ID), the assessment date, the lesion (its label,
organ, kind) and the reading (size, status). Timepoints and lesions are created as needed. The import shares the
clinical import's machinery (``patients.importer``): all-or-nothing in one transaction, every problem reported
with its row, column and reason, ``--dry-run``, an ``ImportRun`` per run, idempotent (the same file twice changes
nothing the second time; a changed value updates the row, and its history shows before and after).

It is built for whole trials (a 1,000-patient CRF of ~80,000 rows): a fixed number of queries to look up what
exists, every row validated with the models' own ``full_clean`` in memory, the writes in bulk with their history
rows, and — instead of one response recomputation per written row — one ``lesion_data_imported`` signal after
commit naming every patient whose data changed (each is recomputed once).
"""
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import partial

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from patients.importer import (
    ImportReport,
    Problem,
    RowError,
    header_problems,
    ignored_redcap,
    parse_choice,
    parse_date,
    parse_optional_bool,
    run_import,
    validation_problems,
)
from patients.models import ImportRun, Patient, TreatmentRegimen

from .. import choices
from ..models import MAX_TARGETS, MAX_TARGETS_PER_ORGAN, Lesion, LesionMeasurement, Timepoint
from ..signals import bulk_changes, lesion_data_imported
from .assessments import regimen_assign_all, regimen_for_assessment

COLUMNS = ["record_id", "site", "assessment_date", "timepoint_kind", "lesion", "organ", "location", "lesion_kind",
           "is_node", "size_mm", "measurement_status", "nontarget_status", "equivocal"]
REQUIRED = {
    "record_id": "The header has no 'record_id' column (the study ID).",
    "assessment_date": "The header has no 'assessment_date' column (the date of the assessment).",
    "lesion": "The header has no 'lesion' column (the lesion's label, e.g. T1).",
}
#: REDCap writes these for a repeating instrument; like its other housekeeping columns they are ignored.
IGNORED = {"redcap_repeat_instrument", "redcap_repeat_instance"}
ALIASES = {"measurement_status": {"too_small": choices.MeasurementStatus.TOO_SMALL}}

LESION_FIELD_COLUMNS = {"label": "lesion", "organ": "organ", "location": "location", "nodal": "is_node",
                        "role": "lesion_kind", "appeared_at": "lesion_kind", "equivocal": "equivocal"}
MEASUREMENT_FIELD_COLUMNS = {"size_mm": "size_mm", "status": "measurement_status",
                             "non_target_status": "nontarget_status", "timepoint": "assessment_date",
                             "lesion": "lesion"}
TIMEPOINT_FIELD_COLUMNS = {"date": "assessment_date", "kind": "timepoint_kind", "regimen": "assessment_date"}
LOOKUP_CHUNK = 10_000  # ids per IN (...) query: one query for any realistic file, within every database's limit


@dataclass(slots=True)
class Reading:
    """One parsed row. ``None`` (or ``""``) in a lesion attribute means "not given in this row"."""

    row: int
    study_id: str
    site: str
    date: dt.date
    kind: str
    label: str
    organ: str
    location: str | None
    role: str
    nodal: bool | None
    equivocal: bool | None
    size: Decimal | None
    status: str
    nt_status: str
    patient: Patient | None = None


def measurements_import(*, data: bytes, filename: str, dry_run=False, user=None) -> ImportReport:
    """Validate and (unless ``dry_run`` or any problem) apply a measurement file. Always records an ImportRun.

    After commit, ``imaging.signals.lesion_data_imported`` names the patients whose timepoints, lesions or
    measurements were created or changed (none when nothing changed), so each is recomputed once.
    """
    return run_import(data=data, filename=filename, kind=ImportRun.Kind.MEASUREMENTS, dry_run=dry_run, user=user,
                      check_header=_check_header, apply=partial(_apply, user=user))


def _check_header(header, report):
    report.problems.extend(header_problems(
        header, known=COLUMNS, required=REQUIRED, ignored=lambda c: ignored_redcap(c) or c in IGNORED))


# -- reading rows -----------------------------------------------------------------------------------------------
def _choice(row, column, choice_class):
    alias = ALIASES.get(column, {}).get(row.get(column, "").lower().replace("-", "_").replace(" ", "_"))
    return alias or parse_choice(row, column, choice_class, loose=True)


def parse_size(row, column="size_mm"):
    """A size in mm: a finite number >= 0 (a decimal comma is accepted), or None when empty."""
    raw = row.get(column, "")
    if raw == "":
        return None
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise RowError(column, f"'{raw}' is not a number (the size in mm).") from None
    if not value.is_finite():
        raise RowError(column, f"'{raw}' is not a finite number (the size in mm).")
    if value < 0:
        raise RowError(column, "A size cannot be negative.")
    return value


def _read(number, row):
    """The row as a Reading, or the list of its problems (every wrong cell, not only the first)."""
    problems = []

    def take(parse):
        try:
            return parse()
        except RowError as exc:
            problems.append(Problem(number, exc.column, exc.message))
            return None

    study_id, label, location = row.get("record_id", ""), row.get("lesion", ""), row.get("location")
    if not study_id:
        problems.append(Problem(number, "record_id", "is required (the patient's study ID)."))
    if not label:
        problems.append(Problem(number, "lesion", "is required (the reader's label of the lesion, e.g. T1)."))
    elif len(label) > 20:
        problems.append(Problem(number, "lesion", "A lesion label has at most 20 characters."))
    if location and len(location) > 200:
        problems.append(Problem(number, "location", "A location has at most 200 characters."))
    reading = Reading(
        row=number, study_id=study_id, site=row.get("site", ""), label=label,
        date=take(lambda: parse_date(row, "assessment_date", required=True)),
        kind=take(lambda: _choice(row, "timepoint_kind", choices.TimepointKind)),
        organ=take(lambda: _choice(row, "organ", choices.Organ)),
        location=location or None,
        role=take(lambda: _choice(row, "lesion_kind", choices.LesionRole)),
        nodal=take(lambda: parse_optional_bool(row, "is_node")),
        equivocal=take(lambda: parse_optional_bool(row, "equivocal")),
        size=take(lambda: parse_size(row)),
        status=take(lambda: _choice(row, "measurement_status", choices.MeasurementStatus)),
        nt_status=take(lambda: _choice(row, "nontarget_status", choices.NonTargetStatus)),
    )
    return problems or reading


# -- looking up what exists -------------------------------------------------------------------------------------
def _raise_versions(rows):
    """Bulk updates raise each row's version as a save does (radimmuno.versioning): an editor who opened one of
    these rows before the import gets a conflict, not a silent overwrite of the import's value."""
    for row in rows:
        row.version += 1


def _chunks(values):
    values = sorted(values)
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start:start + LOOKUP_CHUNK]


def patient_lookup(keys):
    """``{(study_id, site): Patient or (column, reason)}`` for the (study ID, site code or "") pairs of a file.

    A study ID is unique within its site: without a site it must name a single patient. One query per 10,000
    study IDs.
    """
    by_study_id = defaultdict(list)
    for chunk in _chunks({study_id for study_id, _ in keys}):
        for patient in Patient.objects.filter(study_id__in=chunk).select_related("site"):
            by_study_id[patient.study_id].append(patient)
    found = {}
    for study_id, site in keys:
        candidates = everywhere = by_study_id.get(study_id, [])
        if site:
            candidates = [p for p in candidates if p.site.code.lower() == site.lower()]
        if len(candidates) == 1:
            found[study_id, site] = candidates[0]
        elif candidates:
            found[study_id, site] = ("record_id", f"Study ID {study_id} exists at several sites; add a 'site' "
                                                  "column naming the site.")
        elif everywhere:
            found[study_id, site] = ("site", f"Study ID {study_id} has no patient at site '{site}'.")
        else:
            found[study_id, site] = ("record_id", f"Study ID {study_id} is not a patient in the database; import "
                                                  "its clinical data first (import_clinical).")
    return found


def patients_resolve(readings, report):
    """Set ``reading.patient`` from its study ID (and optional site); report the rows naming no single patient.

    Returns the readings that found their patient.
    """
    patients = patient_lookup({(r.study_id, r.site) for r in readings})
    found = []
    for r in readings:
        patient = patients[r.study_id, r.site]
        if isinstance(patient, tuple):
            report.problems.append(Problem(r.row, *patient))
        else:
            r.patient = patient
            found.append(r)
    return found


def by_patient(queryset, patient_ids):
    """The rows of ``queryset`` (of a model with a ``patient`` foreign key) of these patients; one query per 10,000
    patients."""
    rows = []
    for chunk in _chunks(patient_ids):
        rows.extend(queryset.filter(patient_id__in=chunk))
    return rows


def _insert_many(model, fields, instances, *, now, constants=None):
    """One ``executemany`` INSERT of ``fields`` of new ``instances`` into ``model``'s table (``constants``: values by
    attname for fields the instances do not hold; auto_now(_add) fields get ``now``). Values are prepared by each
    field's ``get_db_prep_save``, as ``bulk_create`` does."""
    constants = constants or {}
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for instance in instances:
                setattr(instance, field.attname, now)
    varying = [f for f in fields if f.attname not in constants]
    fixed = [f for f in fields if f.attname in constants]
    fields = varying + fixed  # the columns in the order of the row values below
    preparers = [(f.attname, _preparer(f)) for f in varying]
    constant = [f.get_db_prep_save(constants[f.attname], connection) for f in fixed]
    rows = [[prepare(getattr(instance, attname)) for attname, prepare in preparers] + constant
            for instance in instances]
    table, quote = model._meta.db_table, connection.ops.quote_name
    sql = (f"INSERT INTO {quote(table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(sql, rows[start:start + 5000])


_INTEGER_TYPES = {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
                  "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField"}


def _preparer(field):
    """``field.get_db_prep_save`` for many values: a Python int of an integer column (or key) goes to the driver as
    is (what the field would return), other values are prepared once per distinct value (dates, codes, sizes
    repeat across rows)."""
    base = field.target_field if field.is_relation else field
    prepare = partial(field.get_db_prep_save, connection=connection)
    if base.get_internal_type() in _INTEGER_TYPES:
        return lambda value: value if value is None or type(value) is int else prepare(value)
    seen = {}

    def memoised(value):
        try:
            return seen[value]
        except KeyError:
            seen[value] = prepared = prepare(value)
            return prepared
        except TypeError:  # unhashable (a JSON value)
            return prepare(value)

    return memoised


# -- the import -------------------------------------------------------------------------------------------------
def _apply(rows, report, *, user):
    readings = []
    for number, row in rows:
        if "__error__" in row:
            report.problems.append(Problem(number, "", row["__error__"]))
            continue
        result = _read(number, row)
        if isinstance(result, list):
            report.problems.extend(result)
        else:
            readings.append(result)
    readings = patients_resolve(readings, report)
    with bulk_changes():
        changed = _MeasurementWriter(readings, report, user).write()
    if changed:
        transaction.on_commit(partial(lesion_data_imported.send, sender=LesionMeasurement,
                                      patient_ids=frozenset(changed)))


def _shown(value):
    if value is None or value == "":
        return "(not given)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class _MeasurementWriter:
    """The checks across rows and the writes: timepoints, then lesions, then measurements (each needs the
    previous one's primary keys, and each model's ``clean`` reads its foreign keys)."""

    LESION_ATTRIBUTES = (("organ", "organ", "organ"), ("role", "lesion_kind", "kind"),
                         ("nodal", "is_node", "is_node"), ("location", "location", "location"),
                         ("equivocal", "equivocal", "equivocal flag"))
    FIXED = {"organ", "role", "nodal"}  # a file never changes these of a recorded lesion: it would re-define it

    def __init__(self, readings, report, user):
        self.report, self.user = report, user
        self.reason = f"import_measurements {report.filename}"[:100]  # the history's change-reason column
        self.now = timezone.now()
        self.changed_patients = set()
        patient_ids = {r.patient.pk for r in readings}
        self.timepoints = {(t.patient_id, t.date): t for t in by_patient(Timepoint.objects.all(), patient_ids)}
        lesions = by_patient(Lesion.objects.select_related("appeared_at"), patient_ids)
        self.lesions = {(lesion.patient_id, lesion.label): lesion for lesion in lesions}
        self.measurements = {}
        for chunk in _chunks(patient_ids):
            for m in LesionMeasurement.objects.filter(lesion__patient_id__in=chunk):
                self.measurements[(m.lesion_id, m.timepoint_id)] = m
        self.regimens = defaultdict(list)
        for regimen in by_patient(TreatmentRegimen.objects.all(), patient_ids):
            self.regimens[regimen.patient_id].append(regimen)
        self.readings = self._without_duplicates(readings)

    def problem(self, reading, column, message):
        self.report.problems.append(Problem(reading.row, column, message))

    def _without_duplicates(self, readings):
        first, kept = {}, []
        for r in readings:
            key = (r.patient.pk, r.date, r.label)
            if key in first:
                self.problem(r, "lesion", f"Lesion {r.label} is read twice on {r.date.isoformat()} (rows "
                                          f"{first[key]} and {r.row}); give one row per lesion and assessment.")
                continue
            first[key] = r.row
            kept.append(r)
        return kept

    def write(self):
        timepoints = self._timepoints()
        lesions = self._lesions(timepoints)
        self._measurements(timepoints, lesions)
        return self.changed_patients

    # -- timepoints ---------------------------------------------------------------------------------------------
    def _timepoints(self):
        """The timepoint of every (patient, date) of the file: created, re-kinded or as recorded.

        Kind: ``timepoint_kind`` when given; otherwise a recorded timepoint keeps its kind and a new one is the
        baseline when it is the patient's baseline date — the date of the patient's recorded (or, in this file,
        declared) baseline, else the patient's earliest assessment date in the database and the file together —
        pre-baseline before it and follow-up after it.
        """
        groups = defaultdict(list)
        for r in self.readings:
            groups[(r.patient.pk, r.date)].append(r)
        declared = {}
        for key, readings in groups.items():
            given = [r for r in readings if r.kind]
            if given and any(r.kind != given[0].kind for r in given):
                other = next(r for r in given if r.kind != given[0].kind)
                self.problem(other, "timepoint_kind", f"The assessment of {key[1].isoformat()} is "
                                                      f"'{given[0].kind}' in row {given[0].row} and "
                                                      f"'{other.kind}' here; give it one kind.")
                continue
            declared[key] = given[0].kind if given else ""
        baseline = {}
        dates = defaultdict(set)
        for (patient_id, date), timepoint in self.timepoints.items():
            dates[patient_id].add(date)
            if timepoint.kind == choices.TimepointKind.BASELINE:
                baseline[patient_id] = min(date, baseline.get(patient_id, date))
        for (patient_id, date), kind in declared.items():
            dates[patient_id].add(date)
            if kind == choices.TimepointKind.BASELINE and patient_id not in baseline:
                baseline[patient_id] = date
        for patient_id in dates:
            baseline.setdefault(patient_id, min(dates[patient_id]))

        new, updated, unchanged, result = [], [], 0, {}
        for key, kind in declared.items():
            patient_id, date = key
            timepoint = self.timepoints.get(key)
            if timepoint is None:
                if not kind:
                    kind = (choices.TimepointKind.BASELINE if date == baseline[patient_id] else
                            choices.TimepointKind.PRE_BASELINE if date < baseline[patient_id] else
                            choices.TimepointKind.FOLLOW_UP)
                timepoint = Timepoint(patient=groups[key][0].patient, date=date, kind=kind)
                new.append((timepoint, groups[key][0]))
            elif kind and kind != timepoint.kind:
                timepoint.kind = kind
                timepoint.regimen = regimen_for_assessment(regimens=self.regimens[patient_id], date=date, kind=kind)
                updated.append((timepoint, groups[key][0]))
            else:
                unchanged += 1
            result[key] = timepoint
        regimen_assign_all([t for t, _ in new], self.regimens)
        for timepoint, _ in updated:
            timepoint.days_from_regimen_start = (
                (timepoint.date - timepoint.regimen.start_date).days if timepoint.regimen else None)
        options = {"exclude": ("patient", "regimen"), "default_column": "assessment_date"}
        new = self._valid(new, TIMEPOINT_FIELD_COLUMNS, result, lambda t: (t.patient_id, t.date), **options)
        updated = self._valid(updated, TIMEPOINT_FIELD_COLUMNS, result, lambda t: (t.patient_id, t.date), **options)
        # Valid rows are written even when other rows have problems (the transaction is rolled back then), so that
        # the rows depending on them are checked too and the report lists every problem of the file at once.
        self._create(new, ("patient_id", "date"))
        _raise_versions(updated)
        bulk_update_with_history(updated, Timepoint, ["kind", "regimen", "days_from_regimen_start", "version"],
                                 batch_size=1000, default_user=self.user, default_change_reason=self.reason)
        self._counted("timepoints", new, updated, unchanged)
        return result

    def _valid(self, pairs, field_columns, result, key, *, exclude, default_column):
        """``full_clean`` each new or changed row (foreign keys are ours, uniqueness is the database's); report
        the failures and drop them (and their key from ``result``). Returns the valid instances."""
        valid = []
        for instance, reading in pairs:
            if isinstance(instance, Lesion):
                # RECIST 1.1 §1.2 target limits are checked in memory over the recorded and the new targets
                # (_target_limits); the model's own check would query the recorded ones once per lesion.
                instance._target_count_errors = dict
            try:
                instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                self.report.problems.extend(validation_problems(reading.row, exc, field_columns, default_column))
                result.pop(key(instance), None)
                continue
            valid.append(instance)
        return valid

    def _create(self, instances, key):
        """Insert new rows with their history ("+") rows, as ``bulk_create_with_history`` does, ~3x faster.

        Django's ``bulk_create`` spends ~100 µs per row on this machine compiling each value into its INSERT, and
        simple_history then builds and bulk-creates one more model instance per row; a 1,000-patient CRF has
        ~40,000 rows. Here each table gets one ``executemany`` of values prepared by the fields themselves
        (``pre_save`` for auto_now fields, ``get_db_prep_save``), and the new primary keys are read back by the
        rows' natural key (``key``, the fields of a unique constraint of the model) with one query per 10,000
        values of its first field.
        """
        if not instances:
            return
        model = type(instances[0])
        for instance in instances:  # foreign keys assigned before their row had its primary key
            for field in model._meta.concrete_fields:
                if field.is_relation and getattr(instance, field.attname) is None and field.is_cached(instance):
                    related = getattr(instance, field.name)
                    if related is not None:
                        setattr(instance, field.attname, related.pk)
        _insert_many(model, [f for f in model._meta.concrete_fields if not f.primary_key], instances, now=self.now)
        pks = {tuple(row[1:]): row[0] for chunk in _chunks({getattr(i, key[0]) for i in instances})
               for row in model.objects.filter(**{f"{key[0]}__in": chunk}).values_list("pk", *key)}
        for instance in instances:
            instance.pk = pks[tuple(getattr(instance, name) for name in key)]
            instance._state.adding, instance._state.db = False, connection.alias
        history = model.history.model
        extra = {"history_date": self.now, "history_user_id": self.user.pk if self.user else None,
                 "history_change_reason": self.reason, "history_type": "+"}
        tracked = {f.attname for f in history.tracked_fields}
        fields = [f for f in history._meta.concrete_fields if not f.primary_key]
        _insert_many(history, fields, instances, now=self.now,
                     constants={f.attname: extra[f.attname] for f in fields if f.attname not in tracked})

    def _counted(self, what, new, updated, unchanged):
        self.report.count(what, "created", len(new))
        self.report.count(what, "updated", len(updated))
        self.report.count(what, "unchanged", unchanged)
        self.changed_patients.update(i.patient_id for i in [*new, *updated])

    # -- lesions ------------------------------------------------------------------------------------------------
    def _lesions(self, timepoints):
        groups = defaultdict(list)
        for r in self.readings:
            groups[(r.patient.pk, r.label)].append(r)
        new, updated, unchanged, result = [], [], 0, {}
        for key, readings in groups.items():
            lesion = self.lesions.get(key)
            values, ok = {}, True
            for attribute, column, what in self.LESION_ATTRIBUTES:
                given = [(r, getattr(r, attribute)) for r in readings if getattr(r, attribute) not in (None, "")]
                if not given:
                    continue
                first, value = given[0]
                other = next(((r, v) for r, v in given if v != value), None)
                if other is not None:
                    self.problem(other[0], column, f"Lesion {key[1]} has {what} {_shown(value)} in row {first.row} "
                                                   f"and {_shown(other[1])} here; a lesion's {what} is the same in "
                                                   "every row.")
                    ok = False
                elif lesion is not None and attribute in self.FIXED and getattr(lesion, attribute) != value:
                    self.problem(first, column, f"Lesion {key[1]} of this patient is recorded with {what} "
                                                f"{_shown(getattr(lesion, attribute))}; this file says "
                                                f"{_shown(value)}. Correct the lesion in the admin, or the file.")
                    ok = False
                values[attribute] = value
            if not ok:
                continue
            first = readings[0]
            if lesion is None:
                for attribute, column, message in (
                        ("organ", "organ", "is required for a lesion not recorded yet (in at least one of its rows)."),
                        ("role", "lesion_kind", "is required for a lesion not recorded yet (in at least one of its "
                                                "rows): target, non_target or new.")):
                    if attribute not in values:
                        self.problem(first, column, f"Lesion {key[1]}: {message}")
                        ok = False
                if not ok:
                    continue
                values.setdefault("nodal", values["organ"] == choices.Organ.LYMPH_NODE)
                lesion = Lesion(patient=first.patient, label=key[1], organ=values["organ"], role=values["role"],
                                nodal=values["nodal"], location=values.get("location") or "",
                                equivocal=bool(values.get("equivocal")))
                if lesion.role == choices.LesionRole.NEW:
                    earliest = min(readings, key=lambda r: r.date)
                    lesion.appeared_at = timepoints.get((key[0], earliest.date))
                    if lesion.appeared_at is None:
                        continue  # its assessment's problem is reported
                    if lesion.appeared_at.kind in (choices.TimepointKind.BASELINE, choices.TimepointKind.PRE_BASELINE):
                        self.problem(earliest, "lesion_kind", f"Lesion {key[1]} is 'new' but first read at the "
                                                              f"{lesion.appeared_at.kind} assessment; a new lesion "
                                                              "appears at a follow-up (record it as target or "
                                                              "non-target).")
                        continue
                new.append((lesion, first))
            else:
                change = {a: values[a] for a in ("location", "equivocal") if a in values
                          and getattr(lesion, a) != values[a]}
                if change:
                    for attribute, value in change.items():
                        setattr(lesion, attribute, value)
                    updated.append((lesion, first))
                else:
                    unchanged += 1
            result[key] = lesion
        self._target_limits(new, result)
        options = {"exclude": ("patient", "appeared_at", "split_from", "merged_into"), "default_column": "lesion"}
        key = lambda lesion: (lesion.patient_id, lesion.label)  # noqa: E731
        new = self._valid(new, LESION_FIELD_COLUMNS, result, key, **options)
        updated = self._valid(updated, LESION_FIELD_COLUMNS, result, key, **options)
        self._create(new, ("patient_id", "label"))
        _raise_versions(updated)
        bulk_update_with_history(updated, Lesion, ["location", "equivocal", "version"], batch_size=1000,
                                 default_user=self.user, default_change_reason=self.reason)
        self._counted("lesions", new, updated, unchanged)
        return result

    def _target_limits(self, new, result):
        """RECIST 1.1 §1.2 over the recorded and the new targets of each patient, in memory (the model's own check
        sees only recorded ones): at most 5 targets, 2 per organ (all nodes one organ). Drops the offenders."""
        targets = defaultdict(list)
        for lesion in self.lesions.values():
            if lesion.role == choices.LesionRole.TARGET:
                targets[lesion.patient_id].append(lesion)
        kept = []
        for lesion, reading in new:
            if lesion.role == choices.LesionRole.TARGET:
                others = targets[lesion.patient_id]
                same_organ = [t for t in others if t.organ_group == lesion.organ_group]
                message = None
                if len(others) >= MAX_TARGETS:
                    message = (f"RECIST 1.1 allows at most {MAX_TARGETS} target lesions; this patient already has "
                               f"{len(others)} ({', '.join(t.label for t in others)}). Record {lesion.label} as "
                               "non-target.")
                elif len(same_organ) >= MAX_TARGETS_PER_ORGAN:
                    organ = "lymph nodes" if lesion.nodal else lesion.get_organ_display().lower()
                    message = (f"RECIST 1.1 allows at most {MAX_TARGETS_PER_ORGAN} target lesions per organ; "
                               f"{organ} already has {', '.join(t.label for t in same_organ)}. Record "
                               f"{lesion.label} as non-target.")
                if message:
                    self.problem(reading, "lesion_kind", message)
                    result.pop((lesion.patient_id, lesion.label), None)
                    continue
                others.append(lesion)
            kept.append((lesion, reading))
        new[:] = kept

    # -- measurements -------------------------------------------------------------------------------------------
    def _measurements(self, timepoints, lesions):
        new, updated, unchanged = [], [], 0
        S = choices.MeasurementStatus
        for r in self.readings:
            timepoint, lesion = timepoints.get((r.patient.pk, r.date)), lesions.get((r.patient.pk, r.label))
            if timepoint is None or lesion is None:
                continue  # their problems are reported
            status = r.status or S.PRESENT
            if lesion.role == choices.LesionRole.TARGET:
                if r.nt_status:
                    self.problem(r, "nontarget_status", f"Lesion {r.label} is a target lesion: it is measured "
                                                        "(size_mm or measurement_status), it has no non-target "
                                                        "status.")
                    continue
                if r.size is None and status == S.PRESENT:
                    self.problem(r, "size_mm", f"Target lesion {r.label} needs its size in mm (or a "
                                               "measurement_status: too_small, disappeared, not_assessed).")
                    continue
            elif r.size is None and status == S.PRESENT and not r.nt_status:
                self.problem(r, "nontarget_status", f"Lesion {r.label} needs its non-target status (present, absent, "
                                                    "unequivocal_progression, ...) or a size in mm.")
                continue
            fields = {"size_mm": r.size, "status": status, "non_target_status": r.nt_status}
            measurement = self.measurements.get((lesion.pk, timepoint.pk))
            if measurement is None:
                measurement = LesionMeasurement(lesion=lesion, timepoint=timepoint, recorded_by=self.user, **fields)
                new.append((measurement, r))
            elif any(getattr(measurement, name) != value for name, value in fields.items()):
                measurement.lesion, measurement.timepoint = lesion, timepoint  # for clean(), without a query
                for name, value in fields.items():
                    setattr(measurement, name, value)
                measurement.recorded_by, measurement.recorded_at = self.user, self.now
                updated.append((measurement, r))
            else:
                unchanged += 1
        options = {"exclude": ("lesion", "timepoint", "recorded_by"), "default_column": "size_mm"}
        new = self._valid(new, MEASUREMENT_FIELD_COLUMNS, {}, id, **options)
        updated = self._valid(updated, MEASUREMENT_FIELD_COLUMNS, {}, id, **options)
        self._create(new, ("lesion_id", "timepoint_id"))
        _raise_versions(updated)
        bulk_update_with_history(updated, LesionMeasurement,
                                 ["size_mm", "status", "non_target_status", "recorded_by", "recorded_at",
                                  "version"],
                                 batch_size=2000, default_user=self.user, default_change_reason=self.reason)
        self.report.count("measurements", "created", len(new))
        self.report.count("measurements", "updated", len(updated))
        self.report.count("measurements", "unchanged", unchanged)
        self.changed_patients.update(m.lesion.patient_id for m in [*new, *updated])
