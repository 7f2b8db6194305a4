"""RECIST 1.1 time-point response, best overall response and progression date (§1.7-1.9)."""

from __future__ import annotations

from .facts import CR, NA, NE, NON_CR_NON_PD, PD, PR, SD

_RANK = {CR: 4, PR: 3, SD: 2, NON_CR_NON_PD: 2}


def overall_response(tcat, ntcat, new_lesion, has_targets):
    """RECIST 1.1 Tables 1 and 2 (§1.7): (overall response, rule text).

    ``tcat`` in CR/PR/SD/PD/NE/NA, ``ntcat`` in CR/NON-CR/NON-PD/PD/NE/NA (NA = no
    non-target disease, treated like CR [I] §1.5).
    """
    if has_targets:
        if tcat == PD:
            return PD, "Table 1: target PD -> PD"
        if ntcat == PD:
            return PD, "Table 1: non-target PD -> PD"
        if new_lesion:
            return PD, "Table 1: new lesion -> PD"
        if tcat == CR:
            if ntcat in (CR, NA):
                return CR, "Table 1: target CR, non-target " + ("CR" if ntcat == CR else "none (NA, as CR)") + ", no new -> CR"
            if ntcat == NON_CR_NON_PD:
                return PR, "Table 1: target CR, non-target non-CR/non-PD, no new -> PR"
            return PR, "Table 1: target CR, non-target not evaluated, no new -> PR"
        if tcat == PR:
            return PR, "Table 1: target PR, non-target non-PD or not all evaluated, no new -> PR"
        if tcat == SD:
            return SD, "Table 1: target SD, non-target non-PD or not all evaluated, no new -> SD"
        return NE, "Table 1: target not all evaluated, non-target non-PD, no new -> NE"
    if ntcat == PD:
        return PD, "Table 2: non-target unequivocal PD -> PD"
    if new_lesion:
        return PD, "Table 2: new lesion -> PD"
    if ntcat == CR:
        return CR, "Table 2: non-target CR, no new -> CR"
    if ntcat == NON_CR_NON_PD:
        return NON_CR_NON_PD, "Table 2: non-target non-CR/non-PD, no new -> non-CR/non-PD"
    return NE, "Table 2: non-target not all evaluated, no new -> NE"


def disease_returned(tcat, ntcat):
    """After an overall CR: is disease seen again (target not CR, or non-target persisting)? (§1.6, Table 3 (a))."""
    return tcat in (PR, SD) or ntcat == NON_CR_NON_PD


def find_confirmation(seq, i, levels, min_days):
    """Index j confirming the response at ``seq[i]`` (§1.8): a later assessment in ``levels``
    at least ``min_days`` later, every evaluable assessment in between also in ``levels``
    (NE tolerated [I]).  ``seq`` is a list of (day, response)."""
    di = seq[i][0]
    for j in range(i + 1, len(seq)):
        dj, rj = seq[j]
        if rj == NE:
            continue
        if rj not in levels:
            return None
        if dj - di >= min_days:
            return j
    return None


def run_recist(inp, facts):
    """RECIST 1.1 time-point responses with PR persistence and CR-reappearance options.

    Returns a list of dicts (one per follow-up) with ``target_response``,
    ``non_target_response``, ``recist_tpr``, ``recist_tpr_prospective`` and notes.
    """
    opts = inp.options
    has_targets = bool(inp.target_ids)
    res = []
    persist_active = False
    pd_seen = False
    prev_eval = None
    seq = []  # (day, tpr) for confirmation tracking
    for f in facts:
        notes = []
        tcat = f.target_category
        if tcat == SD and persist_active:
            tcat = PR
            notes.append("target SD-level sum kept as PR: PR already assigned"
                         + (" and confirmed" if opts.confirmation_required else "")
                         + ", PD not met (RECIST WG FAQ, §1.8 keep_pr_after_confirmed_pr)")
        ntcat = f.non_target_category
        new_yes = bool(f.present_new)
        tpr, rule = overall_response(tcat, ntcat, new_yes, has_targets)
        if (opts.cr_followed_by_disease == "pd-after-true-cr" and prev_eval == CR and tpr != PD
                and disease_returned(tcat, ntcat)):
            tpr = PD
            rule = "disease seen again after an overall CR at the previous assessment -> PD (§1.6, option pd-after-true-cr)"
        notes.append(rule)
        if pd_seen:
            notes.append("after the first RECIST PD: shown for information, not used for BOR")
        res.append({"target_response": tcat, "non_target_response": ntcat, "recist_tpr": tpr,
                    "recist_tpr_prospective": tpr, "notes": notes})
        seq.append((f.tp.day, tpr))
        if tpr == PD:
            pd_seen = True
            persist_active = False
        if tpr != NE:
            prev_eval = tpr
        if opts.keep_pr_after_confirmed_pr and not pd_seen and tpr in (CR, PR) and not persist_active:
            if not opts.confirmation_required:
                persist_active = True
            else:
                k = len(seq) - 1
                for i in range(k):
                    if seq[i][1] in (CR, PR) and find_confirmation(seq[: k + 1], i, (CR, PR), opts.confirmation_min_days) == k:
                        persist_active = True
                        break
    _backdate_equivocal(facts, res)
    return res


def _backdate_equivocal(facts, res):
    """Equivocal new lesion later confirmed: PD dates from the first scan that showed it (§1.6, §1.9)."""
    first_pd = next((i for i, r in enumerate(res) if r["recist_tpr"] == PD), None)
    earliest = None
    for i, f in enumerate(facts):
        for lid, (label, _date) in f.backdate_from.items():
            j = next(k for k, g in enumerate(facts) if g.tp.label == label)
            if earliest is None or j < earliest[0]:
                earliest = (j, lid, f.tp.label)
    if earliest is None:
        return
    j, lid, confirmed_at = earliest
    stop = first_pd if first_pd is not None else len(res)
    for k in range(j, stop):
        r = res[k]
        if r["recist_tpr"] != PD:
            r["recist_tpr"] = PD
            r["notes"].append(f"retrospectively PD: equivocal new lesion {lid} first seen here was confirmed at "
                              f"{confirmed_at}; PD dates from the first scan that showed it (§1.6); "
                              f"as assessed at the time: {r['recist_tpr_prospective']}")


def best_overall_response(inp, facts, tprs, *, vocab=None, fallback=None):
    """Best overall response (RECIST 1.1 §1.8 generalised algorithm [I]; reused for iBOR §2.9).

    Parameters
    ----------
    inp : ResponseInput
    facts : list of TimepointFacts
    tprs : list of str
        Time-point responses in RECIST vocabulary (CR, PR, SD, NON-CR/NON-PD, PD, NE); other
        tokens (iUPD, iCPD) are neither responses nor PD.
    vocab : dict, optional
        Display/return names of the levels (e.g. CR -> iCR for iRECIST).
    fallback : callable, optional
        ``fallback(expl) -> value`` when no response qualifies and there is no PD.

    Returns
    -------
    (value, explanation list, details dict)
    """
    vocab = vocab or {}

    def nm(r):
        return vocab.get(r, r)

    opts = inp.options
    has_targets = bool(inp.target_ids)
    sd_label = SD if has_targets else NON_CR_NON_PD
    first_pd = next((i for i, t in enumerate(tprs) if t == PD), None)
    upto = len(tprs) if first_pd is None else first_pd
    seq = [(facts[i].tp.day, tprs[i]) for i in range(upto)]
    labels = [facts[i].tp.label for i in range(upto)]
    expl = []
    details = {"confirmed_at": None, "decided_at": None}
    if first_pd is not None:
        expl.append(f"assessments before the first PD ({facts[first_pd].tp.label}) are considered")
    if opts.confirmation_required:
        relabelled = []
        if opts.cr_followed_by_disease == "relabel-cr-as-pr":
            for i, (_, r) in enumerate(seq):
                if r == CR and any(r2 in (PR, SD, NON_CR_NON_PD) for _, r2 in seq[i + 1:]):
                    seq[i] = (seq[i][0], PR)
                    relabelled.append(labels[i])
        if relabelled:
            expl.append(f"{nm(CR)} at {', '.join(relabelled)} re-labelled {nm(PR)} for the best response: disease "
                        "was seen again later (Table 3 footnote a, option relabel-cr-as-pr)")
        for level, levels in ((CR, (CR,)), (PR, (CR, PR))):
            for i, (_, r) in enumerate(seq):
                if r in levels:
                    j = find_confirmation(seq, i, levels, opts.confirmation_min_days)
                    if j is not None:
                        days = seq[j][0] - seq[i][0]
                        expl.append(f"{nm(seq[i][1])} at {labels[i]} confirmed by {nm(seq[j][1])} at {labels[j]} "
                                    f"{days} days later (>= {opts.confirmation_min_days}, no SD/progression in between; "
                                    "§1.8 Table 3)")
                        details["decided_at"], details["confirmed_at"] = labels[i], labels[j]
                        return nm(level), expl, details
        unconf = [labels[i] for i, (_, r) in enumerate(seq) if r in (CR, PR)]
        if unconf:
            expl.append(f"response at {', '.join(unconf)} not confirmed >= {opts.confirmation_min_days} days later "
                        "without intervening SD or progression")
        sd_ok = [i for i, (d, r) in enumerate(seq) if r in (CR, PR, SD, NON_CR_NON_PD) and d >= opts.min_sd_days]
    else:
        best = None
        for i, (_, r) in enumerate(seq):
            if r in (CR, PR) and (best is None or _RANK[r] > _RANK[seq[best][1]]):
                best = i
        if best is not None:
            expl.append(f"best time-point response {nm(seq[best][1])} at {labels[best]} (confirmation not required, §1.8)")
            details["decided_at"] = labels[best]
            return nm(seq[best][1]), expl, details
        sd_ok = [i for i, (d, r) in enumerate(seq) if r in (SD, NON_CR_NON_PD) and d >= opts.min_sd_days]
    if sd_ok:
        i = sd_ok[0]
        expl.append(f"{nm(seq[i][1])} at {labels[i]} on day {seq[i][0]} >= minimum {opts.min_sd_days} days -> "
                    f"{nm(sd_label)} (§1.8 SD minimum duration)")
        details["decided_at"] = labels[i]
        return nm(sd_label), expl, details
    short = [labels[i] for i, (d, r) in enumerate(seq) if r in (CR, PR, SD, NON_CR_NON_PD)]
    if short:
        expl.append(f"{', '.join(short)} before day {opts.min_sd_days}: SD minimum duration not met")
    if first_pd is not None:
        expl.append(f"PD at {facts[first_pd].tp.label}")
        details["decided_at"] = facts[first_pd].tp.label
        return nm(PD), expl, details
    if fallback is not None:
        return fallback(expl, details)
    expl.append("no qualifying response and no PD -> NE")
    return NE, expl, details
