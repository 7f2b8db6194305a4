"""The lesions of a response document: baseline (with automatic target selection), pre-baseline, follow-ups
(targets §1.3, non-targets §1.5) and new lesions (§1.6, §2.2).
"""

from __future__ import annotations

from .arith import ZERO, fmt_mm
from .document_fields import _LESION_KEYS, _NEW_KEYS, _bool, _lesion_list, _size, _unknown_keys
from .model import (
    ABSENT,
    COALESCED,
    DISAPPEARED,
    FRAGMENTS,
    LESION_KINDS,
    MEASURED,
    MEASUREMENTS,
    NO_CHANGE,
    NON_TARGET,
    NOT_ASSESSED,
    NOT_EVALUATED,
    NT_STATUSES,
    PRESENT,
    TARGET,
    TOO_SMALL,
    UNEQUIVOCAL,
    UNMEASURED,
    BaselineLesion,
    LesionObservation,
    NewLesionObservation,
)
from .selection import is_measurable, min_measurable_mm, organ_key, select_targets


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
