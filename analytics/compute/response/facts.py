"""Per-timepoint facts shared by RECIST 1.1 and iRECIST.

One chronological pass computes, for every follow-up: the target sum (exact Decimal) and
whether it is complete, the running nadir (§0.4), the raw RECIST target and non-target
categories (§1.4-1.5), the state of every non-target lesion, and the new-lesion registry
with its NLT / NLNT classes, NLT sums and NLT nadir (§2.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .arith import TEN, ZERO, fmt_mm, fmt_pct, fmt_signed_mm, is_pd_vs_nadir, is_pr_vs_baseline, pct_change
from .model import INCREASED, NO_CHANGE, NOT_EVALUATED, PRESENT, UNEQUIVOCAL
from .selection import is_measurable, select_targets

CR, PR, SD, PD, NE, NA = "CR", "PR", "SD", "PD", "NE", "NA"
NON_CR_NON_PD = "NON-CR/NON-PD"


@dataclass(slots=True)
class TimepointFacts:
    tp: object
    # targets
    sizes: dict = field(default_factory=dict)
    measured_sum: object = ZERO
    complete: bool = True
    sum_mm: object = None
    missing_targets: tuple = ()
    pct_change_from_baseline: object = None
    nadir_prior_mm: object = None
    nadir_prior_label: str = None
    abs_change_from_nadir_mm: object = None
    pct_change_from_nadir: object = None
    target_category: str = NA
    target_notes: list = field(default_factory=list)
    # non-targets
    nt_unequivocal: bool = False
    nt_increase: bool = False
    nt_progressed: bool = False
    nt_ne: bool = False
    nt_all_gone: bool = False
    non_target_category: str = NA
    nt_notes: list = field(default_factory=list)
    # new lesions
    new_now: tuple = ()
    equivocal_ids: tuple = ()
    backdate_from: dict = field(default_factory=dict)  # id -> (label, date) first (equivocal) sighting
    present_new: tuple = ()
    unknown_new: tuple = ()
    nlt_ids: tuple = ()
    nlnt_ids: tuple = ()
    nlt_sizes: dict = field(default_factory=dict)
    nlt_measured_sum: object = None
    nlt_sum: object = None
    nlt_nadir_prior_mm: object = None
    nlt_set_changed: bool = False
    nlnt_increase: tuple = ()
    nlnt_unequivocal: tuple = ()
    new_notes: list = field(default_factory=list)


def target_sum(lesions, target_ids):
    """Sum of diameters over ``target_ids`` (§1.3): (measured_sum, complete, sizes, missing)."""
    total = ZERO
    sizes = {}
    missing = []
    for lid in target_ids:
        obs = lesions.get(lid)
        s = None if obs is None else obs.size_mm
        sizes[lid] = s
        if s is None:
            missing.append(lid)
        else:
            total += s
    return total, not missing, sizes, tuple(missing)


def compute_facts(inp):
    """Chronological facts for every follow-up of ``inp`` (a :class:`~.model.ResponseInput`)."""
    opts = inp.options
    targets = inp.target_ids
    non_targets = inp.non_target_ids
    bl = inp.baseline_lesions
    B, _, _, _ = target_sum(inp.baseline.lesions, targets)
    nadir, nadir_label = (B, inp.baseline.label) if targets else (None, None)
    nt_state = {lid: False for lid in non_targets}
    registry = {}  # id -> "NLT" | "NLNT"
    first_seen = {}  # id -> (label, date)
    nlt_counts = {}
    nlt_ids = []
    nlnt_ids = []
    nlt_nadir = None
    out = []
    for tp in inp.follow_ups:
        f = TimepointFacts(tp=tp)
        # ---- targets (§1.3-1.4) -------------------------------------------------------------
        if targets:
            if tp.not_evaluable:
                f.sizes = {lid: None for lid in targets}
                f.measured_sum, f.complete, f.missing_targets = ZERO, False, targets
                f.target_category = NE
                f.target_notes.append("timepoint flagged not evaluable: target lesions NE")
            else:
                S, complete, sizes, missing = target_sum(tp.lesions, targets)
                f.sizes, f.measured_sum, f.complete, f.missing_targets = sizes, S, complete, missing
                f.sum_mm = S if complete else None
                f.nadir_prior_mm, f.nadir_prior_label = nadir, nadir_label
                f.abs_change_from_nadir_mm = S - nadir
                if complete:
                    f.pct_change_from_baseline = pct_change(S, B)
                    f.pct_change_from_nadir = pct_change(S, nadir)
                _target_category(f, S, B, nadir, nadir_label, complete, missing, bl)
                if complete and S < nadir:
                    nadir, nadir_label = S, tp.label
        # ---- non-targets (§1.5) -------------------------------------------------------------
        if non_targets:
            _non_target(f, tp, non_targets, bl, nt_state)
        # ---- new lesions (§1.6, §2.2) -------------------------------------------------------
        new_now = []
        equivocal = []
        for lid in sorted(tp.new_lesions):
            obs = tp.new_lesions[lid]
            if lid not in first_seen:
                first_seen[lid] = (tp.label, tp.assessment_date)
            if obs.equivocal:
                equivocal.append(lid)
            elif lid not in registry:
                new_now.append(lid)
        f.new_now = tuple(new_now)
        f.equivocal_ids = tuple(equivocal)
        for lid in new_now:
            if first_seen[lid][0] != tp.label:
                f.backdate_from[lid] = first_seen[lid]
        f.nlt_set_changed = False
        if new_now:
            cands = [(lid, tp.new_lesions[lid].organ_key, tp.new_lesions[lid].size_mm) for lid in new_now
                     if is_measurable(tp.new_lesions[lid].size_mm, tp.new_lesions[lid].nodal, tp.slice_thickness_mm)]
            chosen = select_targets(cands, max_total=opts.max_targets, max_per_organ=opts.max_targets_per_organ,
                                    rule=opts.target_selection, existing_counts=nlt_counts)
            for lid in new_now:
                if lid in chosen:
                    registry[lid] = "NLT"
                    nlt_ids.append(lid)
                    k = tp.new_lesions[lid].organ_key
                    nlt_counts[k] = nlt_counts.get(k, 0) + 1
                else:
                    registry[lid] = "NLNT"
                    nlnt_ids.append(lid)
            f.nlt_set_changed = bool(chosen)
        f.nlt_ids = tuple(sorted(nlt_ids))
        f.nlnt_ids = tuple(sorted(nlnt_ids))
        present, unknown = [], []
        for lid in sorted(registry):
            obs = tp.new_lesions.get(lid)
            p = None if obs is None else obs.present
            if p is True:
                present.append(lid)
            elif p is None:
                unknown.append(lid)
        f.present_new, f.unknown_new = tuple(present), tuple(unknown)
        if nlt_ids:
            tot, miss = ZERO, False
            for lid in f.nlt_ids:
                obs = tp.new_lesions.get(lid)
                s = None if obs is None else obs.size_mm
                f.nlt_sizes[lid] = s
                if s is None:
                    miss = True
                else:
                    tot += s
            f.nlt_measured_sum = tot
            f.nlt_sum = None if miss else tot
            f.nlt_nadir_prior_mm = None if f.nlt_set_changed else nlt_nadir
            if f.nlt_set_changed:
                nlt_nadir = f.nlt_sum
            elif f.nlt_sum is not None and (nlt_nadir is None or f.nlt_sum < nlt_nadir):
                nlt_nadir = f.nlt_sum
        f.nlnt_increase = tuple(lid for lid in f.nlnt_ids
                                if tp.new_lesions.get(lid) is not None and tp.new_lesions[lid].status in (INCREASED, UNEQUIVOCAL)
                                and lid not in new_now)
        f.nlnt_unequivocal = tuple(lid for lid in f.nlnt_ids
                                   if tp.new_lesions.get(lid) is not None and tp.new_lesions[lid].status == UNEQUIVOCAL
                                   and lid not in new_now)
        _new_notes(f, tp, registry)
        out.append(f)
    return out


def _target_category(f, S, B, N, n_label, complete, missing, bl):
    """RECIST 1.1 §1.4 target response, first match wins (PD, CR, PR, SD; NE if incomplete)."""
    d = S - N
    notes = f.target_notes
    what = "target sum" if complete else f"sum of the measured targets (missing: {', '.join(missing)})"
    pd_here = is_pd_vs_nadir(S, N)
    pct_n = pct_change(S, N)
    notes.append(f"{what} {fmt_mm(S)} mm vs nadir {fmt_mm(N)} mm ({n_label}): {fmt_signed_mm(d)} mm, {fmt_pct(pct_n)}"
                 + (" - PD needs >= +20 % and >= +5 mm" if not pd_here else ""))
    if pd_here:
        f.target_category = "PD"
        notes.append("target PD: >= 20 % and >= 5 mm above the nadir (RECIST 1.1 §1.4 rule 1)"
                     + ("; the measured lesions alone already meet PD" if not complete else ""))
        return
    if not complete:
        f.target_category = NE
        notes.append(f"target NE: {', '.join(missing)} not assessed and the measured lesions do not meet PD (§1.4 rule 5)")
        return
    cr = True
    for lid, s in f.sizes.items():
        if bl[lid].nodal:
            if s >= TEN:
                cr = False
                break
        elif s != 0:
            cr = False
            break
    notes.append(f"target sum {fmt_mm(S)} mm vs baseline {fmt_mm(B)} mm: {fmt_pct(f.pct_change_from_baseline)}")
    if cr:
        f.target_category = CR
        notes.append("target CR: every non-nodal target is 0 mm and every nodal target < 10 mm (§1.4 rule 2)")
    elif is_pr_vs_baseline(S, B):
        f.target_category = PR
        notes.append("target PR: >= 30 % below the baseline sum (§1.4 rule 3)")
    else:
        f.target_category = SD
        notes.append("target SD: neither PR vs baseline nor PD vs nadir (§1.4 rule 4)")


def _non_target(f, tp, non_targets, bl, nt_state):
    """Non-target disease (§1.5) and the per-lesion progression state used by iRECIST (§2.5)."""
    notes = f.nt_notes
    if tp.not_evaluable:
        f.nt_ne = True
        f.non_target_category = NE
        notes.append("timepoint flagged not evaluable: non-target lesions NE")
        return
    progressed, increased, unequivocal, ne, not_gone = [], [], [], [], []
    for lid in non_targets:
        obs = tp.lesions.get(lid)
        st = NOT_EVALUATED if obs is None else obs.status
        if st == NOT_EVALUATED:
            ne.append(lid)
            continue
        if st == UNEQUIVOCAL:
            nt_state[lid] = True
            unequivocal.append(lid)
        elif st in (INCREASED, NO_CHANGE):
            if st == INCREASED:
                increased.append(lid)
            if not nt_state[lid]:
                not_gone.append(lid)
        else:
            nt_state[lid] = False
            if st == PRESENT:
                normal_node = bl[lid].nodal and obs.size_mm is not None and obs.size_mm < TEN
                if not normal_node:
                    not_gone.append(lid)
        if nt_state[lid]:
            progressed.append(lid)
    f.nt_unequivocal = bool(unequivocal)
    f.nt_increase = bool(increased)
    f.nt_progressed = bool(progressed)
    f.nt_ne = bool(ne)
    f.nt_all_gone = not not_gone and not progressed and not ne
    if progressed:
        f.non_target_category = PD
        notes.append(f"non-target PD: unequivocal progression of {', '.join(progressed)} (§1.5)")
    elif ne:
        f.non_target_category = NE
        notes.append(f"non-target not all evaluated: {', '.join(ne)} not evaluated (§1.5)")
    elif not_gone or tp.tumour_markers_above_normal:
        f.non_target_category = NON_CR_NON_PD
        why = f"{', '.join(not_gone)} persisting" if not_gone else "tumour markers above normal"
        notes.append(f"non-target non-CR/non-PD: {why} (§1.5)")
    else:
        f.non_target_category = CR
        notes.append("non-target CR: every non-target lesion absent and every node < 10 mm (§1.5)")
    if increased:
        notes.append(f"increase from last assessment recorded for {', '.join(increased)} (used by iRECIST §2.5)")


def _new_notes(f, tp, registry):
    notes = f.new_notes
    for lid in f.new_now:
        o = tp.new_lesions[lid]
        size = f"{fmt_mm(o.size_mm)} mm" if o.size_mm is not None else "not measured"
        extra = ""
        if lid in f.backdate_from:
            extra = f"; first seen as equivocal at {f.backdate_from[lid][0]}"
        notes.append(f"unequivocal new lesion {lid} ({o.organ}{', node' if o.nodal else ''}, {size}) classed "
                     f"{registry[lid]}{extra} (§1.6, §2.2)")
    for lid in f.equivocal_ids:
        notes.append(f"equivocal new lesion {lid}: not PD unless confirmed later, then PD dates from its first scan (§1.6)")
    if not f.new_now and f.present_new:
        notes.append(f"new lesions still present: {', '.join(f.present_new)}")
