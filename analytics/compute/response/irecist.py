"""iRECIST time-point response, iBOR and iPFS (RESPONSE_RULES.md §2, deterministic procedure §2.8)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .arith import FIVE, ZERO, fmt_mm, fmt_signed_mm, is_pd_vs_nadir
from .facts import CR, NE, NON_CR_NON_PD, PD, PR, SD
from .recist import best_overall_response, disease_returned, find_confirmation, overall_response

ICR, IPR, ISD, IUPD, ICPD = "iCR", "iPR", "iSD", "iUPD", "iCPD"
NON_ICR_NON_IUPD = "NON-iCR/NON-iUPD"
I_OF = {CR: ICR, PR: IPR, SD: ISD, NON_CR_NON_PD: NON_ICR_NON_IUPD, NE: NE}
R_OF = {v: k for k, v in I_OF.items()}

T, NT, NL = "target", "non-target", "new-lesion"


@dataclass(slots=True)
class IupdBlock:
    """One iUPD episode (§2.3-2.6): opened by RECIST PD, closed by iCPD or a reset (or still open)."""

    opened_index: int
    opened_label: str
    opened_date: object
    event_date: object  # first iUPD date of the block, backdated for an equivocal new lesion (§1.6)
    triggers: tuple
    trigger_text: str
    t_ref_sum: object = None
    t_ref_ids: tuple = ()
    nlt_ref_sum: object = None
    nlt_ref_ids: tuple = ()
    outcome: str = "open"  # open | confirmed | reset
    closed_index: int = None
    closed_label: str = None
    closed_tpr: str = None
    confirm_reasons: tuple = ()
    unstable_labels: list = field(default_factory=list)
    window_deviations: list = field(default_factory=list)
    confirmation_attempted: bool = False  # an evaluable assessment >= 4 weeks after the iUPD happened


def run_irecist(inp, facts):
    """Run the §2.8 state machine over the follow-ups.

    Returns
    -------
    (per-timepoint list of dicts, list of IupdBlock)
    """
    opts = inp.options
    has_targets = bool(inp.target_ids)
    min_ok = opts.icpd_min_days - opts.icpd_tolerance_days
    block = None
    blocks = []
    icpd_at = None
    persist_active = False
    prev_eval = None
    prev_sum = None
    if has_targets:
        prev_sum = sum((inp.baseline.lesions[l].size_mm for l in inp.target_ids), ZERO)
    seq = []
    out = []
    for idx, f in enumerate(facts):
        tp = f.tp
        notes = []
        r = {"irecist_tpr": None, "irecist_triggers": [], "days_since_iupd": None, "iupd_window_deviation": None,
             "notes": notes}
        out.append(r)
        if icpd_at is not None:
            notes.append(f"iRECIST assessment ended: iCPD confirmed at {icpd_at} (§2.8, iCPD is terminal)")
            continue
        tcat = f.target_category
        ntcat = f.non_target_category
        if block is None:
            if tcat == SD and persist_active:
                tcat = PR
                notes.append("iSD-level target sum kept as iPR (PR persistence, §1.8)")
            trig, text = [], []
            if tcat == PD:
                trig.append(T)
                text.append("target sum meets RECIST 1.1 PD vs the nadir")
            if f.nt_progressed:
                trig.append(NT)
                text.append("unequivocal non-target progression")
            nl = []
            if f.new_now:
                nl.append(f"new lesion(s) {', '.join(f.new_now)}")
            if (f.nlt_nadir_prior_mm is not None and f.nlt_measured_sum is not None
                    and is_pd_vs_nadir(f.nlt_measured_sum, f.nlt_nadir_prior_mm)):
                nl.append(f"NLT sum {fmt_mm(f.nlt_measured_sum)} mm meets RECIST PD vs NLT nadir "
                          f"{fmt_mm(f.nlt_nadir_prior_mm)} mm")
            if f.nlnt_unequivocal:
                nl.append(f"unequivocal progression of NLNT {', '.join(f.nlnt_unequivocal)}")
            if nl:
                trig.append(NL)
                text.extend(nl)
            if (opts.cr_followed_by_disease == "pd-after-true-cr" and prev_eval == ICR and not trig
                    and disease_returned(tcat, ntcat)):
                trig.append(T if tcat in (PR, SD) else NT)
                text.append("disease seen again after iCR (option pd-after-true-cr)")
            if trig:
                event = tp.assessment_date
                if NL in trig:
                    for lid in f.new_now:
                        if lid in f.backdate_from and f.backdate_from[lid][1] < event:
                            event = f.backdate_from[lid][1]
                block = IupdBlock(idx, tp.label, tp.date, event, tuple(trig), "; ".join(text))
                if has_targets:
                    ids = tuple(l for l in inp.target_ids if f.sizes.get(l) is not None)
                    block.t_ref_ids = ids
                    block.t_ref_sum = sum((f.sizes[l] for l in ids), ZERO)
                if f.nlt_ids:
                    ids = tuple(l for l in f.nlt_ids if f.nlt_sizes.get(l) is not None)
                    block.nlt_ref_ids = ids
                    block.nlt_ref_sum = sum((f.nlt_sizes[l] for l in ids), ZERO)
                blocks.append(block)
                r["irecist_tpr"] = IUPD
                r["irecist_triggers"] = list(trig)
                r["days_since_iupd"] = 0
                kind = ("new iUPD after the reset of the iUPD at " + blocks[-2].opened_label + " (§2.6)"
                        if len(blocks) > 1 else "first RECIST 1.1 progression, §2.3")
                notes.append(f"iUPD ({kind}): {block.trigger_text}")
                if block.event_date != tp.assessment_date:
                    notes.append(f"iUPD dates from {block.event_date.isoformat()}, the first scan showing the "
                                 "(then equivocal) new lesion (§1.6)")
                if tp.clinically_stable is False:
                    block.unstable_labels.append(tp.label)
                    notes.append("patient not clinically stable: treatment may stop without confirmation (§2.4)")
            else:
                tpr, rule = overall_response(tcat, ntcat, False, has_targets)
                if tpr == CR and (f.present_new or f.unknown_new):
                    tpr = PR
                    rule += "; iCR downgraded to iPR while new lesions are still present (§2.8)"
                r["irecist_tpr"] = I_OF[tpr]
                notes.append(f"no iUPD open, iRECIST Table 2 rows 1-4 (RECIST {rule})")
        else:
            days = (tp.date - block.opened_date).days
            r["days_since_iupd"] = days
            if days < min_ok:
                r["iupd_window_deviation"] = "early"
            elif days > opts.icpd_max_days and not block.confirmation_attempted:
                r["iupd_window_deviation"] = "late"
            if r["iupd_window_deviation"]:
                block.window_deviations.append((tp.label, r["iupd_window_deviation"], days))
            eligible = days >= min_ok or (tp.symptom_driven and bool(f.new_now))
            reasons = []
            trig = block.triggers
            if T in trig and block.t_ref_ids:
                now = [f.sizes.get(l) for l in block.t_ref_ids]
                if all(s is not None for s in now):
                    g = sum(now, ZERO) - block.t_ref_sum
                    if g >= FIVE:
                        reasons.append(f"target sum {fmt_signed_mm(g)} mm vs {fmt_mm(block.t_ref_sum)} mm at the iUPD "
                                       f"({block.opened_label}) >= 5 mm (§2.5.1)")
            if NT in trig and (f.nt_increase or f.nt_unequivocal):
                reasons.append("further increase of non-target disease after a non-target iUPD (§2.5.2)")
            if block.nlt_ref_ids:
                now = [f.nlt_sizes.get(l) for l in block.nlt_ref_ids]
                if all(s is not None for s in now):
                    g = sum(now, ZERO) - block.nlt_ref_sum
                    if g >= FIVE:
                        reasons.append(f"NLT sum {fmt_signed_mm(g)} mm vs {fmt_mm(block.nlt_ref_sum)} mm at the iUPD "
                                       "(>= 5 mm, §2.5.3)")
            if f.nlnt_increase:
                reasons.append(f"increase of NLNT {', '.join(f.nlnt_increase)} (§2.5.3)")
            if f.new_now:
                reasons.append(f"additional new lesion(s) {', '.join(f.new_now)} (§2.5.3)")
            if T not in trig and tcat == PD:
                reasons.append("target sum now meets RECIST 1.1 PD vs the nadir (§2.5.4)")
            if NT not in trig and f.nt_unequivocal:
                reasons.append("unequivocal non-target progression (§2.5.4)")
            if tp.clinically_stable is False:
                block.unstable_labels.append(tp.label)
                notes.append("patient not clinically stable (§2.4)")
            if reasons and eligible:
                r["irecist_tpr"] = ICPD
                block.outcome, block.closed_index, block.closed_label, block.closed_tpr = "confirmed", idx, tp.label, ICPD
                block.confirm_reasons = tuple(reasons)
                icpd_at = tp.label
                early = " (symptom-driven scan showing an additional new lesion, §2.4 exception)" if days < min_ok else ""
                notes.append(f"iCPD: iUPD of {block.opened_label} confirmed {days} days later{early}: " + "; ".join(reasons))
            elif reasons:
                r["irecist_tpr"] = IUPD
                notes.append(f"stays iUPD: scan only {days} days after the iUPD (< {min_ok}); it cannot confirm iCPD "
                             f"(§2.4) although: " + "; ".join(reasons))
            elif tcat == PD or f.nt_progressed:
                r["irecist_tpr"] = IUPD
                why = "target sum still meets PD vs the nadir" if tcat == PD else "non-target disease still in progression (e.g. NCLA)"
                notes.append(f"stays iUPD ({days} days since iUPD): {why}, no iCPD criterion met (§2.6)")
            elif tp.not_evaluable or tcat == NE or ntcat == NE:
                r["irecist_tpr"] = NE
                notes.append(f"NE: incomplete assessment {days} days after the iUPD; no iCPD criterion met with the "
                             "lesions assessed (§2.4 late confirmation allowed)")
            else:
                reset = None
                if not f.present_new and not f.unknown_new:
                    reset = "iUPD findings resolved" + (" and every new lesion resolved (§2.6 rule a)" if NL in trig else "")
                elif (has_targets and tcat in (PR, CR) and f.sum_mm is not None and prev_sum is not None
                      and f.sum_mm < prev_sum):
                    reset = (f"target sum decreased ({fmt_mm(prev_sum)} -> {fmt_mm(f.sum_mm)} mm) into the "
                             f"{'iPR' if tcat == PR else 'iCR'} range with new lesions still present (§2.6 rule b, FAQ scenario B)")
                if reset:
                    tpr, rule = overall_response(tcat, ntcat, False, has_targets)
                    if tpr == CR and (f.present_new or f.unknown_new):
                        tpr = PR
                    r["irecist_tpr"] = I_OF[tpr]
                    block.outcome, block.closed_index, block.closed_label, block.closed_tpr = "reset", idx, tp.label, I_OF[tpr]
                    notes.append(f"iUPD of {block.opened_label} not confirmed, bar reset ({days} days later): {reset}; "
                                 f"{I_OF[tpr]} by {rule}")
                    block = None
                elif f.unknown_new and not f.present_new:
                    r["irecist_tpr"] = NE
                    notes.append("NE: presence of previously identified new lesions not assessed")
                else:
                    r["irecist_tpr"] = IUPD
                    notes.append(f"stays iUPD ({days} days since iUPD): new lesions {', '.join(f.present_new)} persist "
                                 "unchanged and the target sum did not fall into the iPR/iCR range (§2.6)")
        itpr = r["irecist_tpr"]
        if block is not None and r["days_since_iupd"] and r["days_since_iupd"] >= min_ok and itpr != NE:
            block.confirmation_attempted = True
        if f.sum_mm is not None:
            prev_sum = f.sum_mm
        seq.append((tp.day, R_OF.get(itpr, itpr)))
        if itpr not in (NE, None):
            prev_eval = itpr
        if itpr in (IUPD, ICPD):
            persist_active = False
        elif opts.keep_pr_after_confirmed_pr and block is None and itpr in (ICR, IPR) and not persist_active:
            if not opts.confirmation_required:
                persist_active = True
            else:
                k = len(seq) - 1
                persist_active = any(seq[i][1] in (CR, PR) and
                                     find_confirmation(seq[: k + 1], i, (CR, PR), opts.confirmation_min_days) == k
                                     for i in range(k))
    return out, blocks


def best_overall_irecist(inp, facts, ires):
    """iBOR (§2.9): iCR > iPR > iSD > non-iCR/non-iUPD, else iCPD if confirmed, else iUPD, else NE."""
    tprs = []
    for r in ires:
        t = r["irecist_tpr"]
        if t is None:
            break
        tprs.append(R_OF.get(t, t))
        if t == ICPD:
            break

    def fallback(expl, details):
        if ICPD in tprs:
            i = tprs.index(ICPD)
            expl.append(f"no qualifying iCR/iPR/iSD; iCPD confirmed at {facts[i].tp.label}")
            details["decided_at"] = facts[i].tp.label
            return ICPD, expl, details
        if IUPD in tprs:
            i = tprs.index(IUPD)
            expl.append(f"no qualifying iCR/iPR/iSD; iUPD at {facts[i].tp.label} never confirmed")
            details["decided_at"] = facts[i].tp.label
            return IUPD, expl, details
        expl.append("no qualifying response and no progression -> NE")
        return NE, expl, details

    return best_overall_response(inp, facts, tprs, vocab=I_OF, fallback=fallback)


def progression_free_survival(inp, facts, *, event_date, event_label, event_kind, last_adequate, explanation):
    """Assemble a PFS record: event (progression or death) or censoring (§2.10, §4.3).

    Death is always an event; the earliest of progression and death wins.
    """
    start = inp.treatment_start
    death = inp.clinical.death_date
    expl = list(explanation)
    if death is not None and (event_date is None or death < event_date):
        expl.append(f"death on {death.isoformat()} is an event (§2.10)")
        event_date, event_label, event_kind = death, None, "death"
    if event_date is not None:
        return {"event": True, "event_kind": event_kind, "date": event_date, "label": event_label,
                "days": (event_date - start).days, "explanation": expl}
    if last_adequate is None:
        expl.append("no adequate post-baseline assessment: censored at treatment start")
        return {"event": False, "event_kind": None, "date": start, "label": None, "days": 0, "explanation": expl}
    f = last_adequate
    expl.append(f"no event: censored at the last adequate assessment {f.tp.label} ({f.tp.date.isoformat()})")
    return {"event": False, "event_kind": None, "date": f.tp.date, "label": f.tp.label,
            "days": (f.tp.date - start).days, "explanation": expl}


def irecist_pfs(inp, facts, ires, blocks):
    """iPFS (§2.10): the event date is the first iUPD of the block confirmed as iCPD."""
    opts = inp.options
    confirmed = next((b for b in blocks if b.outcome == "confirmed"), None)
    open_b = next((b for b in blocks if b.outcome == "open"), None)
    last = None
    for f, r in zip(facts, ires):
        if r["irecist_tpr"] not in (None, NE):
            last = f
    expl = []
    if confirmed is not None:
        expl.append(f"iUPD at {confirmed.opened_label} confirmed as iCPD at {confirmed.closed_label}: the event date is "
                    f"the iUPD date {confirmed.event_date.isoformat()} (§2.10)")
        earlier = [b.opened_label for b in blocks if b.outcome == "reset"]
        if earlier:
            expl.append(f"earlier iUPD at {', '.join(earlier)} was reset and is not the event")
        return progression_free_survival(inp, facts, event_date=confirmed.event_date, event_label=confirmed.opened_label,
                                         event_kind="iUPD confirmed as iCPD", last_adequate=last, explanation=expl)
    if open_b is not None:
        if opts.unconfirmed_iupd_policy == "event_at_iupd_date":
            expl.append(f"iUPD at {open_b.opened_label} never confirmed; policy event_at_iupd_date: event at "
                        f"{open_b.event_date.isoformat()} (§2.10)")
            return progression_free_survival(inp, facts, event_date=open_b.event_date, event_label=open_b.opened_label,
                                             event_kind="unconfirmed iUPD", last_adequate=last, explanation=expl)
        expl.append(f"iUPD at {open_b.opened_label} never confirmed; policy censor_at_last_adequate_assessment (§2.10)")
    return progression_free_survival(inp, facts, event_date=None, event_label=None, event_kind=None,
                                     last_adequate=last, explanation=expl)


def recist_pfs(inp, facts, rres):
    """RECIST 1.1 PFS (§1.9, §2.10): event at the first PD (backdated for equivocal new lesions)."""
    first = next((i for i, r in enumerate(rres) if r["recist_tpr"] == PD), None)
    last = None
    for i, (f, r) in enumerate(zip(facts, rres)):
        if first is not None and i >= first:
            break
        if r["recist_tpr"] != NE:
            last = f
    if first is not None:
        tp = facts[first].tp
        expl = [f"first RECIST 1.1 PD at {tp.label}: progression date {tp.assessment_date.isoformat()}"
                + (" (earliest scan date of the assessment, §1.9)" if tp.scan_dates else "")]
        return progression_free_survival(inp, facts, event_date=tp.assessment_date, event_label=tp.label,
                                         event_kind="RECIST PD", last_adequate=last, explanation=expl)
    return progression_free_survival(inp, facts, event_date=None, event_label=None, event_kind=None,
                                     last_adequate=last, explanation=["no RECIST 1.1 PD"])
