"""Reads of the analytics app: the engine's input built from the database, worklists, plot data."""
import datetime as dt

from django.conf import settings
from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from accounts.access import scope as site_scope
from imaging import selectors as imaging_selectors
from patients import selectors as patient_selectors
from radimmuno.history import change_entries
from patients.choices import ICI_CLASSES
from patients.models import AdverseEvent, TreatmentRegimen

from ..choices import AlertKind, AlertStatus
from ..models import Alert, ResponseAssessment, TimepointResponse

_TARGET_MEASUREMENT = {
    "disappeared": "disappeared",
    "too-small-to-measure": "too-small-to-measure",
    "not-assessed": "not-assessed",
}


def ici_regimens(patient):
    """The patient's regimens containing an immune checkpoint inhibitor, oldest first."""
    return list(
        TreatmentRegimen.objects.filter(patient=patient, agents__drug_class__in=ICI_CLASSES).distinct().order_by(
            "start_date")
    )


def _size(value):
    """Sizes go to the engine as exact Decimals (it never sees a binary float)."""
    return value


def response_document(*, regimen):
    """The response engine's input (RESPONSE_RULES.md §5) for one patient's ICI regimen: its read timepoints."""
    return response_inputs(regimen=regimen)[0]


def response_inputs(*, regimen):
    """The engine's input document for one ICI regimen and the timepoints that await reading.

    Uses the assessments linked to ``regimen`` (pre-baseline, baseline, follow-up, unscheduled), the
    patient's lesions and their measurements, and the clinical inputs Lo Russo's definition needs.
    The study ID is the only identifier; nothing from PatientIdentity is read.

    A timepoint whose reading is not complete — a scan with no measurement yet, or one where a baseline lesion
    or a new lesion seen earlier has no record — is not a response (RECIST 1.1 assesses every lesion at every
    timepoint): it is left out of the document and returned in ``awaiting`` (``timepoint``, ``date``, ``kind``,
    ``missing`` lesion labels, empty when nothing is recorded yet), so the assessments already read keep their
    results until the reading is complete.
    """
    patient = regimen.patient
    timepoints, lesions, by_tp = imaging_selectors.regimen_measurements(regimen=regimen)
    baseline = next((tp for tp in timepoints if tp.kind == "baseline"), None)
    expected = set()  # lesions every later reading must record: the baseline's, then new lesions once seen
    if baseline is not None:
        expected = {m.lesion_id for m in by_tp.get(baseline.pk, []) if lesions[m.lesion_id].role != "new"}

    doc_timepoints, awaiting = [], []
    for tp in timepoints:
        measured = {m.lesion_id for m in by_tp.get(tp.pk, [])}
        if tp.kind != "pre-baseline":
            missing = set() if tp is baseline else expected - measured
            if not measured or missing:
                awaiting.append({"timepoint": tp.pk, "date": tp.date.isoformat(), "kind": tp.kind,
                                 "missing": sorted(lesions[pk].label for pk in missing) if measured else []})
                continue
            expected |= {pk for pk in measured if lesions[pk].role == "new"}
        kind = {"unscheduled": "follow-up"}.get(tp.kind, tp.kind)
        entry = {"label": tp.date.isoformat(), "date": tp.date.isoformat(), "kind": kind, "lesions": [],
                 "new_lesions": []}
        if tp.kind == "unscheduled":
            entry["unscheduled"] = True
        for m in sorted(by_tp.get(tp.pk, []), key=lambda m: lesions[m.lesion_id].label):
            lesion = lesions[m.lesion_id]
            if lesion.role == "new":
                entry["new_lesions"].append(_new_lesion(lesion, m))
            elif tp.kind == "pre-baseline":
                if lesion.role == "target":
                    entry["lesions"].append(_target_item(lesion, m, baseline=False))
            elif tp is baseline:
                entry["lesions"].append(_baseline_item(lesion, m))
            elif lesion.role == "target":
                entry["lesions"].append(_target_item(lesion, m, baseline=False))
            else:
                entry["lesions"].append({"id": lesion.label, "status": m.non_target_status or "present"})
        doc_timepoints.append(entry)

    outcome = getattr(patient, "outcome", None) if hasattr(patient, "outcome") else None
    clinical = {}
    if regimen.end_date:
        clinical["treatment_end"] = regimen.end_date.isoformat()
    if patient.ecog_baseline is not None:
        clinical["ecog_baseline"] = patient.ecog_baseline
    if outcome is not None and outcome.death_date:
        clinical["death_date"] = outcome.death_date.isoformat()
    document = {
        "patient_id": patient.study_id,
        "treatment_start": regimen.start_date.isoformat(),
        "timepoints": doc_timepoints,
    }
    if clinical:
        document["clinical"] = clinical
    prior = (
        TreatmentRegimen.objects.filter(patient=patient, start_date__lt=regimen.start_date).order_by("-start_date")
        .first()
    )
    if prior is not None:
        document["prior_line"] = {"regimen": prior.agent_names, "start": prior.start_date.isoformat()}
        if prior.end_date:
            document["prior_line"]["end"] = prior.end_date.isoformat()
    return document, awaiting


def _baseline_item(lesion, m):
    item = {"id": lesion.label, "kind": lesion.role, "organ": lesion.organ, "nodal": lesion.nodal}
    if m.size_mm is not None and m.size_mm > 0:
        item["size_mm"] = _size(m.size_mm)
    return item


def _target_item(lesion, m, *, baseline):
    item = {"id": lesion.label}
    if m.status in _TARGET_MEASUREMENT:
        item["measurement"] = _TARGET_MEASUREMENT[m.status]
        if m.status == "disappeared" and lesion.nodal and m.size_mm is not None:
            # nodes keep their short axis (RECIST 1.1 §1.3)
            del item["measurement"]
            item["size_mm"] = _size(m.size_mm)
    elif m.size_mm is not None:
        item["size_mm"] = _size(m.size_mm)
    return item


def _new_lesion(lesion, m):
    item = {"id": lesion.label, "organ": lesion.organ, "nodal": lesion.nodal}
    if lesion.equivocal:
        item["equivocal"] = True
    if m.status in _TARGET_MEASUREMENT:
        item["measurement"] = _TARGET_MEASUREMENT[m.status]
    elif m.size_mm is not None:
        item["size_mm"] = _size(m.size_mm)
    else:
        item["status"] = m.non_target_status or "present"
    return item


def alert_flags(assessment):
    """The alerts the worklist raises: HPD and dissociated response under the configured definitions."""
    hpd = set(assessment.hyperprogression_definitions) & set(settings.RADIMMUNO_HPD_ALERT_DEFINITIONS)
    dissociated = set(assessment.dissociated_definitions) & set(settings.RADIMMUNO_DISSOCIATED_ALERT_DEFINITIONS)
    return {"hyperprogression_alert": bool(hpd), "dissociated_alert": bool(dissociated)}


WORKLIST_SECTIONS = [
    ("to-read", "Scans to read"),
    ("confirmations", "Confirmations due"),
    ("overdue", "Overdue confirmations"),
    ("hyperprogression", "Hyperprogression"),
    ("dissociated", "Dissociated response"),
    ("irae", "Grade ≥ 3 irAEs"),
]
_SECTION_FILTERS = {
    "to-read": lambda today: Q(kind=AlertKind.SCAN_TO_READ),
    "confirmations": lambda today: Q(kind=AlertKind.CONFIRMATION_DUE, due_date__gte=today),
    "overdue": lambda today: Q(kind=AlertKind.CONFIRMATION_DUE, due_date__lt=today),
    "hyperprogression": lambda today: Q(kind=AlertKind.HYPERPROGRESSION),
    "dissociated": lambda today: Q(kind=AlertKind.DISSOCIATED),
    "irae": lambda today: Q(kind=AlertKind.IRAE),
}
_SECTION_ALIASES = {"awaiting": "confirmations"}  # the older name (API ?worklist=, page ?kind=)


def worklist_section(name):
    """The worklist section ``name`` stands for (an older alias included), or "" for none or an unknown one."""
    name = _SECTION_ALIASES.get(name, name)
    return name if name in _SECTION_FILTERS else ""


def worklist_alerts(*, section=None, site=None, status=AlertStatus.OPEN, scope="active", followed_by=None,
                    today=None, user=None):
    """The worklist's rows (alerts), in SQL: ``section`` (WORKLIST_SECTIONS, None for all), ``status`` (open,
    acknowledged, or None for both), ``scope`` "active" — living patients on an ongoing regimen whose alert is about
    something in the last RADIMMUNO_WORKLIST_ACTIVE_DAYS — or "all"; ``followed_by``: only the patients on this
    user's care team ("my patients"); ``user``: only the alerts of their sites (None: every site, for the engine's
    own reads)."""
    today = today or timezone.localdate()
    queryset = Alert.objects.exclude(status=AlertStatus.RESOLVED)
    if user is not None:
        queryset = site_scope(queryset, user)
    if status:
        queryset = queryset.filter(status=status)
    if section:
        queryset = queryset.filter(_SECTION_FILTERS[section](today))
    if site:
        queryset = queryset.filter(patient__site__code=site)
    if followed_by is not None:
        queryset = queryset.filter(patient__in=patient_selectors.patients_followed_by(user=followed_by))
    if scope == "active":  # irAEs: living patients, onset in the last RADIMMUNO_WORKLIST_IRAE_DAYS
        since = today - dt.timedelta(days=settings.RADIMMUNO_WORKLIST_ACTIVE_DAYS)
        irae_since = today - dt.timedelta(days=settings.RADIMMUNO_WORKLIST_IRAE_DAYS)
        queryset = queryset.filter(
            Q(kind=AlertKind.IRAE, subject_date__gte=irae_since)
            | (~Q(kind=AlertKind.IRAE) & Q(regimen__end_date__isnull=True, subject_date__gte=since))).exclude(
            patient__outcome__death_date__isnull=False)
    return queryset


def worklist_counts(**filters):
    """Rows per worklist section under the same filters (one query)."""
    queryset = worklist_alerts(**filters)
    today = filters.get("today") or timezone.localdate()
    counts = queryset.aggregate(**{name.replace("-", "_"): Count("pk", filter=_SECTION_FILTERS[name](today))
                                   for name, _ in WORKLIST_SECTIONS})
    return {name: counts[name.replace("-", "_")] for name, _ in WORKLIST_SECTIONS}


def worklist(*, kind=None, site=None, today=None):
    """Assessments with an alert not yet resolved (the API's ``?worklist=``), every patient whatever the scope.

    ``kind``: to-read, confirmations (or awaiting), overdue, hyperprogression, dissociated, or None for all.
    """
    alerts = worklist_alerts(section=worklist_section(kind) or None, site=site, status=None, scope="all", today=today)
    queryset = ResponseAssessment.objects.select_related("patient__site", "regimen").filter(
        status="done", regimen__in=alerts.values("regimen"))
    return queryset.order_by("confirmation_latest", "patient__study_id")


def is_overdue(assessment, today=None):
    """The iUPD's confirmation window has passed and no confirmation scan has arrived."""
    today = today or timezone.localdate()
    return bool(assessment.iupd_awaiting_confirmation and assessment.confirmation_latest
                and assessment.confirmation_latest < today
                and not any(item.get("confirmation") for item in assessment.awaiting_read))


def cohort_assessments(*, user, site=None):
    """The finished assessments of the patients at ``user``'s sites (the cohort page's plots)."""
    queryset = site_scope(ResponseAssessment.objects.filter(status="done"), user).select_related("patient__site",
                                                                                                "regimen")
    if site:
        queryset = queryset.filter(patient__site__code=site)
    return queryset.order_by("patient__study_id")



def patient_history(*, patient, limit=100):
    """Everything that changed for the patient, newest first: treatment and follow-up (patients), assessments,
    lesions and measurements (imaging), and the worklist alerts raised, acknowledged and resolved (analytics).
    One query per model. Returns (entries[:limit], total)."""
    alerts = Alert.history.filter(patient_id=patient.pk).select_related("history_user")
    entries = [
        *patient_selectors.patient_change_history(patient=patient),
        *imaging_selectors.patient_change_history(patient=patient),
        *change_entries(alerts, record_type="worklist alert", fields=["status", "note", "due_date"],
                        describe=lambda r: f"{r.get_kind_display().lower()} ({r.subject_date:%Y-%m-%d})"),
    ]
    entries.sort(key=lambda e: e["when"], reverse=True)
    return entries[:limit], len(entries)


def cohort_waterfall_bars(queryset):
    """(study ID, best % change, iBOR) per assessment of ``queryset``: three columns, whatever the cohort size."""
    return list(queryset.order_by().values_list("patient__study_id", "best_pct_change", "irecist_ibor"))


def cohort_swimmer_lanes(queryset):
    """One swimmer lane per assessment of ``queryset`` (a page of the cohort): the regimen from its start to its end
    or, while ongoing, to the last contact (follow-up date, or the latest scan) — never to today; the read responses;
    irAE onsets, hyperprogression (alerting definitions) at the first evaluation, pseudoprogression at its iUPD,
    and death. A fixed number of queries."""
    rows = list(queryset.select_related(None).select_related("patient__outcome", "regimen").only(
        "patient__study_id", "patient__outcome__last_contact_date", "patient__outcome__death_date",
        "regimen__start_date", "regimen__end_date", "summary", "hyperprogression_definitions", "dissociated_definitions",
        "current_date",
        "awaiting_read_from").prefetch_related(Prefetch(
            "patient__adverse_events", queryset=AdverseEvent.objects.only("patient_id", "onset_date", "grade"))))
    lanes = []
    for a in rows:
        start, regimen = a.regimen.start_date, a.regimen
        outcome = getattr(a.patient, "outcome", None)
        death = outcome.death_date if outcome else None
        timepoints = (a.summary or {}).get("timepoints") or []
        seen = [dt.date.fromisoformat(t["date"]) for t in timepoints]
        seen += [d for d in (outcome.last_contact_date if outcome else None, a.awaiting_read_from) if d]
        end = regimen.end_date or (max(seen) if seen else start)
        if death:
            end = min(end, death) if regimen.end_date else death
        responses = [((dt.date.fromisoformat(t["date"]) - start).days, t["irecist_tpr"] or "NE")
                     for t in timepoints if t["kind"] == "follow-up"]
        events = [((e.onset_date - start).days, "irAE") for e in a.patient.adverse_events.all()
                  if start <= e.onset_date <= end]
        if responses and alert_flags(a)["hyperprogression_alert"]:
            events.append((responses[0][0], "HPD"))
        for episode in ((a.summary or {}).get("pseudoprogression") or {}).get("episodes", []):
            if episode.get("outcome") == "reset":
                events.append(((dt.date.fromisoformat(episode["iupd_date"]) - start).days, "pseudoprogression"))
        if death:
            events.append(((death - start).days, "death"))
        lanes.append({"label": a.patient.study_id, "end_day": max(1, (end - start).days),
                      "ongoing": regimen.end_date is None and death is None, "responses": responses,
                      "events": events})
    return lanes


def patient_timeline(*, patient):
    """What the patient timeline draws (analytics.compute.timeline): from diagnosis (or the first record) to death
    or the last contact (else the latest record — never today), regimens with their drug class, scans with their
    iRECIST time-point response (blank while awaiting reading), irAEs with grade, biomarkers with their value.
    A fixed number of queries."""
    regimens = list(TreatmentRegimen.objects.filter(patient=patient).prefetch_related("agents").order_by("start_date"))
    events = list(AdverseEvent.objects.filter(patient=patient).order_by("onset_date"))
    markers = list(patient.biomarkers.select_related("kind").order_by("measured_on"))
    scans = imaging_selectors.patient_timepoint_list(patient=patient)
    category = dict(TimepointResponse.objects.filter(assessment__patient=patient, criteria="irecist").values_list(
        "timepoint_id", "category"))
    outcome = getattr(patient, "outcome", None)
    dates = ([r.start_date for r in regimens] + [r.end_date for r in regimens if r.end_date]
             + [tp.date for tp in scans] + [e.onset_date for e in events] + [b.measured_on for b in markers])
    end_event = None
    if outcome is not None:
        end_event = ("death", outcome.death_date) if outcome.death_date else ("last contact", outcome.last_contact_date)
        dates.append(end_event[1])
    if not dates:
        return None
    start = min(([patient.diagnosis_date] if patient.diagnosis_date else []) + dates)
    end = end_event[1] if end_event else max(dates)
    end = max(end, start + dt.timedelta(days=30))

    def drug_class(regimen):
        classes = [a.drug_class for a in regimen.agents.all()]
        return next((c for c in classes if c in ICI_CLASSES), classes[0] if classes else "other")

    return {
        "start": start, "end": end, "end_event": end_event,
        "regimens": [(r.agent_names or f"line {r.line_of_therapy}", drug_class(r), r.start_date, r.end_date)
                     for r in regimens],
        "scans": [(tp.date, category.get(tp.pk, ""), tp.get_kind_display().lower()) for tp in scans],
        "adverse_events": [(e.get_term_display(), e.grade, e.onset_date, e.resolution_date) for e in events],
        "biomarkers": [(b.measured_on, f"{b.kind.name} {b.display_value}") for b in markers],
    }
