"""Pseudoprogression (§4.1), dissociated response (§4.2) and durable clinical benefit (§4.3)."""

from __future__ import annotations

import datetime as _dt
from fractions import Fraction

from .arith import FIVE, TEN, ZERO, fmt_mm, is_pd_vs_nadir, is_pr_vs_baseline
from .irecist import ICR, IPR, ISD, IUPD, ICPD
from .model import INCREASED, UNEQUIVOCAL

# --------------------------------------------------------------------------------------------
# §4.1 pseudoprogression
# --------------------------------------------------------------------------------------------


def pseudoprogression(inp, facts, ires, blocks):
    """Pseudoprogression flags (§4.1 [I]).

    ``any``: an iUPD never confirmed as iCPD and followed by iSD, iPR or iCR (the §2.6 reset).
    ``with_response``: such a reset followed by iPR or iCR before any new iUPD.
    ``candidate_awaiting_confirmation``: an iUPD still open at the last assessment (it may
    turn out to be pseudoprogression); an iUPD followed only by NE is "unconfirmed", not
    pseudoprogression.
    """
    opts = inp.options
    episodes = []
    any_pp = False
    with_resp = False
    for b in blocks:
        ep = {"iupd_label": b.opened_label, "iupd_date": b.opened_date.isoformat(), "triggers": list(b.triggers),
              "outcome": b.outcome, "resolved_at": None, "resolved_as": None, "best_after_reset": None}
        if b.outcome == "reset":
            any_pp = True
            ep["resolved_at"], ep["resolved_as"] = b.closed_label, b.closed_tpr
            best = None
            rank = {ICR: 3, IPR: 2, ISD: 1}
            for r in ires[b.closed_index:]:
                t = r["irecist_tpr"]
                if t in (IUPD, ICPD, None):
                    break
                if t in rank and (best is None or rank[t] > rank[best]):
                    best = t
            ep["best_after_reset"] = best
            if best in (ICR, IPR):
                with_resp = True
        episodes.append(ep)
    open_b = next((b for b in blocks if b.outcome == "open"), None)
    candidate = open_b is not None
    expl = []
    for ep in episodes:
        if ep["outcome"] == "reset":
            expl.append(f"iUPD at {ep['iupd_label']} never confirmed and followed by {ep['resolved_as']} at "
                        f"{ep['resolved_at']} (best before any new iUPD: {ep['best_after_reset']}) -> pseudoprogression (§4.1)")
        elif ep["outcome"] == "confirmed":
            expl.append(f"iUPD at {ep['iupd_label']} confirmed as iCPD: true progression")
    due = None
    if candidate:
        lo = open_b.opened_date.toordinal() + opts.icpd_min_days - opts.icpd_tolerance_days
        hi = open_b.opened_date.toordinal() + opts.icpd_max_days
        due = {"from": _dt.date.fromordinal(lo).isoformat(), "to": _dt.date.fromordinal(hi).isoformat()}
        later = [f.tp.label for f in facts[open_b.opened_index + 1:]]
        expl.append(f"iUPD at {open_b.opened_label} still unconfirmed"
                    + (f" after {', '.join(later)}" if later else "")
                    + f": candidate awaiting confirmation (confirmation scan due {due['from']} to {due['to']}, §2.4)")
    if not blocks:
        expl.append("no iUPD: no pseudoprogression")
    return {"any": any_pp, "with_response": with_resp, "candidate_awaiting_confirmation": candidate,
            "confirmation_due": due, "episodes": episodes, "explanation": expl}


# --------------------------------------------------------------------------------------------
# §4.3 durable clinical benefit
# --------------------------------------------------------------------------------------------


def durable_clinical_benefit(inp, pfs, which):
    """DCB (§4.3): PFS >= 6 months (``dcb_inclusive``) -> DCB; event before -> NDB; censored before -> None."""
    opts = inp.options
    thr = opts.months_to_days(opts.dcb_threshold_months)
    d = Fraction(pfs["days"])
    meets = d >= thr if opts.dcb_inclusive else d > thr
    op = ">=" if opts.dcb_inclusive else ">"
    thr_txt = f"{fmt_mm(opts.dcb_threshold_months)} months = {float(thr):g} days"
    if pfs["event"]:
        value = True if meets else False
        expl = [f"{which} PFS event ({pfs['event_kind']}) on day {pfs['days']}: "
                + (f"{op} {thr_txt} -> DCB" if meets else f"not {op} {thr_txt} -> no durable benefit (NDB)")]
    elif meets:
        value = True
        expl = [f"{which} PFS censored on day {pfs['days']} without event, {op} {thr_txt} -> DCB"]
    else:
        value = None
        expl = [f"{which} PFS censored on day {pfs['days']} without event, before {thr_txt}: cannot be classified"]
    return {"dcb": value, "pfs_used": which, "pfs_days": pfs["days"], "threshold_days": float(thr),
            "inclusive": opts.dcb_inclusive, "explanation": expl}


# --------------------------------------------------------------------------------------------
# §4.2 dissociated response
# --------------------------------------------------------------------------------------------

DISSOCIATED_DEFINITIONS = ("tozuka", "bernard_tessier", "zhou", "sato", "wong")


def _lesion_changes(inp, f):
    """Per-target change vs baseline for lesion-level definitions; excludes NE and coalesced lesions."""
    base = inp.baseline.lesions
    out = []
    for lid in inp.target_ids:
        obs = f.tp.lesions.get(lid)
        if obs is None or obs.size_mm is None or obs.coalesced_into or obs.coalesced_with:
            continue
        out.append((lid, base[lid].size_mm, obs.size_mm))
    return out


def dissociated_response(inp, facts):
    """Dissociated-response overlays (§4.2), per follow-up and overall.  They never change RECIST/iRECIST."""
    bl = inp.baseline_lesions
    per_tp = []
    # organ-level sums for Sato (lymph nodes as one organ)
    organs = {}
    for lid in inp.target_ids:
        organs.setdefault(bl[lid].organ_key, []).append(lid)
    organ_base = {o: sum((bl[l].size_mm for l in ids), ZERO) for o, ids in organs.items()}
    organ_nadir = dict(organ_base)
    for f in facts:
        flags, why = {}, {}
        ch = _lesion_changes(inp, f)
        new_present = bool(f.present_new)
        dec = [l for l, b, s in ch if s < b]
        inc = [l for l, b, s in ch if s > b]
        # Tozuka 2020
        if not ch:
            flags["tozuka"] = None
            why["tozuka"] = "no measured target lesion"
        else:
            flags["tozuka"] = bool(dec) and (bool(inc) or new_present)
            why["tozuka"] = (f"shrinking {_ids(dec)}, growing {_ids(inc)}, new lesions "
                             f"{_ids(f.present_new)} (lesion-level vs baseline)")
        # Bernard-Tessier 2020
        if not ch:
            flags["bernard_tessier"] = None
            why["bernard_tessier"] = "no measured target lesion"
        else:
            shrink = [l for l, b, s in ch if 10 * (s - b) < -3 * b]
            grow = [(l, s - b) for l, b, s in ch if 5 * (s - b) > b]
            grow_mm = sum((g for _, g in grow), ZERO)
            flags["bernard_tessier"] = bool(shrink) and bool(grow) and grow_mm >= FIVE
            why["bernard_tessier"] = (f"lesions < -30 %: {_ids(shrink)}; lesions > +20 %: {_ids(l for l, _ in grow)} "
                                      f"(together +{fmt_mm(grow_mm)} mm, needs >= 5 mm)")
        # Zhou 2020
        if not inp.target_ids or f.sum_mm is None:
            flags["zhou"] = None
            why["zhou"] = "no complete target sum"
        else:
            S, N = f.sum_mm, f.nadir_prior_mm
            B = sum((bl[l].size_mm for l in inp.target_ids), ZERO)
            cond = S < B or 5 * (S - N) < N
            flags["zhou"] = cond and new_present
            why["zhou"] = (f"target sum {fmt_mm(S)} mm ({'decreased vs baseline' if S < B else 'not decreased vs baseline'}; "
                           f"{'< +20 %' if 5 * (S - N) < N else '>= +20 %'} vs nadir {fmt_mm(N)} mm), new lesions "
                           f"{_ids(f.present_new)}")
        # Sato 2021 (organ level)
        if not organs or not f.complete:
            flags["sato"] = None
            why["sato"] = "no complete set of target measurements"
        else:
            cats = {}
            for o, ids in organs.items():
                s = sum((f.sizes[l] for l in ids), ZERO)
                b, n = organ_base[o], organ_nadir[o]
                if is_pd_vs_nadir(s, n):
                    c = "PD"
                elif all((f.sizes[l] < TEN) if bl[l].nodal else f.sizes[l] == 0 for l in ids):
                    c = "CR"
                elif is_pr_vs_baseline(s, b):
                    c = "PR"
                else:
                    c = "SD"
                cats[o] = c
                if s < n:
                    organ_nadir[o] = s
            nt_pd_organs = sorted({bl[l].organ_key for l in inp.non_target_ids
                                   if f.tp.lesions.get(l) is not None and f.tp.lesions[l].status == UNEQUIVOCAL})
            for o in nt_pd_organs:
                cats[o] = "PD"
            resp = sorted(o for o, c in cats.items() if c in ("CR", "PR"))
            prog = sorted(o for o, c in cats.items() if c == "PD")
            nt_det = any(f.tp.lesions.get(l) is not None and f.tp.lesions[l].status in (UNEQUIVOCAL, INCREASED)
                         for l in inp.non_target_ids)
            target_organs = [o for o in organs]
            all_resp = all(cats[o] in ("CR", "PR") for o in target_organs)
            s1 = bool(resp) and bool(prog)
            s2 = all_resp and (new_present or nt_det)
            flags["sato"] = s1 or s2
            why["sato"] = (f"organs: {', '.join(f'{o} {c}' for o, c in sorted(cats.items()))}; pattern 1 (CR/PR and "
                           f"PD organs): {'yes' if s1 else 'no'}; pattern 2 (all CR/PR with new lesions or non-target "
                           f"deterioration): {'yes' if s2 else 'no'}")
        # Wong 2021 (broadest)
        if not ch:
            flags["wong"] = None
            why["wong"] = "no measured target lesion"
        else:
            reg = [l for l, b, s in ch if is_pr_vs_baseline(s, b)]
            prog = [l for l, b, s in ch if is_pd_vs_nadir(s, b)]
            stab = [l for l, b, s in ch if l not in reg and l not in prog]
            a = bool(reg) and (bool(prog) or new_present)
            b_ = bool(stab) and (bool(prog) or bool(reg))
            flags["wong"] = a or b_
            why["wong"] = (f"regressing (<= -30 %) {_ids(reg)}, progressing (>= +20 % and >= 5 mm) {_ids(prog)}, "
                           f"stable {_ids(stab)}, new lesions {_ids(f.present_new)}")
        per_tp.append((flags, why))

    overall = {}
    for name in DISSOCIATED_DEFINITIONS:
        vals = [(facts[i].tp.label, per_tp[i][0][name], per_tp[i][1][name]) for i in range(len(facts))]
        hits = [lab for lab, v, _ in vals if v]
        known = [v for _, v, _ in vals if v is not None]
        if hits:
            value = True
        elif known:
            value = False
        else:
            value = None
        expl = [f"{lab}: {'yes' if v else ('no' if v is False else 'n/a')} - {w}" for lab, v, w in vals]
        overall[name] = {
            "dissociated": value, "computable": value is not None,
            "reason": None if value is not None else "no follow-up with the measurements this definition needs",
            "timepoints": hits, "first_label": hits[0] if hits else None,
            "definition": _DEFINITION_TEXT[name], "explanation": expl,
        }
    return [p[0] for p in per_tp], overall


def _ids(labels):
    """Lesion labels as a reader writes them: "T1, T2" or "none"."""
    return ", ".join(sorted(labels)) or "none"


_DEFINITION_TEXT = {
    "tozuka": "Tozuka 2020: >= 1 target lesion decreased and >= 1 increased or a new lesion present (lesion-level vs baseline)",
    "bernard_tessier": "Bernard-Tessier 2020: a target lesion < -30 % and a target lesion > +20 % vs baseline, the growing "
                       "lesions adding >= 5 mm",
    "zhou": "Zhou 2020: target sum decreased vs baseline or < +20 % vs nadir, with a new lesion present",
    "sato": "Sato 2021: organ-level CR/PR in some organs and PD in others; or all CR/PR with new lesions or non-target "
            "deterioration",
    "wong": "Wong 2021: regressing lesions with progressing or new lesions; or stable lesions mixed with progressing or "
            "regressing ones (lesion-level: regressing <= -30 %, progressing >= +20 % and >= 5 mm vs baseline)",
}
