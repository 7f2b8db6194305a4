"""Writes of the patients app. Views, the admin, the API, the importer and ``seed_demo`` all call these.

Every write validates with ``full_clean`` and runs in a transaction; bulk variants validate every object
first and write nothing when any is invalid.
"""
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from simple_history.utils import bulk_create_with_history

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
