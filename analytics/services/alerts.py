"""Writes of the worklist: raising, updating and clearing alerts from a recomputed response, and a person's
acknowledgement or resolution. Every change is saved through the model, so it is in the alert's history."""
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from patients.models import AdverseEvent

from ..choices import AlertKind, AlertStatus
from ..models import Alert

_CLEARED = {
    AlertKind.SCAN_TO_READ: "the reading was recorded",
    AlertKind.CONFIRMATION_DUE: "the iUPD is no longer awaiting a confirmation scan",
    AlertKind.HYPERPROGRESSION: "no alerting hyperprogression definition is met any more",
    AlertKind.DISSOCIATED: "no alerting dissociated-response definition is met any more",
    AlertKind.IRAE: "the adverse event is no longer grade 3 or higher, or was deleted",
}


def _conditions(fields, regimen_id):
    """The alerts one recomputed assessment raises: {(kind, key): (subject_date, due_date, detail)}; keys name the
    regimen, so two regimens of one patient raise two alerts."""
    out = {}
    awaiting = fields["awaiting_read"]
    for item in awaiting:
        window = item.get("confirmation")
        out[(AlertKind.SCAN_TO_READ, f"regimen:{regimen_id}:timepoint:{item['timepoint']}")] = (
            item["date"], window["to"] if window else None, item)
    if fields["iupd_awaiting_confirmation"] and not any(item.get("confirmation") for item in awaiting):
        iupd = str(fields["iupd_date"])
        out[(AlertKind.CONFIRMATION_DUE, f"regimen:{regimen_id}:iupd:{iupd}")] = (
            iupd, fields["confirmation_latest"],
            {"iupd_date": iupd, "from": str(fields["confirmation_earliest"]), "to": str(fields["confirmation_latest"])})
    result = fields.get("result")
    hpd = sorted(set(fields["hyperprogression_definitions"]) & set(settings.RADIMMUNO_HPD_ALERT_DEFINITIONS))
    if hpd and result:
        out[(AlertKind.HYPERPROGRESSION, f"regimen:{regimen_id}:hpd")] = (
            result["hyperprogression"]["common"]["first_evaluation_label"], None, {"definitions": hpd})
    dissociated = sorted(set(fields["dissociated_definitions"]) & set(settings.RADIMMUNO_DISSOCIATED_ALERT_DEFINITIONS))
    if dissociated and result:
        first = min(result["dissociated_response"][name]["first_label"] for name in dissociated)
        out[(AlertKind.DISSOCIATED, f"regimen:{regimen_id}:dissociated")] = (first, None, {"definitions": dissociated})
    return out


def alerts_sync(*, assessment, fields):
    """Make the assessment's alerts match its recomputed result (``fields``: the stored headline values).

    A condition found again keeps its row (and its acknowledgement); a new one is raised open; one that cleared
    is resolved with the reason; one that comes back after being resolved is reopened.
    """
    wanted = _conditions(fields, assessment.regimen_id)
    existing = Alert.objects.filter(regimen_id=assessment.regimen_id)
    _match(existing, wanted, patient_id=assessment.patient_id, regimen_id=assessment.regimen_id)


def _match(existing, wanted, *, patient_id, regimen_id=None):
    """Make ``existing`` alerts match the ``wanted`` conditions: keep, raise, update, reopen, resolve."""
    existing = {(a.kind, a.key): a for a in existing}
    for (kind, key), (subject, due, detail) in wanted.items():
        alert = existing.pop((kind, key), None)
        values = {"subject_date": subject, "due_date": due, "detail": detail}
        if alert is None:
            Alert.objects.create(patient_id=patient_id, regimen_id=regimen_id, kind=kind, key=key, **values)
            continue
        changed = any(str(getattr(alert, name) or "") != str(value or "") for name, value in values.items()
                      if name != "detail") or alert.detail != detail
        if alert.status == AlertStatus.RESOLVED:
            alert.status, alert.resolved_at, alert.resolution = AlertStatus.OPEN, None, ""
            alert.acknowledged_by, alert.acknowledged_at, alert.note = None, None, ""
            changed = True
        if changed:
            for name, value in values.items():
                setattr(alert, name, value)
            alert._change_reason = "recomputed"
            alert.save()
    for alert in existing.values():
        if alert.status != AlertStatus.RESOLVED:
            _resolve(alert, _CLEARED[alert.kind], reason="recomputed")


def irae_alerts_sync(*, patient_id, today=None):
    """A grade ≥ 3 irAE with its onset in the last RADIMMUNO_WORKLIST_IRAE_DAYS (30) raises an alert (one per
    event); downgraded or deleted, it is resolved. Runs after every adverse-event change and every recomputation."""
    today = today or timezone.localdate()
    since = today - timedelta(days=settings.RADIMMUNO_WORKLIST_IRAE_DAYS)
    events = AdverseEvent.objects.filter(patient_id=patient_id, grade__gte=3)
    existing = Alert.objects.filter(patient_id=patient_id, kind=AlertKind.IRAE)
    known = {a.key for a in existing}
    wanted = {(AlertKind.IRAE, f"adverse-event:{e.pk}"): (
        e.onset_date, None, {"term": e.get_term_display(), "grade": e.grade})
        for e in events if e.onset_date >= since or f"adverse-event:{e.pk}" in known}
    _match(existing, wanted, patient_id=patient_id)


def alerts_resolve_for_regimens(*, patient, keep, resolution):
    """Resolve the open alerts of the patient's regimens not in ``keep``."""
    stale = Alert.objects.filter(patient=patient).exclude(regimen__in=keep).exclude(status=AlertStatus.RESOLVED)
    for alert in stale:
        _resolve(alert, resolution, reason="recomputed")


def _resolve(alert, resolution, *, reason, user=None):
    alert.status, alert.resolved_at, alert.resolution = AlertStatus.RESOLVED, timezone.now(), resolution[:200]
    alert._change_reason = reason
    if user is not None:
        alert._history_user = user  # simple-history records who, also outside a request
    alert.save()


@transaction.atomic
def alert_acknowledge(*, alert, user, note=""):
    """A person has seen the alert and taken it in hand: it leaves the open list (it stays until it clears)."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.status == AlertStatus.RESOLVED:
        raise ValidationError({"status": "This alert is already resolved; there is nothing to acknowledge."})
    if len(note) > 500:
        raise ValidationError({"note": f"A note has at most 500 characters (this one has {len(note)})."})
    alert.status, alert.acknowledged_by, alert.acknowledged_at = AlertStatus.ACKNOWLEDGED, user, timezone.now()
    alert.note = note
    alert._change_reason = "acknowledged"
    alert._history_user = user
    alert.save()
    return alert
