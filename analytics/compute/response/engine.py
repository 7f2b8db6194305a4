"""Public entry points of the response engine."""

from __future__ import annotations

import warnings

from .arith import ZERO
from .document import parse_document
from .errors import ResponseDataWarning
from .facts import compute_facts
from .hpd import hyperprogression
from .irecist import best_overall_irecist, irecist_pfs, recist_pfs, run_irecist
from .patterns import dissociated_response, durable_clinical_benefit, pseudoprogression
from .recist import best_overall_response, run_recist
from .results import (BestResponse, DcbResult, DissociatedResult, HpdResult, PseudoprogressionResult, ResponseResult,
                      SurvivalOutcome, TimepointResult)


class ResponseEvaluator:
    """Tumour response of one patient under RECIST 1.1, iRECIST and the atypical patterns.

    Estimator style (STYLE.md): ``__init__`` stores options, :meth:`fit` evaluates one
    document and returns ``self``; results end in ``_``.

    Parameters
    ----------
    **options
        Any :class:`~.options.ResponseOptions` field.  Options given here override the
        document's own ``options``.

    Attributes
    ----------
    input_ : ResponseInput
        The validated, order-normalised input.
    result_ : ResponseResult
        Exact results (Decimal sizes, Fraction percentages).

    Examples
    --------
    >>> ev = ResponseEvaluator(confirmation_required=True).fit(document)   # doctest: +SKIP
    >>> ev.result_.recist_bor.value                                         # doctest: +SKIP
    'PR'
    """

    def __init__(self, **options):
        self.options = options

    def fit(self, document):
        self.input_ = parse_document(document, self.options or None)
        self.result_ = evaluate_input(self.input_)
        return self

    def to_dict(self):
        return self.result_.to_dict()


def evaluate(document, options=None):
    """Evaluate one patient document and return the JSON-serialisable result dict.

    Parameters
    ----------
    document : dict
        Input in the data model of RESPONSE_RULES.md §5 (see docs/response.md).
    options : dict, optional
        Option overrides (take precedence over ``document["options"]``).

    Raises
    ------
    ResponseInputError
        Listing every problem of the document.
    """
    return evaluate_input(parse_document(document, options)).to_dict()


def evaluate_result(document, options=None):
    """Like :func:`evaluate` but return the exact :class:`~.results.ResponseResult`."""
    return evaluate_input(parse_document(document, options))


def evaluate_input(inp):
    """Evaluate an already validated :class:`~.model.ResponseInput`."""
    opts = inp.options
    facts = compute_facts(inp)
    rres = run_recist(inp, facts)
    ires, blocks = run_irecist(inp, facts)
    dis_tp, dis = dissociated_response(inp, facts)

    bor_v, bor_e, bor_d = best_overall_response(inp, facts, [r["recist_tpr"] for r in rres])
    ibor_v, ibor_e, ibor_d = best_overall_irecist(inp, facts, ires)
    rpfs = recist_pfs(inp, facts, rres)
    ipfs = irecist_pfs(inp, facts, ires, blocks)
    pp = pseudoprogression(inp, facts, ires, blocks)
    dcb = durable_clinical_benefit(inp, rpfs if opts.dcb_pfs == "recist" else ipfs,
                                   "RECIST 1.1" if opts.dcb_pfs == "recist" else "iRECIST")
    hp_common, hp = hyperprogression(inp, facts, rres)

    warn = []
    gap = (inp.treatment_start - inp.baseline.date).days
    if gap > 28:
        warn.append(f"baseline {inp.baseline.label} is {gap} days before treatment start (> 4 weeks, RECIST 1.1 §1.1)")
    for b in blocks:
        for label, kind, days in b.window_deviations:
            if kind == "late":
                warn.append(f"{label}: first assessment {days} days after the iUPD of {b.opened_label}, outside the "
                            f"4-8 week confirmation window (late confirmation, §2.4)")
    if warn:
        warnings.warn("response data deviate from protocol rules (see the result's warnings)", ResponseDataWarning,
                      stacklevel=3)

    tps = []
    for f, r, i, d in zip(facts, rres, ires, dis_tp):
        tp = f.tp
        expl = list(f.target_notes) + list(f.nt_notes) + list(f.new_notes)
        expl.append(f"RECIST 1.1 TPR {r['recist_tpr']}: " + "; ".join(r["notes"]))
        expl.append(f"iRECIST TPR {i['irecist_tpr'] or 'not assessed'}: " + "; ".join(i["notes"]))
        tps.append(TimepointResult(
            label=tp.label, date=tp.date, kind=tp.kind, days_from_treatment_start=tp.day,
            unscheduled=tp.unscheduled, symptom_driven=tp.symptom_driven, not_evaluable=tp.not_evaluable,
            target_sum_mm=f.sum_mm, measured_target_sum_mm=f.measured_sum if inp.target_ids else None,
            target_sum_complete=f.complete if inp.target_ids else False,
            pct_change_from_baseline=f.pct_change_from_baseline, nadir_prior_mm=f.nadir_prior_mm,
            nadir_prior_label=f.nadir_prior_label, pct_change_from_nadir=f.pct_change_from_nadir,
            abs_change_from_nadir_mm=f.abs_change_from_nadir_mm,
            target_response=r["target_response"], non_target_response=r["non_target_response"],
            new_lesions=f.new_now, equivocal_new_lesions=f.equivocal_ids, new_lesions_present=f.present_new,
            nlt_ids=f.nlt_ids, nlnt_ids=f.nlnt_ids, nlt_sum_mm=f.nlt_sum, nlt_nadir_prior_mm=f.nlt_nadir_prior_mm,
            recist_tpr=r["recist_tpr"], recist_tpr_prospective=r["recist_tpr_prospective"],
            irecist_tpr=i["irecist_tpr"], irecist_triggers=tuple(i["irecist_triggers"]),
            days_since_iupd=i["days_since_iupd"], iupd_window_deviation=i["iupd_window_deviation"],
            dissociated=d, explanation=tuple(expl),
        ))

    bl = inp.baseline_lesions
    baseline = {
        "label": inp.baseline.label, "date": inp.baseline.date,
        "days_from_treatment_start": inp.baseline.day,
        "target_sum_mm": sum((bl[l].size_mm for l in inp.target_ids), ZERO) if inp.target_ids else None,
        "target_ids": list(inp.target_ids), "non_target_ids": list(inp.non_target_ids),
        "target_selection": inp.target_selection,
        "has_target_disease": bool(inp.target_ids), "has_non_target_disease": bool(inp.non_target_ids),
        "pre_baseline_labels": [t.label for t in inp.pre_baseline],
    }
    episodes = tuple({
        "iupd_label": b.opened_label, "iupd_date": b.opened_date.isoformat(), "event_date": b.event_date.isoformat(),
        "triggers": list(b.triggers), "trigger_text": b.trigger_text, "outcome": b.outcome,
        "closed_label": b.closed_label, "closed_tpr": b.closed_tpr, "icpd_reasons": list(b.confirm_reasons),
        "clinically_unstable_at": list(b.unstable_labels),
        "window_deviations": [{"label": l, "kind": k, "days": n} for l, k, n in b.window_deviations],
    } for b in blocks)

    return ResponseResult(
        patient_id=inp.patient_id, input_sha256=inp.input_sha256, options=opts, treatment_start=inp.treatment_start,
        baseline=baseline, timepoints=tuple(tps),
        recist_bor=BestResponse(bor_v, tuple(bor_e), bor_d["decided_at"], bor_d["confirmed_at"]),
        irecist_ibor=BestResponse(ibor_v, tuple(ibor_e), ibor_d["decided_at"], ibor_d["confirmed_at"]),
        recist_pfs=_surv(rpfs), irecist_pfs=_surv(ipfs), iupd_episodes=episodes,
        pseudoprogression=PseudoprogressionResult(pp["any"], pp["with_response"], pp["candidate_awaiting_confirmation"],
                                                  pp["confirmation_due"], tuple(pp["episodes"]), tuple(pp["explanation"])),
        dcb=DcbResult(dcb["dcb"], dcb["pfs_used"], dcb["pfs_days"], dcb["threshold_days"], dcb["inclusive"],
                      tuple(dcb["explanation"])),
        hyperprogression_common=hp_common,
        hyperprogression={k: HpdResult(k, v["definition"], v["computable"], v["reason"], v["ratio_not_interpretable"],
                                       v["indices"], v["criteria"], v["hpd"], tuple(v["explanation"]))
                          for k, v in hp.items()},
        dissociated_response={k: DissociatedResult(k, v["definition"], v["dissociated"], v["computable"], v["reason"],
                                                   tuple(v["timepoints"]), v["first_label"], tuple(v["explanation"]))
                              for k, v in dis.items()},
        warnings=tuple(warn), meta=inp.meta,
    )


def _surv(p):
    return SurvivalOutcome(p["event"], p["event_kind"], p["date"], p["label"], p["days"], tuple(p["explanation"]))
