"""Property-based tests of the response engine (hypothesis).

Properties
----------
1. Any valid generated document evaluates without error to JSON-serialisable output whose
   categories come from the documented vocabularies.
   So does every document the synthetic generator (demo.compute.synthetic) writes, for each of its patterns.
2. Reordering lesions (and new lesions) inside every timepoint never changes anything.
3. Giving the timepoints in any order never changes anything (they are sorted by date).
4. Scaling every size by the same factor never changes a category - *restricted* to inputs
   where scaling is truly neutral.  RECIST/iRECIST mix relative rules (±20 %, -30 %, ratios)
   with absolute ones that pure scaling breaks:
     * the 5 mm PD floor, the 5 mm iCPD growth (target and NLT) and Bernard-Tessier's / Wong's
       5 mm - made neutral by using sizes that are multiples of 5 mm and factors >= 1, so
       every absolute difference is either <= 0 or >= 5 mm before *and* after scaling;
     * the 5 mm "too small to measure" default (a constant, not scaled) - excluded;
     * the 10 mm node rules (CR, pathological node, new node) and the 15 mm nodal target
       minimum - excluded by using non-nodal lesions only;
     * the 10 mm measurability of targets and new lesions (NLT vs NLNT) - baseline targets
       and new lesions are >= 10 mm, which factors >= 1 preserve.
   Under these restrictions every threshold test is homogeneous, so categories, BOR/iBOR,
   dates, pseudoprogression, DCB, HPD verdicts and dissociated flags must be identical.
   Kinetic indices such as TGK (mm/month) do scale and are not compared.
"""

import datetime as dt
import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest

from analytics.compute.response import evaluate
from demo.compute.synthetic import PATTERNS, generate_patient

pytestmark = pytest.mark.filterwarnings("ignore::analytics.compute.response.errors.ResponseDataWarning")

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = dt.date(2023, 1, 10)
TPRS = {"CR", "PR", "SD", "PD", "NE", "NON-CR/NON-PD"}
ITPRS = {"iCR", "iPR", "iSD", "iUPD", "iCPD", "NE", "NON-iCR/NON-iUPD", None}
NT_STATUSES = ["present", "absent", "unequivocal-progression", "increased-from-last-assessment", "not-evaluated"]
OPTION_CHOICES = {
    "confirmation_required": st.booleans(),
    "keep_pr_after_confirmed_pr": st.booleans(),
    "cr_followed_by_disease": st.sampled_from(["relabel-cr-as-pr", "pd-after-true-cr"]),
    "unconfirmed_iupd_policy": st.sampled_from(["event_at_iupd_date", "censor_at_last_adequate_assessment"]),
    "ratio_nonpositive_reference": st.sampled_from(["not-hpd", "hpd-if-growing", "undetermined"]),
    "kim_combination": st.sampled_from(["any-ratio-and-ttf", "all", "any"]),
    "dcb_pfs": st.sampled_from(["recist", "irecist"]),
}


@st.composite
def documents(draw, scale_safe=False):
    """Valid documents; ``scale_safe`` restricts them as described in the module docstring."""
    n_fu = draw(st.integers(1, 6))
    gaps = draw(st.lists(st.integers(14, 120), min_size=n_fu, max_size=n_fu))
    days = [sum(gaps[: i + 1]) for i in range(n_fu)]
    n_t = draw(st.integers(0, 4))
    n_nt = draw(st.integers(0 if n_t else 1, 2))
    if scale_safe:
        base_size = st.integers(2, 20).map(lambda k: 5 * k)
        fu_size = st.one_of(st.integers(0, 30).map(lambda k: 5 * k), st.sampled_from(["disappeared", "not-assessed"]))
    else:
        base_size = st.integers(40, 400).map(lambda k: k / 4)
        fu_size = st.one_of(st.integers(0, 600).map(lambda k: k / 4),
                            st.sampled_from(["disappeared", "too-small-to-measure", "not-assessed"]))
    base, fus = [], [[] for _ in range(n_fu)]
    for i in range(n_t):
        n_nodal = sum(1 for b in base if b["nodal"])
        nodal = False if scale_safe or n_nodal >= 2 else draw(st.booleans())
        size = draw(base_size)
        if nodal:
            size = max(size, 15)
        base.append({"id": f"T{i}", "kind": "target", "organ": f"organ{i}", "nodal": nodal, "size_mm": size})
        for k in range(n_fu):
            v = draw(fu_size)
            fus[k].append({"id": f"T{i}", "measurement": v} if isinstance(v, str) else {"id": f"T{i}", "size_mm": v})
    for i in range(n_nt):
        base.append({"id": f"NT{i}", "kind": "non-target", "organ": f"organ{i % 3}", "nodal": False})
        for k in range(n_fu):
            fus[k].append({"id": f"NT{i}", "status": draw(st.sampled_from(NT_STATUSES))})
    news = [[] for _ in range(n_fu)]
    for j in range(draw(st.integers(0, 3))):
        first = draw(st.integers(0, n_fu - 1))
        organ = draw(st.sampled_from(["organ0", "organ1", "brain", "skin"]))
        equivocal_first = draw(st.booleans()) if not scale_safe else False
        qualitative = draw(st.booleans())
        for k in range(first, n_fu):
            e = {"id": f"N{j}"}
            if k == first:
                e["organ"] = organ
                if equivocal_first:
                    e["equivocal"] = True
            if qualitative:
                e["status"] = "present" if k == first else draw(st.sampled_from(["present", "increased-from-last-assessment",
                                                                                  "absent"]))
            else:
                if scale_safe:
                    v = draw(st.integers(2, 12).map(lambda x: 5 * x)) if k == first else draw(
                        st.integers(0, 12).map(lambda x: 5 * x))
                else:
                    v = draw(st.integers(4, 120).map(lambda x: x / 4)) if k == first else draw(
                        st.integers(0, 120).map(lambda x: x / 4))
                if v == 0:
                    e["measurement"] = "disappeared"
                else:
                    e["size_mm"] = v
            news[k].append(e)
    tps = []
    if n_t and draw(st.booleans()):
        tps.append({"label": "PRE", "date": (START - dt.timedelta(days=draw(st.integers(30, 150)))).isoformat(),
                    "kind": "pre-baseline",
                    "lesions": [{"id": b["id"], "size_mm": draw(base_size)} for b in base if b["kind"] == "target"]})
    tps.append({"label": "BL", "date": (START - dt.timedelta(days=draw(st.integers(0, 20)))).isoformat(),
                "kind": "baseline", "lesions": base})
    for k in range(n_fu):
        tp = {"label": f"TP{k + 1}", "date": (START + dt.timedelta(days=days[k])).isoformat(), "lesions": fus[k]}
        if news[k]:
            tp["new_lesions"] = news[k]
        if draw(st.booleans()):
            tp["symptom_driven"] = True
        tps.append(tp)
    doc = {"treatment_start": START.isoformat(), "timepoints": tps}
    if draw(st.booleans()):
        doc["clinical"] = {"ttf_days": draw(st.integers(1, 900)), "ecog_baseline": draw(st.integers(0, 2)),
                           "ecog_worst_first_2_months": draw(st.integers(0, 4))}
    opts = draw(st.fixed_dictionaries({}, optional=OPTION_CHOICES))
    if opts:
        doc["options"] = opts
    return doc


@SETTINGS
@given(documents())
def test_any_valid_document_evaluates(doc):
    out = evaluate(doc)
    json.dumps(out)
    for t in out["timepoints"]:
        assert t["recist_tpr"] in TPRS and t["irecist_tpr"] in ITPRS
        assert isinstance(t["explanation"], list) and t["explanation"]
    assert out["recist_bor"]["value"] in TPRS
    assert out["irecist_ibor"]["value"] in ITPRS - {None}
    pd_dates = [t["date"] for t in out["timepoints"] if t["recist_tpr"] == "PD"]
    if out["recist_progression_date"] is not None:
        assert pd_dates and out["recist_progression_date"] <= pd_dates[0]
    for block in out["hyperprogression"].values():
        if "hpd" in block:
            assert block["computable"] == (block["hpd"] is not None)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10 ** 6), st.sampled_from(PATTERNS))
def test_generated_documents_evaluate_and_ignore_lesion_order(seed, pattern):
    doc = generate_patient(seed, pattern=pattern)
    out = evaluate(doc)
    json.dumps(out)
    assert all(t["recist_tpr"] in TPRS and t["irecist_tpr"] in ITPRS for t in out["timepoints"])
    assert out["recist_bor"]["value"] in TPRS and out["irecist_ibor"]["value"] in ITPRS - {None}
    assert evaluate(_shuffled(doc, seed)) == out


def _shuffled(doc, seed):
    rng = random.Random(seed)
    doc = json.loads(json.dumps(doc))
    for tp in doc["timepoints"]:
        rng.shuffle(tp["lesions"])
        if "new_lesions" in tp:
            rng.shuffle(tp["new_lesions"])
    return doc


@SETTINGS
@given(documents(), st.integers(0, 10 ** 6))
def test_reordering_lesions_never_changes_anything(doc, seed):
    assert evaluate(_shuffled(doc, seed)) == evaluate(doc)


@SETTINGS
@given(documents(), st.integers(0, 10 ** 6))
def test_timepoint_order_never_changes_anything(doc, seed):
    other = json.loads(json.dumps(doc))
    random.Random(seed).shuffle(other["timepoints"])
    assert evaluate(other) == evaluate(doc)


def _scaled(doc, k):
    doc = json.loads(json.dumps(doc))
    for tp in doc["timepoints"]:
        for les in tp["lesions"] + tp.get("new_lesions", []):
            if "size_mm" in les:
                les["size_mm"] = les["size_mm"] * k
    return doc


def _categories(out):
    tps = [(t["target_response"], t["non_target_response"], t["recist_tpr"], t["recist_tpr_prospective"],
            t["irecist_tpr"], tuple(t["irecist_triggers"]), tuple(t["nlt_ids"]), tuple(t["nlnt_ids"]),
            tuple(sorted(t["dissociated"].items()))) for t in out["timepoints"]]
    pp = out["pseudoprogression"]
    return {
        "tps": tps, "bor": out["recist_bor"]["value"], "ibor": out["irecist_ibor"]["value"],
        "dates": (out["recist_progression_date"], out["ipfs_event_date"]),
        "pp": (pp["any"], pp["with_response"], pp["candidate_awaiting_confirmation"]),
        "dcb": out["dcb"]["dcb"],
        "hpd": {k: (v["hpd"], v.get("criteria") and tuple(sorted(v["criteria"].items())))
                for k, v in out["hyperprogression"].items() if k != "common"},
        "dissociated": {k: (v["dissociated"], tuple(v["timepoints"])) for k, v in out["dissociated_response"].items()},
    }


@SETTINGS
@given(documents(scale_safe=True), st.sampled_from([1, 1.5, 2, 2.5, 3, 4.2, 10]))
def test_scaling_sizes_never_changes_a_category_when_scaling_is_neutral(doc, k):
    assert _categories(evaluate(_scaled(doc, k))) == _categories(evaluate(doc))


def test_scaling_restriction_is_necessary():
    """The restriction is not decorative: +4 mm (+20 %) is SD, scaled by 2 (+8 mm, +20 %) it is PD."""
    doc = {"treatment_start": "2023-01-10", "timepoints": [
        {"label": "BL", "date": "2023-01-05", "kind": "baseline",
         "lesions": [{"id": "T1", "kind": "target", "organ": "liver", "size_mm": 20}]},
        {"label": "TP1", "date": "2023-03-07", "lesions": [{"id": "T1", "size_mm": 24}]}]}
    assert evaluate(doc)["timepoints"][0]["target_response"] == "SD"
    assert evaluate(_scaled(doc, 2))["timepoints"][0]["target_response"] == "PD"
