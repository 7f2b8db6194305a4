"""Input validation (RESPONSE_RULES.md §5): a response document -> :class:`~.model.ResponseInput`.

:func:`parse_document` turns a JSON-like dict into a validated :class:`ResponseInput`, or
raises :class:`~.errors.ResponseInputError` carrying *every* problem found.  Timepoints are
sorted by date and lesions are keyed by id, so nothing downstream depends on input order.

The fields are read by :mod:`.document_fields`, the lesions by :mod:`.document_lesions`; the objects built are in
:mod:`.model`.
"""

from __future__ import annotations

from .arith import fmt_mm
from .document_fields import (
    _CLINICAL_KEYS,
    _PRIOR_KEYS,
    _TOP_KEYS,
    _TP_KEYS,
    _bool,
    _parse_date,
    _scan_dates,
    _size,
    _slice,
    _unknown_keys,
)
from .document_lesions import (
    _parse_baseline_lesions,
    _parse_follow_up_lesions,
    _parse_new_lesions,
    _parse_pre_baseline_lesions,
)
from .errors import ResponseInputError
from .model import (
    BASELINE,
    FOLLOW_UP,
    MEASURED,
    NON_TARGET,
    PRE_BASELINE,
    PRESENT,
    TARGET,
    TIMEPOINT_KINDS,
    ClinicalInputs,
    LesionObservation,
    PriorLine,
    ResponseInput,
    Timepoint,
    _input_hash,
)
from .options import ResponseOptions, resolve_options

__all__ = ["parse_document", "validate_document"]


def parse_document(document, options=None):
    """Validate ``document`` (§5 data model) and return a :class:`ResponseInput`.

    Parameters
    ----------
    document : dict
        ``treatment_start``, ``timepoints`` (each ``label``, ``date``, optional ``kind``,
        ``lesions``, ``new_lesions`` and flags), optional ``clinical``, ``prior_line``,
        ``options``, ``patient_id`` and ``meta``.  See docs/response.md.
    options : dict or ResponseOptions, optional
        Options set in code; they override the document's ``options``.

    Raises
    ------
    ResponseInputError
        With the list of every problem found.
    """
    problems = []
    if not isinstance(document, dict):
        raise ResponseInputError([f"document: expected an object, got {type(document).__name__}"])
    _unknown_keys(document, _TOP_KEYS, "document", problems)

    opts = resolve_options(document.get("options"), problems)
    if options is not None:
        opts = resolve_options(options if not isinstance(options, ResponseOptions) else options.to_dict(), problems, base=opts)

    start = _parse_date(document.get("treatment_start"))
    if start is None:
        problems.append(f"document: treatment_start must be an ISO date, got {document.get('treatment_start')!r}")

    raw_tps = document.get("timepoints")
    if not isinstance(raw_tps, list) or not raw_tps:
        problems.append("document: timepoints must be a non-empty list")
        raise ResponseInputError(problems)

    # 1. timepoint headers
    headers = []  # (raw, label, date, kind or None)
    labels_seen = {}
    for i, raw in enumerate(raw_tps):
        if not isinstance(raw, dict):
            problems.append(f"timepoints[{i}]: expected an object")
            continue
        label = raw.get("label")
        if not isinstance(label, str) or not label.strip():
            problems.append(f"timepoints[{i}]: label must be a non-empty string")
            label = f"#{i}"
        label = label.strip()
        where = f"timepoint {label}"
        if label in labels_seen:
            problems.append(f"{where}: duplicate label")
        labels_seen[label] = i
        _unknown_keys(raw, _TP_KEYS, where, problems)
        date = _parse_date(raw.get("date"))
        if date is None:
            problems.append(f"{where}: date must be an ISO date, got {raw.get('date')!r}")
        kind = raw.get("kind")
        if kind is not None and kind not in TIMEPOINT_KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(TIMEPOINT_KINDS)}, got {kind!r}")
            kind = None
        headers.append((raw, label, date, kind))

    dated = [h for h in headers if h[2] is not None]
    by_date = {}
    for h in dated:
        by_date.setdefault(h[2], []).append(h[1])
    for d, labs in sorted(by_date.items()):
        if len(labs) > 1:
            problems.append(f"timepoints {' and '.join(sorted(labs))} share the date {d.isoformat()}: "
                            "merge them into one assessment (give the scan dates in scan_dates)")
    dated.sort(key=lambda h: (h[2], h[1]))

    # 2. which one is the baseline
    explicit = [h for h in dated if h[3] == BASELINE]
    if len(explicit) > 1:
        problems.append(f"timepoints {', '.join(h[1] for h in explicit)}: only one timepoint can be the baseline")
    if explicit:
        base_h = explicit[0]
    else:
        cands = [h for h in dated if h[3] is None and start is not None and h[2] <= start]
        base_h = cands[-1] if cands else None
        if base_h is None:
            problems.append("document: no baseline timepoint (mark one with kind 'baseline', or date one on or before treatment_start)")
    if base_h is None:
        raise ResponseInputError(problems)
    base_date = base_h[2]
    kinds = {}
    for h in dated:
        k = h[3]
        if h is base_h:
            k = BASELINE
        elif k is None:
            k = PRE_BASELINE if h[2] < base_date else FOLLOW_UP
        if k == PRE_BASELINE and h[2] > base_date:
            problems.append(f"timepoint {h[1]}: pre-baseline scan dated after the baseline {base_h[1]}")
        if k == FOLLOW_UP and h[2] < base_date:
            problems.append(f"timepoint {h[1]}: follow-up dated before the baseline {base_h[1]}")
        if k == FOLLOW_UP and start is not None and h[2] <= start:
            problems.append(f"timepoint {h[1]}: follow-up dated on or before treatment_start {start.isoformat()}")
        kinds[h[1]] = k
    if start is not None and base_date > start:
        problems.append(f"timepoint {base_h[1]}: baseline dated after treatment_start {start.isoformat()}")

    # 3. baseline lesions
    base_raw = base_h[0]
    base_where = f"timepoint {base_h[1]}"
    base_slice = _slice(base_raw, base_where, problems)
    base_lesions, selection_mode, base_vols = _parse_baseline_lesions(base_raw, base_where, base_slice, opts, problems)
    target_ids = tuple(sorted(l.lesion_id for l in base_lesions.values() if l.kind == TARGET))
    non_target_ids = tuple(sorted(l.lesion_id for l in base_lesions.values() if l.kind == NON_TARGET))
    if base_raw.get("new_lesions"):
        problems.append(f"{base_where}: the baseline cannot have new_lesions")
    if not base_lesions and not any(p.startswith(base_where) for p in problems):
        problems.append(f"{base_where}: the baseline records no lesion (no target and no non-target disease)")

    day0 = start or base_date
    for flag in ("not_evaluable", "unscheduled", "symptom_driven"):
        if base_raw.get(flag):
            problems.append(f"{base_where}: the baseline cannot be {flag.replace('_', ' ')}")
    baseline_tp = Timepoint(
        label=base_h[1], date=base_date, kind=BASELINE, day=(base_date - day0).days,
        lesions={lid: LesionObservation(lid, l.size_mm, MEASURED if l.kind == TARGET else PRESENT,
                                        status=None if l.kind == TARGET else PRESENT, volume_mm3=base_vols.get(lid))
                 for lid, l in base_lesions.items()},
        slice_thickness_mm=base_slice, scan_dates=_scan_dates(base_raw, base_where, problems),
    )

    # 4. pre-baseline and follow-ups
    pre, follow = [], []
    nl_state = {}  # new lesion id -> dict(first_label, organ, organ_key, nodal, equivocal, last_present)
    nt_progressed = {lid: False for lid in non_target_ids}
    for h in dated:
        if h is base_h:
            continue
        raw, label, date, _ = h
        where = f"timepoint {label}"
        kind = kinds[label]
        flags = dict(
            unscheduled=_bool(raw, "unscheduled", where, problems),
            symptom_driven=_bool(raw, "symptom_driven", where, problems),
            not_evaluable=_bool(raw, "not_evaluable", where, problems),
            clinically_stable=_bool(raw, "clinically_stable", where, problems, default=None),
            tumour_markers_above_normal=_bool(raw, "tumour_markers_above_normal", where, problems, default=None),
        )
        slice_mm = _slice(raw, where, problems)
        scan_dates = _scan_dates(raw, where, problems)
        if kind == PRE_BASELINE:
            if raw.get("new_lesions"):
                problems.append(f"{where}: a pre-baseline scan cannot have new_lesions")
            lesions = _parse_pre_baseline_lesions(raw, where, base_lesions, opts, problems)
            new = {}
        else:
            lesions = _parse_follow_up_lesions(raw, where, base_lesions, flags["not_evaluable"], opts, nt_progressed, problems)
            new = _parse_new_lesions(raw, where, base_lesions, flags["not_evaluable"], slice_mm, opts, nl_state, problems)
        tp = Timepoint(label=label, date=date, kind=kind, day=(date - day0).days, lesions=lesions, new_lesions=new,
                       slice_thickness_mm=slice_mm, scan_dates=scan_dates, **flags)
        (pre if kind == PRE_BASELINE else follow).append(tp)

    clinical = _parse_clinical(document.get("clinical"), start, dated, problems)
    prior = _parse_prior(document.get("prior_line"), problems)
    pid = document.get("patient_id")
    if pid is not None and not isinstance(pid, (str, int)):
        problems.append("document: patient_id must be a string or an integer")

    if problems:
        raise ResponseInputError(problems)

    inp = ResponseInput(
        patient_id=pid, treatment_start=start, pre_baseline=tuple(pre), baseline=baseline_tp, follow_ups=tuple(follow),
        baseline_lesions=base_lesions, target_ids=target_ids, non_target_ids=non_target_ids,
        target_selection=selection_mode, clinical=clinical, prior_line=prior, options=opts,
        input_sha256="", meta=document.get("meta"),
    )
    object.__setattr__(inp, "input_sha256", _input_hash(inp))
    return inp


def validate_document(document, options=None):
    """Return the list of problems in ``document`` (empty if it is valid)."""
    try:
        parse_document(document, options)
    except ResponseInputError as exc:
        return exc.problems
    return []


def _parse_clinical(raw, start, dated, problems):
    if raw is None:
        return ClinicalInputs()
    if not isinstance(raw, dict):
        problems.append("clinical: expected an object")
        return ClinicalInputs()
    _unknown_keys(raw, _CLINICAL_KEYS, "clinical", problems)
    ttf = None
    if raw.get("ttf_days") is not None:
        ttf = _size(raw["ttf_days"], "clinical", "ttf_days", problems)
    end = None
    if raw.get("treatment_end") is not None:
        end = _parse_date(raw["treatment_end"])
        if end is None:
            problems.append(f"clinical: treatment_end must be an ISO date, got {raw['treatment_end']!r}")
        elif start is not None and end < start:
            problems.append("clinical: treatment_end is before treatment_start")
        elif start is not None and ttf is not None and ttf != (end - start).days:
            problems.append(f"clinical: ttf_days {fmt_mm(ttf)} disagrees with treatment_end ({(end - start).days} days)")
    ecog = {}
    for k in ("ecog_baseline", "ecog_worst_first_2_months"):
        v = raw.get(k)
        if v is None:
            ecog[k] = None
        elif isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 5:
            problems.append(f"clinical: {k} must be an integer 0-5, got {v!r}")
            ecog[k] = None
        else:
            ecog[k] = v
    death = None
    if raw.get("death_date") is not None:
        death = _parse_date(raw["death_date"])
        if death is None:
            problems.append(f"clinical: death_date must be an ISO date, got {raw['death_date']!r}")
        else:
            late = [h[1] for h in dated if h[2] > death]
            if late:
                problems.append(f"clinical: death_date {death.isoformat()} is before timepoint(s) {', '.join(late)}")
    return ClinicalInputs(ttf, end, ecog["ecog_baseline"], ecog["ecog_worst_first_2_months"], death)


def _parse_prior(raw, problems):
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append("prior_line: expected an object")
        return None
    _unknown_keys(raw, _PRIOR_KEYS, "prior_line", problems)
    dates = {}
    for k in ("start", "end"):
        if raw.get(k) is not None:
            dates[k] = _parse_date(raw[k])
            if dates[k] is None:
                problems.append(f"prior_line: {k} must be an ISO date, got {raw[k]!r}")
    reg = raw.get("regimen")
    if reg is not None and not isinstance(reg, str):
        problems.append("prior_line: regimen must be a string")
    return PriorLine(reg, dates.get("start"), dates.get("end"))
