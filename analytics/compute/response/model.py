"""Input data model and validation (RESPONSE_RULES.md §5).

:func:`parse_document` turns a JSON-like dict into a validated :class:`ResponseInput`, or
raises :class:`~.errors.ResponseInputError` carrying *every* problem found.  Timepoints are
sorted by date and lesions are keyed by id, so nothing downstream depends on input order.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass, field

from .arith import ZERO, fmt_mm, to_decimal
from .errors import ResponseInputError
from .options import ResponseOptions, resolve_options
from .selection import is_measurable, min_measurable_mm, organ_key, select_targets

# --- vocabularies ---------------------------------------------------------------------------
TARGET = "target"
NON_TARGET = "non-target"
LESION_KINDS = (TARGET, NON_TARGET)

PRE_BASELINE = "pre-baseline"
BASELINE = "baseline"
FOLLOW_UP = "follow-up"
TIMEPOINT_KINDS = (PRE_BASELINE, BASELINE, FOLLOW_UP)

# target / new-lesion measurement statuses (§1.3, §5)
MEASURED = "measured"
DISAPPEARED = "disappeared"
TOO_SMALL = "too-small-to-measure"
NOT_ASSESSED = "not-assessed"
FRAGMENTS = "fragments"
COALESCED = "coalesced"
UNMEASURED = "unmeasured"  # new lesion recorded without a size (non-measurable / qualitative)
MEASUREMENTS = (MEASURED, DISAPPEARED, TOO_SMALL, NOT_ASSESSED)

# non-target / new-lesion statuses (§1.5, §2.5; NCLA from the iRECIST FAQ categories)
PRESENT = "present"
ABSENT = "absent"
UNEQUIVOCAL = "unequivocal-progression"
INCREASED = "increased-from-last-assessment"
NO_CHANGE = "no-change-from-last-assessment"
NOT_EVALUATED = "not-evaluated"
NT_STATUSES = (PRESENT, ABSENT, UNEQUIVOCAL, INCREASED, NO_CHANGE, NOT_EVALUATED)
PROGRESSED_CONTINUING = (INCREASED, NO_CHANGE)

_TOP_KEYS = {"patient_id", "treatment_start", "timepoints", "clinical", "prior_line", "options", "meta"}
_TP_KEYS = {"label", "date", "kind", "lesions", "new_lesions", "unscheduled", "symptom_driven", "not_evaluable",
            "clinically_stable", "scan_dates", "slice_thickness_mm", "tumour_markers_above_normal", "notes"}
_LESION_KEYS = {"id", "kind", "organ", "nodal", "size_mm", "measurement", "fragments_mm", "coalesced_into",
                "coalesced_with", "status", "volume_mm3", "notes"}
_NEW_KEYS = {"id", "organ", "nodal", "size_mm", "measurement", "equivocal", "status", "notes"}
_CLINICAL_KEYS = {"ttf_days", "treatment_end", "ecog_baseline", "ecog_worst_first_2_months", "death_date"}
_PRIOR_KEYS = {"regimen", "start", "end"}


# --- parsed objects -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BaselineLesion:
    """A lesion recorded at baseline (§1.1-1.2); ``kind`` is fixed for the whole course."""

    lesion_id: str
    kind: str
    organ: str
    organ_key: str
    nodal: bool
    size_mm: object  # Decimal | None
    selected_by: str  # "reader" | "auto"


@dataclass(frozen=True, slots=True)
class LesionObservation:
    """One baseline lesion at one timepoint.

    For targets ``size_mm`` is the effective size entering the sum (§1.3): the measurement,
    0 if disappeared or coalesced into another target, the too-small default, the sum of
    fragments, or None when not assessed.  For non-targets ``status`` carries the reading.
    """

    lesion_id: str
    size_mm: object
    measurement: str
    status: str = None
    fragments_mm: tuple = ()
    coalesced_into: str = None
    coalesced_with: tuple = ()
    volume_mm3: object = None


@dataclass(frozen=True, slots=True)
class NewLesionObservation:
    """A lesion first seen after baseline (§1.6, §2.2); the NLT/NLNT class is derived."""

    lesion_id: str
    organ: str
    organ_key: str
    nodal: bool
    size_mm: object
    measurement: str
    equivocal: bool
    status: str = None

    @property
    def present(self):
        """True / False / None (unknown) - whether the lesion is visible at this timepoint."""
        if self.measurement == DISAPPEARED or self.status == ABSENT:
            return False
        if self.measurement == NOT_ASSESSED or self.status == NOT_EVALUATED:
            return None
        if self.size_mm is not None and self.size_mm == ZERO:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Timepoint:
    label: str
    date: _dt.date
    kind: str
    day: int  # days since treatment start
    lesions: dict = field(default_factory=dict)  # id -> LesionObservation
    new_lesions: dict = field(default_factory=dict)  # id -> NewLesionObservation
    unscheduled: bool = False
    symptom_driven: bool = False
    not_evaluable: bool = False
    clinically_stable: object = None
    scan_dates: tuple = ()
    slice_thickness_mm: object = None
    tumour_markers_above_normal: object = None

    @property
    def assessment_date(self):
        """Date used for PD: the earliest scan date of the assessment (§1.9 [I])."""
        return min(self.scan_dates) if self.scan_dates else self.date


@dataclass(frozen=True, slots=True)
class ClinicalInputs:
    """Clinical inputs for the HPD definitions (§3.1, §3.7) and PFS (§2.10)."""

    ttf_days: object = None
    treatment_end: object = None
    ecog_baseline: object = None
    ecog_worst_first_2_months: object = None
    death_date: object = None


@dataclass(frozen=True, slots=True)
class PriorLine:
    """The last treatment line before the ICI (Saâda-Bouzid §3.4): used to annotate TGK_pre."""

    regimen: str = None
    start: object = None
    end: object = None


@dataclass(frozen=True, slots=True)
class ResponseInput:
    """A validated, order-normalised input document."""

    patient_id: object
    treatment_start: _dt.date
    pre_baseline: tuple
    baseline: Timepoint
    follow_ups: tuple
    baseline_lesions: dict  # id -> BaselineLesion
    target_ids: tuple
    non_target_ids: tuple
    target_selection: str  # "reader" | "auto:<rule>"
    clinical: ClinicalInputs
    prior_line: object
    options: ResponseOptions
    input_sha256: str
    meta: object = None


# --- helpers --------------------------------------------------------------------------------
def _parse_date(value):
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        v = value.strip()
        try:
            return _dt.date.fromisoformat(v)
        except ValueError:
            pass
        try:
            return _dt.datetime.fromisoformat(v).date()
        except ValueError:
            return None
    return None


def _lesion_id(raw):
    v = raw.get("id")
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str) and v.strip():
        return v.strip()
    return None


def _bool(raw, key, where, problems, default=False):
    v = raw.get(key, default)
    if v is None and default is None:
        return None
    if not isinstance(v, bool):
        problems.append(f"{where}: {key} must be true or false, got {v!r}")
        return default
    return v


def _size(value, where, what, problems, allow_zero=True):
    d = to_decimal(value)
    if d is None:
        problems.append(f"{where}: {what} must be a finite number, got {value!r}")
        return None
    if d < 0 or (d == 0 and not allow_zero):
        problems.append(f"{where}: {what} must be {'>= 0' if allow_zero else '> 0'}, got {fmt_mm(d)}")
        return None
    return d


def _unknown_keys(raw, allowed, where, problems):
    for k in sorted(set(raw) - allowed, key=str):
        problems.append(f"{where}: unknown field {k!r}")


# --- the parser -----------------------------------------------------------------------------
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


def _slice(raw, where, problems):
    v = raw.get("slice_thickness_mm")
    if v is None:
        return None
    return _size(v, where, "slice_thickness_mm", problems, allow_zero=False)


def _scan_dates(raw, where, problems):
    v = raw.get("scan_dates")
    if v is None:
        return ()
    if not isinstance(v, list) or not v:
        problems.append(f"{where}: scan_dates must be a non-empty list of ISO dates")
        return ()
    out = []
    for x in v:
        d = _parse_date(x)
        if d is None:
            problems.append(f"{where}: scan_dates entry {x!r} is not an ISO date")
        else:
            out.append(d)
    return tuple(sorted(out))


def _lesion_list(raw, key, where, problems):
    v = raw.get(key, [])
    if v is None:
        return []
    if not isinstance(v, list):
        problems.append(f"{where}: {key} must be a list")
        return []
    out = []
    seen = set()
    for i, item in enumerate(v):
        if not isinstance(item, dict):
            problems.append(f"{where}: {key}[{i}] must be an object")
            continue
        lid = _lesion_id(item)
        if lid is None:
            problems.append(f"{where}: {key}[{i}] has no id")
            continue
        if lid in seen:
            problems.append(f"{where}: lesion {lid} is listed twice")
            continue
        seen.add(lid)
        out.append((lid, item))
    return out


def _parse_baseline_lesions(raw, where, slice_mm, opts, problems):
    items = _lesion_list(raw, "lesions", where, problems)
    parsed = []
    vols = {}
    kinds_given = 0
    for lid, item in items:
        w = f"{where}: lesion {lid}"
        _unknown_keys(item, _LESION_KEYS, w, problems)
        kind = item.get("kind")
        if kind is not None:
            kinds_given += 1
            if kind not in LESION_KINDS:
                problems.append(f"{w}: kind must be 'target' or 'non-target', got {kind!r}")
        organ = item.get("organ")
        if not isinstance(organ, str) or not organ.strip():
            problems.append(f"{w}: organ must be a non-empty string")
            organ = "?"
        nodal = _bool(item, "nodal", w, problems)
        for bad in ("measurement", "fragments_mm", "coalesced_into", "coalesced_with"):
            if item.get(bad) is not None:
                problems.append(f"{w}: {bad} is not allowed at baseline (give size_mm)")
        st = item.get("status")
        if st is not None and st != PRESENT:
            problems.append(f"{w}: a baseline lesion is 'present' by definition, got status {st!r}")
        size = None
        if item.get("size_mm") is not None:
            size = _size(item["size_mm"], w, "size_mm", problems, allow_zero=False)
        if item.get("volume_mm3") is not None:
            v = _size(item["volume_mm3"], w, "volume_mm3", problems, allow_zero=False)
            if v is not None:
                vols[lid] = v
        parsed.append((lid, kind, organ.strip(), bool(nodal), size))

    if kinds_given and kinds_given != len(parsed):
        missing = [p[0] for p in parsed if p[1] is None]
        problems.append(f"{where}: lesions {', '.join(missing)} have no kind; give kind for every baseline lesion "
                        "or for none (then targets are selected automatically, RECIST 1.1 §1.2)")
    auto = kinds_given == 0 and parsed
    chosen = set()
    if auto:
        cands = [(lid, organ_key(organ, nodal), size) for lid, _, organ, nodal, size in parsed
                 if is_measurable(size, nodal, slice_mm)]
        chosen = set(select_targets(cands, max_total=opts.max_targets, max_per_organ=opts.max_targets_per_organ,
                                    rule=opts.target_selection))
    out = {}
    per_organ = {}
    for lid, kind, organ, nodal, size in parsed:
        w = f"{where}: lesion {lid}"
        if auto:
            kind = TARGET if lid in chosen else NON_TARGET
        ok = organ_key(organ, nodal)
        if kind == TARGET:
            if size is None:
                problems.append(f"{w}: a target lesion needs size_mm at baseline")
            elif not is_measurable(size, nodal, slice_mm):
                what = "short axis" if nodal else "longest diameter"
                problems.append(f"{w}: target {what} {fmt_mm(size)} mm is below the measurable minimum of "
                                f"{fmt_mm(min_measurable_mm(nodal, slice_mm))} mm (RECIST 1.1 §1.1)")
            per_organ.setdefault(ok, []).append(lid)
        elif kind == NON_TARGET and nodal and size is not None and size < 10:
            problems.append(f"{w}: node with short axis {fmt_mm(size)} mm (< 10 mm) is not pathological and "
                            "should not be recorded (RECIST 1.1 §1.1)")
        if kind in LESION_KINDS:
            out[lid] = BaselineLesion(lid, kind, organ, ok, nodal, size, "auto" if auto else "reader")
    n_targets = sum(len(v) for v in per_organ.values())
    if n_targets > opts.max_targets:
        problems.append(f"{where}: {n_targets} target lesions, at most {opts.max_targets} allowed (RECIST 1.1 §1.2)")
    for ok, lids in sorted(per_organ.items()):
        if len(lids) > opts.max_targets_per_organ:
            problems.append(f"{where}: {len(lids)} target lesions in organ '{ok}' ({', '.join(sorted(lids))}), at most "
                            f"{opts.max_targets_per_organ} per organ allowed (RECIST 1.1 §1.2)")
    mode = f"auto:{opts.target_selection}" if auto else "reader"
    return out, mode, vols


def _check_identity(item, base, w, problems):
    k = item.get("kind")
    if k is not None and k != base.kind:
        problems.append(f"{w}: kind {k!r} differs from the baseline ({base.kind})")
    o = item.get("organ")
    if o is not None and (not isinstance(o, str) or o.strip() != base.organ):
        problems.append(f"{w}: organ {o!r} differs from the baseline ({base.organ!r})")
    n = item.get("nodal")
    if n is not None and n is not base.nodal:
        problems.append(f"{w}: nodal {n!r} differs from the baseline ({base.nodal})")


def _target_observation(lid, item, w, opts, problems, all_items):
    """Effective size of a target lesion at a follow-up (§1.3)."""
    size_raw = item.get("size_mm")
    meas = item.get("measurement")
    frags = item.get("fragments_mm")
    into = item.get("coalesced_into")
    with_ = item.get("coalesced_with")
    if item.get("status") is not None:
        problems.append(f"{w}: status applies to non-target lesions; use size_mm or measurement for a target")
    size = _size(size_raw, w, "size_mm", problems) if size_raw is not None else None
    if meas is not None and meas not in MEASUREMENTS:
        problems.append(f"{w}: measurement must be one of {', '.join(MEASUREMENTS)}, got {meas!r}")
        return None
    coalesced_with = ()
    if with_ is not None:
        if not isinstance(with_, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in with_):
            problems.append(f"{w}: coalesced_with must be a list of lesion ids")
        else:
            coalesced_with = tuple(sorted(str(x) for x in with_))
            for x in coalesced_with:
                if x not in all_items:
                    problems.append(f"{w}: coalesced_with names {x}, which is not a target lesion at this timepoint")
    vol = None
    if item.get("volume_mm3") is not None:
        vol = _size(item["volume_mm3"], w, "volume_mm3", problems)
    if into is not None:
        into = str(into)
        if into not in all_items or into == lid:
            problems.append(f"{w}: coalesced_into names {into}, which is not another target lesion at this timepoint")
        if size is not None and size != 0:
            problems.append(f"{w}: a lesion coalesced into {into} is recorded as 0 mm, got size_mm {fmt_mm(size)}")
        if meas not in (None, MEASURED, DISAPPEARED) or frags is not None:
            problems.append(f"{w}: coalesced_into cannot be combined with measurement {meas!r} or fragments_mm")
        return LesionObservation(lid, ZERO, COALESCED, coalesced_into=into, volume_mm3=vol)
    if frags is not None:
        if not isinstance(frags, list) or not frags:
            problems.append(f"{w}: fragments_mm must be a non-empty list of sizes")
            return None
        vals = [_size(x, w, "fragments_mm entry", problems) for x in frags]
        if any(v is None for v in vals):
            return None
        total = sum(vals, ZERO)
        if size is not None and size != total:
            problems.append(f"{w}: size_mm {fmt_mm(size)} differs from the sum of fragments_mm ({fmt_mm(total)})")
        if meas not in (None, MEASURED):
            problems.append(f"{w}: fragments_mm cannot be combined with measurement {meas!r}")
        return LesionObservation(lid, total, FRAGMENTS, fragments_mm=tuple(vals), coalesced_with=coalesced_with,
                                 volume_mm3=vol)
    if meas is None or meas == MEASURED:
        if size is None:
            if size_raw is None:
                problems.append(f"{w} has neither size_mm nor a measurement status")
            return None
        return LesionObservation(lid, size, MEASURED, coalesced_with=coalesced_with, volume_mm3=vol)
    if size is not None and not (meas == DISAPPEARED and size == 0):
        problems.append(f"{w}: give either size_mm or measurement {meas!r}, not both")
    if meas == DISAPPEARED:
        return LesionObservation(lid, ZERO, DISAPPEARED, volume_mm3=vol)
    if meas == TOO_SMALL:
        return LesionObservation(lid, opts.too_small_default_mm, TOO_SMALL, volume_mm3=vol)
    return LesionObservation(lid, None, NOT_ASSESSED, volume_mm3=vol)


def _parse_pre_baseline_lesions(raw, where, base_lesions, opts, problems):
    """Pre-baseline scan (§3.1): the baseline targets measured on the earlier scan."""
    items = _lesion_list(raw, "lesions", where, problems)
    ids = {lid for lid, _ in items}
    out = {}
    for lid, item in items:
        w = f"{where}: lesion {lid}"
        _unknown_keys(item, _LESION_KEYS, w, problems)
        base = base_lesions.get(lid)
        if base is None:
            problems.append(f"{w} is not a baseline lesion (the pre-baseline scan records the baseline lesions)")
            continue
        _check_identity(item, base, w, problems)
        if base.kind == TARGET:
            obs = _target_observation(lid, item, w, opts, problems, ids)
            if obs is not None:
                out[lid] = obs
    return out


def _parse_follow_up_lesions(raw, where, base_lesions, not_evaluable, opts, nt_progressed, problems):
    items = _lesion_list(raw, "lesions", where, problems)
    target_here = {lid for lid, _ in items if lid in base_lesions and base_lesions[lid].kind == TARGET}
    out = {}
    for lid, item in items:
        w = f"{where}: lesion {lid}"
        _unknown_keys(item, _LESION_KEYS, w, problems)
        base = base_lesions.get(lid)
        if base is None:
            problems.append(f"{w} was not recorded at baseline; record a lesion first seen after baseline under new_lesions")
            continue
        _check_identity(item, base, w, problems)
        if base.kind == TARGET:
            obs = _target_observation(lid, item, w, opts, problems, target_here)
        else:
            obs = _non_target_observation(lid, item, w, nt_progressed, problems)
        if obs is not None:
            out[lid] = obs
    if not not_evaluable:
        for lid in sorted(set(base_lesions) - {lid for lid, _ in items}):
            bl = base_lesions[lid]
            hint = "measurement 'not-assessed'" if bl.kind == TARGET else "status 'not-evaluated'"
            problems.append(f"{where}: {bl.kind} lesion {lid} is missing (record it with {hint} if it was not assessed)")
    return out


_NT_FROM_MEASUREMENT = {DISAPPEARED: ABSENT, TOO_SMALL: PRESENT, NOT_ASSESSED: NOT_EVALUATED, MEASURED: PRESENT}


def _non_target_observation(lid, item, w, nt_progressed, problems):
    """Non-target reading (§1.5).  Without a status, a measurement record is read qualitatively
    (size > 0 or too small -> present, 0 or disappeared -> absent, not assessed -> not evaluated),
    so a lesion that automatic target selection made non-target can keep its measurements."""
    for bad in ("fragments_mm", "coalesced_into", "coalesced_with"):
        if item.get(bad) is not None:
            problems.append(f"{w}: {bad} applies to target lesions; a non-target lesion takes a status")
    st = item.get("status")
    meas = item.get("measurement")
    size = _size(item["size_mm"], w, "size_mm", problems) if item.get("size_mm") is not None else None
    if meas is not None and meas not in _NT_FROM_MEASUREMENT:
        problems.append(f"{w}: measurement must be one of {', '.join(MEASUREMENTS)}, got {meas!r}")
        return None
    if st is None and meas is not None:
        st = _NT_FROM_MEASUREMENT[meas]
    if st is None and size is not None:
        st = PRESENT if size > 0 else ABSENT
    if st is None:
        problems.append(f"{w}: non-target lesion has no status (one of {', '.join(NT_STATUSES)})")
        return None
    if st not in NT_STATUSES:
        problems.append(f"{w}: status must be one of {', '.join(NT_STATUSES)}, got {st!r}")
        return None
    prev = nt_progressed.get(lid, False)
    if st == NO_CHANGE and not prev:
        problems.append(f"{w}: status {NO_CHANGE!r} is for non-target disease already in unequivocal progression; "
                        f"use 'present'")
    if st == UNEQUIVOCAL:
        nt_progressed[lid] = True
    elif st in (PRESENT, ABSENT):
        nt_progressed[lid] = False
    return LesionObservation(lid, size, PRESENT if st != ABSENT else ABSENT, status=st)


def _parse_new_lesions(raw, where, base_lesions, not_evaluable, slice_mm, opts, nl_state, problems):
    items = _lesion_list(raw, "new_lesions", where, problems)
    out = {}
    for lid, item in items:
        w = f"{where}: new lesion {lid}"
        _unknown_keys(item, _NEW_KEYS, w, problems)
        if lid in base_lesions:
            problems.append(f"{w} has the id of a baseline lesion; new lesions need their own ids")
            continue
        st = nl_state.get(lid)
        organ = item.get("organ")
        nodal = item.get("nodal")
        if st is None:
            if not isinstance(organ, str) or not organ.strip():
                problems.append(f"{w}: organ must be a non-empty string")
                organ = "?"
            if nodal is None:
                nodal = False
        else:
            if organ is not None and (not isinstance(organ, str) or organ.strip() != st["organ"]):
                problems.append(f"{w}: organ {organ!r} differs from its first record ({st['organ']!r})")
            if nodal is not None and nodal is not st["nodal"]:
                problems.append(f"{w}: nodal {nodal!r} differs from its first record ({st['nodal']})")
            organ, nodal = st["organ"], st["nodal"]
        if not isinstance(nodal, bool):
            problems.append(f"{w}: nodal must be true or false")
            nodal = False
        organ = organ.strip()
        equivocal = item.get("equivocal", False)
        if not isinstance(equivocal, bool):
            problems.append(f"{w}: equivocal must be true or false")
            equivocal = False
        meas = item.get("measurement")
        status = item.get("status")
        size = _size(item["size_mm"], w, "size_mm", problems) if item.get("size_mm") is not None else None
        if meas is not None and meas not in MEASUREMENTS:
            problems.append(f"{w}: measurement must be one of {', '.join(MEASUREMENTS)}, got {meas!r}")
            meas = None
        if status is not None and status not in NT_STATUSES:
            problems.append(f"{w}: status must be one of {', '.join(NT_STATUSES)}, got {status!r}")
            status = None
        if meas in (DISAPPEARED, TOO_SMALL, NOT_ASSESSED) and size is not None and not (meas == DISAPPEARED and size == 0):
            problems.append(f"{w}: give either size_mm or measurement {meas!r}, not both")
        if meas == MEASURED and size is None:
            problems.append(f"{w} has measurement 'measured' but no size_mm")
        if meas == DISAPPEARED:
            size = ZERO
        elif meas == TOO_SMALL:
            size = opts.too_small_default_mm
        elif meas == NOT_ASSESSED:
            size = None
        m = meas or (MEASURED if size is not None else UNMEASURED)
        obs = NewLesionObservation(lid, organ, organ_key(organ, nodal), nodal, size, m, equivocal, status)
        if st is None:
            if obs.present is not True:
                problems.append(f"{w}: first record of a new lesion must show it present")
            if not equivocal and nodal and size is not None and size < 10:
                problems.append(f"{w}: node with short axis {fmt_mm(size)} mm (< 10 mm) is not pathological and is "
                                "not a new lesion (RECIST 1.1 §1.6)")
            nl_state[lid] = {"organ": organ, "nodal": nodal, "equivocal": equivocal, "first": where[len("timepoint "):]}
        else:
            if equivocal and not st["equivocal"]:
                problems.append(f"{w} is marked equivocal but was already unequivocal earlier")
            if not equivocal:
                st["equivocal"] = False
            if status is None and m == UNMEASURED and st.get("measurable"):
                problems.append(f"{w} has neither size_mm nor a measurement status")
        if not equivocal and "measurable" not in nl_state[lid]:
            nl_state[lid]["measurable"] = is_measurable(size, nodal, slice_mm)
        out[lid] = obs
    if not not_evaluable:
        for lid in sorted(set(nl_state) - set(out)):
            problems.append(f"{where}: new lesion {lid} (first recorded at {nl_state[lid]['first']}) is missing; "
                            "record it with measurement 'disappeared' or 'not-assessed'")
    return out


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


def _input_hash(inp):
    """SHA-256 of a canonical, order-independent rendering of the validated input (STYLE.md)."""

    def d(x):
        return None if x is None else str(x)

    def tp(t):
        return [t.label, t.date.isoformat(), t.kind, t.unscheduled, t.symptom_driven, t.not_evaluable,
                t.clinically_stable, [s.isoformat() for s in t.scan_dates], d(t.slice_thickness_mm),
                t.tumour_markers_above_normal,
                [[o.lesion_id, d(o.size_mm), o.measurement, o.status, [d(f) for f in o.fragments_mm], o.coalesced_into,
                  list(o.coalesced_with), d(o.volume_mm3)] for _, o in sorted(t.lesions.items())],
                [[n.lesion_id, n.organ, n.nodal, d(n.size_mm), n.measurement, n.equivocal, n.status]
                 for _, n in sorted(t.new_lesions.items())]]

    c = inp.clinical
    canon = {
        "treatment_start": inp.treatment_start.isoformat(),
        "baseline_lesions": [[b.lesion_id, b.kind, b.organ, b.nodal, d(b.size_mm)] for _, b in sorted(inp.baseline_lesions.items())],
        "timepoints": [tp(t) for t in (*inp.pre_baseline, inp.baseline, *inp.follow_ups)],
        "clinical": [d(c.ttf_days), d(c.treatment_end), c.ecog_baseline, c.ecog_worst_first_2_months, d(c.death_date)],
        "prior_line": None if inp.prior_line is None else [inp.prior_line.regimen, d(inp.prior_line.start), d(inp.prior_line.end)],
        "options": inp.options.to_dict(),
    }
    return hashlib.sha256(json.dumps(canon, separators=(",", ":"), default=str).encode()).hexdigest()
