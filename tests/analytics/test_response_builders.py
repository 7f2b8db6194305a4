"""Document builders shared by the response-engine tests (plus tests of the builders themselves)."""

import datetime as dt

from analytics.compute.response import evaluate, evaluate_result

START = dt.date(2023, 1, 10)
BASELINE = dt.date(2023, 1, 5)
_STATUS_WORDS = {"disappeared", "too-small-to-measure", "not-assessed"}


def day(n):
    """ISO date ``n`` days after treatment start."""
    return (START + dt.timedelta(days=n)).isoformat()


def make_doc(targets=None, *, nontargets=None, new=None, days=None, interval=56, organs=None, nodal=(),
             pre=None, pre_days_before=91, options=None, clinical=None, flags=None, tp_extra=None):
    """Build an input document.

    targets : {id: [baseline, fu1, fu2, ...]} sizes; a string entry is a measurement status,
        a dict entry is used verbatim (e.g. fragments_mm), None omits nothing but means "not-assessed".
    nontargets : {id: [fu1_status, fu2_status, ...]} (baseline is implicit 'present'); organ
        "nt-organ" unless given in ``organs``; nodal if in ``nodal``.
    new : {id: {fu_index (1-based): size | status string | dict}}, organ from ``organs`` or "new-organ".
    days : follow-up days since treatment start; default interval * k.
    pre : {id: size} for a pre-baseline scan ``pre_days_before`` days before baseline.
    flags : {fu_index: {flag: value}} per follow-up flags.
    """
    targets = targets or {}
    nontargets = nontargets or {}
    new = new or {}
    organs = organs or {}
    n_fu = max([len(v) - 1 for v in targets.values()] + [len(v) for v in nontargets.values()]
               + [max(v) for v in new.values() if v] + [0])
    if days is None:
        days = [interval * (k + 1) for k in range(n_fu)]
    tps = []
    if pre is not None:
        tps.append({"label": "PRE", "date": (BASELINE - dt.timedelta(days=pre_days_before)).isoformat(),
                    "kind": "pre-baseline",
                    "lesions": [{"id": k, "measurement": v} if isinstance(v, str) else {"id": k, "size_mm": v}
                                for k, v in pre.items()]})
    base = []
    for lid, series in targets.items():
        base.append({"id": lid, "kind": "target", "organ": organs.get(lid, f"organ-{lid}"), "nodal": lid in nodal,
                     "size_mm": series[0]})
    for lid in nontargets:
        entry = {"id": lid, "kind": "non-target", "organ": organs.get(lid, "nt-organ"), "nodal": lid in nodal}
        base.append(entry)
    tps.append({"label": "BL", "date": BASELINE.isoformat(), "kind": "baseline", "lesions": base})
    for k in range(n_fu):
        les = []
        for lid, series in targets.items():
            v = series[k + 1]
            if isinstance(v, dict):
                les.append({"id": lid, **v})
            elif v is None:
                les.append({"id": lid, "measurement": "not-assessed"})
            elif isinstance(v, str):
                les.append({"id": lid, "measurement": v})
            else:
                les.append({"id": lid, "size_mm": v})
        for lid, statuses in nontargets.items():
            st = statuses[k]
            les.append({"id": lid, **st} if isinstance(st, dict) else {"id": lid, "status": st})
        tp = {"label": f"TP{k + 1}", "date": day(days[k]), "lesions": les}
        nls = []
        for nid, by_tp in new.items():
            if (k + 1) in by_tp:
                v = by_tp[k + 1]
                e = {"id": nid, "organ": organs.get(nid, "new-organ")}
                if isinstance(v, dict):
                    e.update(v)
                elif isinstance(v, str):
                    e["measurement" if v in _STATUS_WORDS else "status"] = v
                else:
                    e["size_mm"] = v
                nls.append(e)
        if nls:
            tp["new_lesions"] = nls
        if flags and (k + 1) in flags:
            tp.update(flags[k + 1])
        if tp_extra and (k + 1) in tp_extra:
            tp.update(tp_extra[k + 1])
        tps.append(tp)
    doc = {"patient_id": "TEST", "treatment_start": START.isoformat(), "timepoints": tps}
    if options:
        doc["options"] = options
    if clinical:
        doc["clinical"] = clinical
    return doc


def run(doc, **options):
    return evaluate(doc, options or None)


def result(doc, **options):
    return evaluate_result(doc, options or None)


def col(res, key):
    """Per-follow-up values of ``key`` from an evaluate() dict."""
    return [t[key] for t in res["timepoints"]]


def test_builder_produces_a_valid_document():
    doc = make_doc({"T1": [50, 40, 30]}, nontargets={"NT1": ["present", "absent"]}, new={"N1": {2: 12}})
    out = run(doc)
    assert [t["label"] for t in out["timepoints"]] == ["TP1", "TP2"]
    assert out["timepoints"][1]["new_lesions"] == ["N1"]


def test_builder_status_words_map_to_measurement_fields():
    doc = make_doc({"T1": [50, "too-small-to-measure", None]})
    les = [tp["lesions"][0] for tp in doc["timepoints"][1:]]
    assert les == [{"id": "T1", "measurement": "too-small-to-measure"}, {"id": "T1", "measurement": "not-assessed"}]
