"""Writes of the patients app. Views, the admin, the API, the importer and ``seed_demo`` all call these.

Every write validates with ``full_clean`` and runs in a transaction; bulk variants validate every object
first and write nothing when any is invalid. The clinical import checks a whole file in memory first (the same
``full_clean``) and then writes it with ``clinical_records_write``: bulk inserts and updates with their history
rows, in one short transaction, and one announcement after commit instead of one per row.
"""
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from simple_history.models import HistoricalRecords
from simple_history.utils import bulk_create_with_history, get_m2m_field_name

from radimmuno.versioning import VersionedModel

from .models import (
    AdverseEvent,
    Biomarker,
    BiomarkerKind,
    CareTeamMember,
    Drug,
    Outcome,
    Patient,
    PatientIdentity,
    Site,
    TreatmentRegimen,
)
from .signals import clinical_data_imported


def _save(instance, *, exclude=None):
    instance.full_clean(exclude=exclude)
    instance.save()
    return instance


def _assign(instance, fields):
    """Set fields; return True when any value changed."""
    changed = False
    for name, value in fields.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


def site_create(*, code, name):
    return _save(Site(code=code, name=name))


def _upsert(model, *, lookup, fields):
    """Create the row identified by ``lookup`` or update its ``fields``. Returns (row, created, changed).

    An update that changes nothing writes nothing (no history row): importing the same data twice is a no-op.
    """
    instance = model.objects.filter(**lookup).first()
    if instance is None:
        return _save(model(**lookup, **fields)), True, True
    changed = _assign(instance, fields)
    if changed:
        _save(instance)
    return instance, False, changed


@transaction.atomic
def patient_upsert(*, site, study_id, **fields):
    """Create the patient with this study ID at this site, or update it. Returns (patient, created, changed)."""
    return _upsert(Patient, lookup={"site": site, "study_id": study_id}, fields=fields)


@transaction.atomic
def record_update(*, instance, fields):
    """Correct fields of one record (the API's PATCH/PUT; the admin's form does the same): validated as a whole with
    ``full_clean``, a regimen's ``agents`` set with it. Returns the instance; nothing is written when refused."""
    fields = dict(fields)
    agents = fields.pop("agents", None)
    expected_version = fields.pop("version", None)  # a versioned record: the version the writer read
    if expected_version is not None:
        instance.expected_version = expected_version
    if agents is not None and not agents:
        raise ValidationError({"agents": "A regimen needs at least one agent."})
    if _assign(instance, fields):
        _save(instance)
    if agents is not None:
        instance.agents.set(agents)
    return instance


@transaction.atomic
def care_team_follow(*, patient, user, follow=True):
    """Put ``user`` on the patient's care team (``follow``) or take them off. Returns True when that changed
    something; following twice, or leaving a team one is not on, writes nothing."""
    if follow:
        _, created = CareTeamMember.objects.get_or_create(patient=patient, user=user)
        return created
    member = CareTeamMember.objects.filter(patient=patient, user=user).first()
    if member is None:
        return False
    member.delete()  # through the instance, so the history records who left
    return True


@transaction.atomic
def patient_identity_set(*, patient, **fields):
    """Create or update the identifying data of a patient. Returns (identity, changed)."""
    identity, _, changed = _upsert(PatientIdentity, lookup={"patient": patient}, fields=fields)
    return identity, changed


@transaction.atomic
def regimen_upsert(*, patient, start_date, line_of_therapy, agents: Iterable[Drug], **fields):
    """Create or update the regimen of this line starting on this date. Returns (regimen, created, changed)."""
    agents = list(agents)
    if not agents:
        raise ValidationError({"agents": "A regimen needs at least one agent."})
    regimen = TreatmentRegimen.objects.filter(
        patient=patient, start_date=start_date, line_of_therapy=line_of_therapy
    ).first()
    created = regimen is None
    if created:
        regimen = TreatmentRegimen(patient=patient, start_date=start_date, line_of_therapy=line_of_therapy)
    changed = _assign(regimen, fields) or created
    if changed:
        _save(regimen)
    if {a.pk for a in agents} != set(regimen.agents.values_list("pk", flat=True)):
        regimen.agents.set(agents)
        changed = True
    return regimen, created, changed


@transaction.atomic
def biomarker_upsert(*, patient, kind: BiomarkerKind, measured_on, specimen, source="measured", **fields):
    """Create or update one biomarker result (keyed by kind, date, specimen, source)."""
    lookup = {"patient": patient, "kind": kind, "measured_on": measured_on, "specimen": specimen, "source": source}
    return _upsert(Biomarker, lookup=lookup, fields=fields)


@transaction.atomic
def adverse_event_upsert(*, patient, term, onset_date, **fields):
    """Create or update an irAE (keyed by CTCAE term and onset date)."""
    return _upsert(AdverseEvent, lookup={"patient": patient, "term": term, "onset_date": onset_date}, fields=fields)


@transaction.atomic
def outcome_set(*, patient, **fields):
    """Create or update the follow-up / outcome of a patient. Returns (outcome, changed)."""
    outcome, _, changed = _upsert(Outcome, lookup={"patient": patient}, fields=fields)
    return outcome, changed


def bulk_validate(instances, *, exclude_unique=True):
    """``full_clean`` every instance; raise one ValidationError naming each bad object, or return None.

    Foreign keys are checked with one query per field for the whole batch instead of one per row.
    """
    instances = list(instances)
    if not instances:
        return
    model = type(instances[0])
    fk_fields = [f for f in model._meta.concrete_fields if f.many_to_one]
    exclude = [f.name for f in fk_fields]
    problems = []
    for field in fk_fields:
        ids = {getattr(i, field.attname) for i in instances} - {None}
        found = set(field.related_model._base_manager.filter(pk__in=ids).values_list("pk", flat=True))
        if ids - found:
            problems.append(f"{model._meta.verbose_name}: {field.name} refers to missing rows {sorted(ids - found)[:5]}")
    for instance in instances:
        try:
            instance.full_clean(exclude=exclude, validate_unique=not exclude_unique,
                                validate_constraints=not exclude_unique)
        except ValidationError as exc:
            problems.append(f"{instance._meta.verbose_name} {instance}: {exc.message_dict}")
    if problems:
        raise ValidationError(problems)


def bulk_create_validated(model, instances, *, user=None, batch_size=2000, clean=True):
    """Validate then bulk-insert instances of one model, with their history rows.

    Used by the demo generator and large imports: validation is the same ``full_clean`` as the single-row
    services (minus per-row uniqueness queries, which the database constraints enforce).
    """
    instances = list(instances)
    if clean:
        bulk_validate(instances)
    if not hasattr(model, "history"):
        return model.objects.bulk_create(instances, batch_size=batch_size)
    return bulk_create_with_history(instances, model, batch_size=batch_size, default_user=user)


# -- bulk writes of checked rows (the clinical import) -------------------------------------------------------
LOOKUP_CHUNK = 10_000  # ids per IN (...) query
INSERT_CHUNK = 5_000  # rows per executemany (SQLite)
#: The natural key (a unique constraint) of each model ``clinical_records_write`` inserts: an executemany INSERT
#: returns no primary keys, so they are read back by it, one query per 10,000 values of its first field.
NATURAL_KEYS = {
    Patient: ("study_id", "site_id"),
    PatientIdentity: ("patient_id",),
    Outcome: ("patient_id",),
    TreatmentRegimen: ("patient_id", "start_date", "line_of_therapy"),
    Biomarker: ("patient_id", "kind_id", "measured_on", "specimen", "source"),
    AdverseEvent: ("patient_id", "term", "onset_date"),
}


class RecordsChanged(Exception):
    """A row a bulk write was to update (or a regimen's agents) changed in the database after it was checked:
    nothing was written."""


@dataclass
class BulkChanges:
    """Checked rows of one model for ``clinical_records_write``.

    ``created``: new instances (foreign keys may name instances created earlier in the same write). ``updated``:
    ``(instance, checked, changed)`` — the instance with its new values, the values its checked fields had when
    read (``{field name: value}``, a foreign key's by its id; the write refuses when the database holds others by
    then) and the names of the fields that change (none: only its agents change).
    """

    model: type
    created: list = dataclass_field(default_factory=list)
    updated: list = dataclass_field(default_factory=list)


@dataclass
class AgentChanges:
    """The agents (drug ids) a new or recorded regimen is to have; ``checked``: its agents as read (None: new)."""

    regimen: TreatmentRegimen
    drug_ids: frozenset
    checked: frozenset | None = None


def _chunks(values, size=LOOKUP_CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


_INTEGER_TYPES = {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
                  "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField"}


def _preparer(field, wrapper):
    """``field.get_db_prep_save`` for many values: an int of an integer column (or key) as is, other values prepared
    once per distinct value (dates, codes repeat across rows)."""
    base = field.target_field if field.is_relation else field
    prepare = partial(field.get_db_prep_save, connection=wrapper)
    if base.get_internal_type() in _INTEGER_TYPES:
        return lambda value: value if value is None or type(value) is int else prepare(value)
    seen = {}

    def memoised(value):
        try:
            return seen[(type(value), value)]
        except KeyError:
            seen[(type(value), value)] = prepared = prepare(value)
            return prepared
        except TypeError:  # unhashable
            return prepare(value)

    return memoised


def _insert_many(model, instances, *, now, constants=None):
    """INSERT the concrete fields (but the primary key) of ``instances``: on PostgreSQL with one ``COPY``, elsewhere
    with one ``executemany`` per 5,000 rows.

    What ``bulk_create`` does, without compiling each value into the statement (~100 µs a row here, most of a large
    import's write): values prepared by each field's ``get_db_prep_save``; auto_now(_add) fields set to ``now``;
    ``constants`` (by attname) for the fields the instances do not hold (a history row's user, date, type).
    """
    if not instances:
        return
    constants = constants or {}
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for instance in instances:
                setattr(instance, f.attname, now)
    varying = [f for f in fields if f.attname not in constants]
    fixed = [f for f in fields if f.attname in constants]
    wrapper = transaction.get_connection()  # the connection itself: the proxy costs a lookup per value
    preparers = [(f.attname, _preparer(f, wrapper)) for f in varying]
    tail = [f.get_db_prep_save(constants[f.attname], wrapper) for f in fixed]
    quote = wrapper.ops.quote_name
    columns = varying + fixed
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) VALUES "
    placeholders = f"({', '.join(['%s'] * len(columns))})"
    with wrapper.cursor() as cursor:
        if wrapper.vendor == "postgresql":  # COPY: executemany costs ~40 µs a row, a long VALUES list more
            names = ", ".join(quote(f.column) for f in columns)
            with wrapper.wrap_database_errors:  # psycopg's errors as Django's (IntegrityError, ...)
                with cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN") as copy:
                    for i in instances:
                        copy.write_row([prepare(getattr(i, attname)) for attname, prepare in preparers] + tail)
            return
        for chunk in _chunks(instances, INSERT_CHUNK):
            cursor.executemany(head + placeholders, [
                [prepare(getattr(i, attname)) for attname, prepare in preparers] + tail for i in chunk])


def _create(model, instances, *, now):
    """Insert new rows and give the instances their primary keys (read back by the model's natural key)."""
    for instance in instances:  # foreign keys to rows created earlier in this write
        for f in model._meta.concrete_fields:
            if f.is_relation and getattr(instance, f.attname) is None and f.is_cached(instance):
                related = getattr(instance, f.name)
                if related is not None:
                    setattr(instance, f.attname, related.pk)
    _insert_many(model, instances, now=now)
    key = NATURAL_KEYS[model]
    pks = {}
    for chunk in _chunks(sorted({getattr(i, key[0]) for i in instances})):
        for pk, *values in model._base_manager.filter(**{f"{key[0]}__in": chunk}).order_by().values_list("pk", *key):
            pks[tuple(values)] = pk
    for instance in instances:
        instance.pk = pks[tuple(getattr(instance, name) for name in key)]
        instance._state.adding, instance._state.db = False, connection.alias


def _refuse_if_changed(change):
    if not change.updated:
        return
    names = sorted({name for _, checked, _ in change.updated for name in checked})
    current = {}
    for chunk in _chunks(instance.pk for instance, _, _ in change.updated):
        for row in change.model.objects.select_for_update().filter(pk__in=chunk).order_by().values("pk", *names):
            current[row.pop("pk")] = row
    for instance, checked, _ in change.updated:
        now = current.get(instance.pk)
        if now is None or any(now[name] != value for name, value in checked.items()):
            raise RecordsChanged(change.model._meta.label)


def _agents_write(agents, *, now):
    """Set the regimens' agents (after the regimens are written): one query to read, one to delete, one to insert."""
    through = TreatmentRegimen.agents.through
    recorded = [a for a in agents if a.checked is not None]
    current = defaultdict(dict)  # regimen id: {drug id: through row id}
    for chunk in _chunks(a.regimen.pk for a in recorded):
        for pk, regimen_id, drug_id in through.objects.filter(treatmentregimen_id__in=chunk).values_list(
                "pk", "treatmentregimen_id", "drug_id"):
            current[regimen_id][drug_id] = pk
    stale, new = [], []
    for change in agents:
        have = current.get(change.regimen.pk, {})
        if change.checked is not None and set(have) != change.checked:
            raise RecordsChanged("regimen agents")
        stale.extend(pk for drug_id, pk in have.items() if drug_id not in change.drug_ids)
        new.extend(through(treatmentregimen_id=change.regimen.pk, drug_id=drug_id)
                   for drug_id in sorted(change.drug_ids) if drug_id not in have)
    for chunk in _chunks(stale):
        through.objects.filter(pk__in=chunk).delete()
    _insert_many(through, new, now=now)


def _history_write(change, *, user, reason, now):
    """The history rows of one model ("+" for created rows, "~" for changed ones, as simple_history writes them),
    with their m2m snapshots (a regimen's agents as written)."""
    if not hasattr(change.model, "history") or not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    history = change.model.history.model
    updated = [instance for instance, _, _ in change.updated]
    instances = change.created + updated
    if not instances:
        return
    if user is None:  # the request's user, when run by a page (simple_history's middleware)
        user = history.get_default_history_user(instances[0])
    extra = {"history_date": now, "history_user_id": user.pk if user is not None else None,
             "history_change_reason": reason}
    tracked = {f.attname for f in history.tracked_fields}
    for instances_, history_type in ((change.created, "+"), (updated, "~")):
        constants = {f.attname: {**extra, "history_type": history_type}[f.attname]
                     for f in history._meta.concrete_fields if not f.primary_key and f.attname not in tracked}
        _insert_many(history, instances_, now=now, constants=constants)
    for m2m_field in getattr(history, "_history_m2m_fields", []):
        m2m_history = HistoricalRecords.m2m_models[m2m_field]
        through = m2m_field.remote_field.through
        source = through._meta.get_field(get_m2m_field_name(m2m_field)).attname
        attnames = [f.attname for f in through._meta.concrete_fields]
        ids = sorted({instance.pk for instance in instances})
        history_ids, by_source = {}, defaultdict(list)
        for chunk in _chunks(ids):
            history_ids.update({object_id: history_id for history_id, object_id in history.objects.filter(
                history_date=now, id__in=chunk).values_list("history_id", "id")})
            for values in through.objects.filter(**{f"{source}__in": chunk}).values_list(*attnames):
                by_source[values[attnames.index(source)]].append(values)
        rows = [m2m_history(history_id=history_ids[object_id], **dict(zip(attnames, values)))
                for object_id in ids for values in by_source.get(object_id, [])]
        _insert_many(m2m_history, rows, now=now)


def clinical_records_write(*, changes, agents=(), announce=(), user=None, reason="", batch_size=1000):
    """Write checked clinical rows in one transaction: the new rows, the changed fields, the regimens' agents, a
    history row for every row created or changed (by ``user``, with ``reason``), and after commit one
    ``patients.signals.clinical_data_imported`` naming the patients of ``announce``.

    ``changes``: ``BulkChanges`` in the order the rows' foreign keys need (patients before their records, regimens
    before the irAEs linked to them). Nothing is validated here: the caller has checked every row (``full_clean``,
    and what the database held); the database's constraints remain the last word (an ``IntegrityError`` rolls
    everything back). Raises ``RecordsChanged`` when a row to update was changed meanwhile. No ``post_save`` or
    ``m2m_changed`` is sent for the rows: the one announcement replaces them.
    """
    user = user if user is not None and getattr(user, "is_authenticated", False) else None
    now = timezone.now()
    with transaction.atomic():
        for change in changes:
            _refuse_if_changed(change)
        for change in changes:
            model = change.model
            if change.created:
                _create(model, change.created, now=now)
            auto_now = [f for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
            groups = defaultdict(list)
            versioned = issubclass(model, VersionedModel)  # raised as a save does: open editors are told
            for instance, _, changed in change.updated:
                if changed:
                    for f in auto_now:
                        setattr(instance, f.attname, now)
                    if versioned:
                        instance.version += 1
                    groups[tuple(sorted({*changed, *(f.name for f in auto_now),
                                         *(["version"] if versioned else [])}))].append(instance)
            for names, instances in groups.items():
                model.objects.bulk_update(instances, names, batch_size=batch_size)
        _agents_write(agents, now=now)
        for change in changes:
            _history_write(change, user=user, reason=reason, now=now)
        patient_ids = frozenset(patient.pk for patient in announce)
        if patient_ids:
            transaction.on_commit(partial(clinical_data_imported.send, sender=Patient, patient_ids=patient_ids),
                                  robust=True)
