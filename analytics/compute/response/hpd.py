"""Hyperprogressive disease under each published definition (RESPONSE_RULES.md §3).

Every definition reports ``computable`` (a verdict could be reached), ``reason`` (what was
missing or limiting), its indices, the individual criteria (true / false / null) and the
verdict ``hpd`` (true / false / null).  Ratio thresholds on tumour-growth kinetics are
tested exactly (Fractions); TGR involves ``exp``/``log`` and is a float.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .arith import ZERO, fmt_mm, fmt_num
from .facts import NE, PD, target_sum

HPD_DEFINITIONS = ("champiat", "saada_bouzid", "ferrara", "kim_cg", "kim_volumetric", "lo_russo", "kato", "kas")

_TEXT = {
    "champiat": "Champiat 2017: RECIST 1.1 PD at the first evaluation and TGR_exp / TGR_ref >= 2 (§3.3)",
    "saada_bouzid": "Saâda-Bouzid 2017: TGKR = TGK_post / TGK_pre >= 2 (§3.4)",
    "ferrara": "Ferrara 2018: RECIST 1.1 PD at the first evaluation and ΔTGR = TGR_exp - TGR_ref > 50 %/month (§3.5)",
    "kim_cg": "Kim CG 2019: TGKR >= 2, TGRR >= 2, TTF < 2 months, combined per option kim_combination (§3.6)",
    "kim_volumetric": "Kim Y 2019 (volumetric): volume TGKR >= threshold and TTF < threshold (§3.6, thresholds unverified)",
    "lo_russo": "Lo Russo 2019: at least 3 of 5 clinical/radiological criteria (§3.7)",
    "kato": "Kato 2017: TTF < 2 months, > 50 % increase in tumour burden, > 2-fold increase in progression pace (§3.8)",
    "kas": "Kas 2020: RECIST 1.1 progression at the first evaluation and ΔTGR > 100 %/month (§3.9)",
}


def and3(*vals):
    """Three-valued AND: False if any False, else None if any None, else True."""
    if any(v is False for v in vals):
        return False
    if any(v is None for v in vals):
        return None
    return True


def or3(*vals):
    """Three-valued OR: True if any True, else None if any None, else False."""
    if any(v is True for v in vals):
        return True
    if any(v is None for v in vals):
        return None
    return False


def tgr(s_from, s_to, days, days_per_month, exponent=3):
    """Tumour growth rate (Ferté 2014, §3.2): ``100 * ((S_to/S_from) ** (exponent/T) - 1)`` in %/month.

    ``exponent`` is 3 for diameters (volume ~ D^3) and 1 for measured volumes (Kim Y, §3.6).
    Returns (value, reason); value None with a reason when not computable (a sum of 0, no
    interval, or overflow) - never NaN.
    """
    if s_from is None or s_to is None:
        return None, "sum missing"
    if s_from <= 0 or s_to <= 0:
        return None, "a sum is 0: TGR not computable (tgr_not_computable)"
    if days <= 0:
        return None, "no time between the scans"
    ratio = float(s_to / s_from)
    months = Fraction(days) / Fraction(days_per_month)
    try:
        value = 100.0 * (math.pow(ratio, float(exponent / months)) - 1.0)
    except OverflowError:
        return None, "TGR overflows (extreme growth over a very short interval)"
    if not math.isfinite(value):
        return None, "TGR overflows (extreme growth over a very short interval)"
    return value, None


def _ratio_verdict(ref_rate, post_rate, ratio, threshold, opts, strict=False):
    """Verdict of ``post/ref >= threshold`` with the non-positive reference policy (§3.3, §3.10)."""
    if ref_rate is None or post_rate is None:
        return None, False
    if ref_rate <= 0:
        pol = opts.ratio_nonpositive_reference
        if pol == "not-hpd":
            return False, True
        if pol == "hpd-if-growing":
            return post_rate > 0, True
        return None, True
    return (ratio > threshold if strict else ratio >= threshold), False


def hyperprogression(inp, facts, rres):
    """Evaluate every HPD definition of §3; returns (common dict, {name: block})."""
    opts = inp.options
    dpm = opts.days_per_month
    targets = inp.target_ids
    reasons = []
    flags = {}
    pre = inp.pre_baseline[-1] if inp.pre_baseline else None
    base = inp.baseline
    first = facts[0] if facts else None
    S0 = sum((base.lesions[l].size_mm for l in targets), ZERO) if targets else None

    S_pre = None
    if not targets:
        reasons.append("no target lesions at baseline")
    if pre is None:
        reasons.append("no pre-baseline scan")
    elif targets:
        s, complete, _, missing = target_sum(pre.lesions, targets)
        if complete:
            S_pre = s
        else:
            reasons.append(f"pre-baseline target sum incomplete ({', '.join(missing)} not measured on {pre.label})")
    S1 = None
    if first is None:
        reasons.append("no on-treatment evaluation")
    elif targets:
        if first.sum_mm is not None:
            S1 = first.sum_mm
        else:
            reasons.append(f"first evaluation {first.tp.label}: target sum incomplete")
    d_ref = (base.date - pre.date).days if pre is not None else None
    d_exp = (first.tp.date - base.date).days if first is not None else None
    t_ref = None if d_ref is None else Fraction(d_ref) / Fraction(dpm)
    t_exp = None if d_exp is None else Fraction(d_exp) / Fraction(dpm)
    base_gap = (inp.treatment_start - base.date).days
    if base_gap > 28:
        flags["baseline_more_than_4_weeks_before_start"] = True
    if d_ref is not None and d_ref > 84:
        flags["pre_baseline_more_than_12_weeks_before_baseline"] = True

    tgr_ref, why_ref = tgr(S_pre, S0, d_ref or 0, dpm) if S_pre is not None and S0 is not None else (None, None)
    tgr_exp, why_exp = tgr(S0, S1, d_exp or 0, dpm) if S1 is not None and S0 is not None else (None, None)
    tgr_reason = why_ref or why_exp
    tgrr = tgr_exp / tgr_ref if tgr_ref is not None and tgr_exp is not None and tgr_ref > 0 else None
    dtgr = tgr_exp - tgr_ref if tgr_ref is not None and tgr_exp is not None else None

    tgk_pre = tgk_post = tgkr = None
    if S_pre is not None and d_ref:
        tgk_pre = (Fraction(S0) - Fraction(S_pre)) / t_ref
    if S1 is not None and d_exp:
        tgk_post = (Fraction(S1) - Fraction(S0)) / t_exp
    if tgk_pre is not None and tgk_post is not None and tgk_pre > 0:
        tgkr = tgk_post / tgk_pre

    first_tpr = rres[0]["recist_tpr"] if rres else None
    first_pd = None if first_tpr in (None, NE) else first_tpr == PD
    ttf = _ttf(inp)
    ttf_lt_2m = None if ttf is None else Fraction(ttf) < 2 * Fraction(dpm)
    pct_first = None
    if S1 is not None and S0:
        pct_first = 100 * (Fraction(S1) - Fraction(S0)) / Fraction(S0)

    common = {
        "pre_baseline_label": pre.label if pre else None, "baseline_label": base.label,
        "first_evaluation_label": first.tp.label if first else None,
        "s_pre_mm": S_pre, "s0_mm": S0, "s1_mm": S1, "days_pre_to_baseline": d_ref, "days_baseline_to_first": d_exp,
        "days_baseline_to_treatment_start": base_gap,
        "t_ref_months": t_ref, "t_exp_months": t_exp,
        "tgr_ref": tgr_ref, "tgr_exp": tgr_exp, "tgr_ratio": tgrr, "delta_tgr": dtgr,
        "tgk_pre_mm_per_month": tgk_pre, "tgk_post_mm_per_month": tgk_post, "tgk_ratio": tgkr,
        "pct_change_baseline_to_first": pct_first,
        "recist_tpr_first_evaluation": first_tpr, "ttf_days": ttf, "ttf_lt_2_months": ttf_lt_2m,
        "flags": flags, "missing": reasons + ([tgr_reason] if tgr_reason else []),
    }
    common["prior_line"] = _prior_line_note(inp, pre)
    out = {}
    tgr_idx = {"tgr_ref": tgr_ref, "tgr_exp": tgr_exp}
    pd_txt = f"RECIST 1.1 response at the first evaluation: {first_tpr or 'none'}"
    miss = "; ".join(reasons) or None

    # Champiat ---------------------------------------------------------------------------
    ratio_ok, nonpos = _ratio_verdict(tgr_ref, tgr_exp, tgrr, 2, opts)
    hpd = and3(first_pd, ratio_ok)
    expl = [pd_txt, f"TGR_ref {fmt_num(tgr_ref)} %/month, TGR_exp {fmt_num(tgr_exp)} %/month, ratio {fmt_num(tgrr)}"]
    if nonpos:
        expl.append(f"TGR_ref <= 0: ratio not interpretable, policy {opts.ratio_nonpositive_reference} (§3.3)")
    out["champiat"] = _block("champiat", hpd, {**tgr_idx, "tgr_ratio": tgrr}, {"recist_pd_first_evaluation": first_pd,
                             "tgr_ratio_ge_2": ratio_ok}, nonpos, miss or tgr_reason, expl)
    # Saâda-Bouzid -----------------------------------------------------------------------
    ok, nonpos = _ratio_verdict(tgk_pre, tgk_post, tgkr, 2, opts)
    expl = [f"TGK_pre {fmt_num(tgk_pre)} mm/month, TGK_post {fmt_num(tgk_post)} mm/month, TGKR {fmt_num(tgkr)}"]
    if nonpos:
        expl.append(f"TGK_pre <= 0: ratio not interpretable, policy {opts.ratio_nonpositive_reference} (§3.4)")
    if common["prior_line"]:
        expl.append(common["prior_line"])
    out["saada_bouzid"] = _block("saada_bouzid", ok, {"tgk_pre_mm_per_month": tgk_pre, "tgk_post_mm_per_month": tgk_post,
                                 "tgk_ratio": tgkr}, {"tgk_ratio_ge_2": ok}, nonpos, miss, expl)
    # Ferrara ----------------------------------------------------------------------------
    d_ok = None if dtgr is None else dtgr > 50
    out["ferrara"] = _block("ferrara", and3(first_pd, d_ok), {**tgr_idx, "delta_tgr": dtgr},
                            {"recist_pd_first_evaluation": first_pd, "delta_tgr_gt_50": d_ok}, False, miss or tgr_reason,
                            [pd_txt, f"ΔTGR = {fmt_num(tgr_exp)} - {fmt_num(tgr_ref)} = {fmt_num(dtgr)} %/month (> 50 needed)"])
    # Kas --------------------------------------------------------------------------------
    if opts.kas_pd_condition == "recist-pd":
        kas_pd, kas_txt = first_pd, pd_txt
    else:
        m = first.measured_sum if first is not None and targets else None
        if m is not None and 5 * (m - S0) > S0:
            kas_pd = True
        elif S1 is not None:
            kas_pd = False
        else:
            kas_pd = None
        kas_txt = f"target sum change baseline -> first evaluation {fmt_num(pct_first)} % (> 20 % needed)"
    d_ok = None if dtgr is None else dtgr > 100
    out["kas"] = _block("kas", and3(kas_pd, d_ok), {**tgr_idx, "delta_tgr": dtgr},
                        {"progression_first_evaluation": kas_pd, "delta_tgr_gt_100": d_ok}, False, miss or tgr_reason,
                        [kas_txt, f"ΔTGR = {fmt_num(dtgr)} %/month (> 100 needed)"])
    # Kim CG -----------------------------------------------------------------------------
    thr = Fraction(opts.kim_ratio_threshold)
    k_tgk, np1 = _ratio_verdict(tgk_pre, tgk_post, tgkr, thr, opts)
    k_tgr, np2 = _ratio_verdict(tgr_ref, tgr_exp, tgrr, float(thr), opts)
    if opts.kim_combination == "all":
        hpd = and3(k_tgk, k_tgr, ttf_lt_2m)
    elif opts.kim_combination == "any":
        hpd = or3(k_tgk, k_tgr, ttf_lt_2m)
    else:
        hpd = and3(or3(k_tgk, k_tgr), ttf_lt_2m)
    expl = [f"TGKR {fmt_num(tgkr)}, TGRR {fmt_num(tgrr)}, TTF {ttf if ttf is not None else 'unknown'} days "
            f"(< {fmt_num(2 * Fraction(dpm))} needed); combination {opts.kim_combination}"]
    if flags.get("pre_baseline_more_than_12_weeks_before_baseline"):
        expl.append("pre-baseline scan more than 12 weeks before baseline: outside Kim's reference window (§3.10)")
    out["kim_cg"] = _block("kim_cg", hpd, {"tgk_ratio": tgkr, "tgr_ratio": tgrr, "ttf_days": ttf},
                           {"kim_tgkr_ge2": k_tgk, "kim_tgrr_ge2": k_tgr, "ttf_lt_2m": ttf_lt_2m}, np1 or np2,
                           _join(miss, None if ttf is not None else "TTF unknown"), expl)
    # Kim Y volumetric -------------------------------------------------------------------
    out["kim_volumetric"] = _kim_volumetric(inp, pre, first, d_ref, d_exp, ttf, opts)
    # Lo Russo ---------------------------------------------------------------------------
    out["lo_russo"] = _lo_russo(inp, first, S0, ttf_lt_2m, ttf, opts)
    # Kato -------------------------------------------------------------------------------
    if targets and first is not None:
        m = first.measured_sum
        burden = True if 2 * (m - S0) > S0 else (False if S1 is not None else None)
    else:
        burden = None
    if opts.kato_pace_index == "tgkr":
        pace, nonpos = _ratio_verdict(tgk_pre, tgk_post, tgkr, 2, opts, strict=True)
        pace_txt = f"TGKR {fmt_num(tgkr)}"
    else:
        pace, nonpos = _ratio_verdict(tgr_ref, tgr_exp, tgrr, 2, opts, strict=True)
        pace_txt = f"TGRR {fmt_num(tgrr)}"
    out["kato"] = _block("kato", and3(ttf_lt_2m, burden, pace),
                         {"pct_change_baseline_to_first": pct_first, "tgk_ratio": tgkr, "tgr_ratio": tgrr, "ttf_days": ttf},
                         {"ttf_lt_2m": ttf_lt_2m, "tumour_burden_increase_gt_50pct": burden, "pace_ratio_gt_2": pace},
                         nonpos, _join(miss, None if ttf is not None else "TTF unknown"),
                         [f"TTF {ttf if ttf is not None else 'unknown'} days; target sum change {fmt_num(pct_first)} % "
                          f"(> 50 needed); pace {pace_txt} (> 2 needed; index {opts.kato_pace_index}, an interpretation)"])
    for b in out.values():
        if flags:
            b["explanation"].append("data flags: " + ", ".join(sorted(flags)))
    return common, out


_LO_RUSSO_CRITERIA = {
    "ttf_lt_2m": "time to treatment failure < 2 months:",
    "target_sum_increase_ge_50pct": "target sum +50 % or more:",
    "ge_2_new_lesions_in_involved_organ": "2 or more new lesions in an involved organ:",
    "new_organ_involved": "a new organ involved:",
    "ecog_worsening": "ECOG worsening:",
}


def _yes_no(value):
    return {True: "yes", False: "no", None: "unknown"}[value]


def _or_unknown(value):
    return "unknown" if value is None else value


def _by_organ(counts):
    return ", ".join(f"{organ} {n}" for organ, n in sorted(counts.items())) or "none"


def _join(*parts):
    parts = [p for p in parts if p]
    return "; ".join(parts) if parts else None


def _block(name, hpd, indices, criteria, nonpos, reason, expl):
    verdict = {True: "HPD", False: "no HPD", None: "undetermined"}[hpd]
    expl = list(expl) + [f"verdict: {verdict}"]
    return {"definition": _TEXT[name], "computable": hpd is not None, "reason": reason,
            "ratio_not_interpretable": bool(nonpos), "indices": indices, "criteria": criteria, "hpd": hpd,
            "explanation": expl}


def _ttf(inp):
    c = inp.clinical
    if c.ttf_days is not None:
        return c.ttf_days
    if c.treatment_end is not None:
        return (c.treatment_end - inp.treatment_start).days
    return None


def _prior_line_note(inp, pre):
    pl = inp.prior_line
    if pl is None or pre is None:
        return None
    inside = (pl.start is None or pl.start <= pre.date) and (pl.end is None or pre.date <= pl.end)
    name = pl.regimen or "prior line"
    return (f"pre-baseline scan {pre.label} ({pre.date.isoformat()}) is "
            f"{'within' if inside else 'outside'} the {name} period (TGK_pre should reflect growth on the last "
            "treatment before immunotherapy, §3.4)")


def _kim_volumetric(inp, pre, first, d_ref, d_exp, ttf, opts):
    targets = inp.target_ids

    def vol(tp):
        if tp is None or not targets:
            return None
        tot = ZERO
        for l in targets:
            o = tp.lesions.get(l)
            if o is None or o.volume_mm3 is None:
                return None
            tot += o.volume_mm3
        return tot

    v_pre, v0, v1 = vol(pre), vol(inp.baseline), vol(first.tp if first else None)
    missing = [n for n, v in (("pre-baseline", v_pre), ("baseline", v0), ("first evaluation", v1)) if v is None]
    reason = f"target volumes (volume_mm3) missing at: {', '.join(missing)}" if missing else None
    tgkr = tgk_pre = tgk_post = None
    tgr_ref = tgr_exp = None
    if not missing and d_ref and d_exp:
        dpm = Fraction(opts.days_per_month)
        tgk_pre = (Fraction(v0) - Fraction(v_pre)) / (Fraction(d_ref) / dpm)
        tgk_post = (Fraction(v1) - Fraction(v0)) / (Fraction(d_exp) / dpm)
        if tgk_pre > 0:
            tgkr = tgk_post / tgk_pre
        tgr_ref, _ = tgr(v_pre, v0, d_ref, opts.days_per_month, exponent=1)
        tgr_exp, _ = tgr(v0, v1, d_exp, opts.days_per_month, exponent=1)
    ok, nonpos = _ratio_verdict(tgk_pre, tgk_post, tgkr, Fraction(opts.kim_volumetric_tgkr_threshold), opts)
    ttf_ok = None if ttf is None else Fraction(ttf) < Fraction(opts.kim_volumetric_ttf_months) * Fraction(opts.days_per_month)
    hpd = and3(ok, ttf_ok)
    expl = [f"volume TGKR {fmt_num(tgkr)} (>= {fmt_mm(opts.kim_volumetric_tgkr_threshold)}), TTF "
            f"{ttf if ttf is not None else 'unknown'} days (< {fmt_mm(opts.kim_volumetric_ttf_months)} months); "
            f"volume TGR_ref {fmt_num(tgr_ref)}, TGR_exp {fmt_num(tgr_exp)} %/month"]
    return _block("kim_volumetric", hpd, {"v_pre_mm3": v_pre, "v0_mm3": v0, "v1_mm3": v1, "tgk_ratio_volume": tgkr,
                                          "tgr_ref_volume": tgr_ref, "tgr_exp_volume": tgr_exp, "ttf_days": ttf},
                  {"volume_tgkr_ge_threshold": ok, "ttf_lt_threshold": ttf_ok}, nonpos,
                  _join(reason, None if ttf is not None else "TTF unknown"), expl)


def _lo_russo(inp, first, S0, ttf_lt_2m, ttf, opts):
    """Lo Russo 2019 (§3.7): HPD if >= 3 of 5 criteria; unknown criteria make the verdict null only if they could matter."""
    targets = inp.target_ids
    c = inp.clinical
    # 2. >= 50 % increase in the target sum, baseline -> first evaluation
    if not targets or first is None:
        c2 = None
    else:
        m = first.measured_sum
        c2 = True if 2 * (m - S0) >= S0 else (False if first.sum_mm is not None else None)
    involved = {b.organ_key for b in inp.baseline_lesions.values()}
    c3 = c4 = None
    counts = {}
    if first is not None:
        for lid in first.new_now:
            o = first.tp.new_lesions[lid].organ_key
            counts[o] = counts.get(o, 0) + 1
        c3 = any(n >= 2 for o, n in counts.items() if o in involved)
        c4 = any(o not in involved for o in counts)
    w, b0 = c.ecog_worst_first_2_months, c.ecog_baseline
    if opts.lo_russo_ecog_rule == "delta-ge-2":
        c5 = None if w is None or b0 is None else w - b0 >= 2
    else:
        c5 = None if w is None else w >= 2
    crit = {"ttf_lt_2m": ttf_lt_2m, "target_sum_increase_ge_50pct": c2, "ge_2_new_lesions_in_involved_organ": c3,
            "new_organ_involved": c4, "ecog_worsening": c5}
    n_true = sum(v is True for v in crit.values())
    n_unknown = sum(v is None for v in crit.values())
    hpd = True if n_true >= 3 else (False if n_true + n_unknown < 3 else None)
    unknown = [k for k, v in crit.items() if v is None]
    expl = [f"criteria met {n_true}/5, unknown {n_unknown}: "
            + "; ".join(f"{_LO_RUSSO_CRITERIA[k]} {_yes_no(v)}" for k, v in crit.items()),
            f"new lesions at the first evaluation by organ: {_by_organ(counts)}; organs involved at baseline: "
            f"{', '.join(sorted(involved)) or 'none'}",
            f"ECOG baseline {_or_unknown(c.ecog_baseline)}, worst in the first 2 months "
            f"{_or_unknown(c.ecog_worst_first_2_months)} (rule {opts.lo_russo_ecog_rule})"]
    return _block("lo_russo", hpd, {"ttf_days": ttf, "ecog_baseline": c.ecog_baseline,
                                    "ecog_worst_first_2_months": c.ecog_worst_first_2_months,
                                    "new_lesions_by_organ": dict(sorted(counts.items()))},
                  crit, False, ("unknown criteria: " + ", ".join(unknown)) if unknown else None, expl)
