"""Spec validation, the immortal-time refusal, landmark analyses and the time-varying irAE split."""
import json
from datetime import date, timedelta

import pandas as pd
import pytest
from lifelines import CoxTimeVaryingFitter, KaplanMeierFitter

from analytics.compute.survival import AnalysisError, SpecError, SubjectRecord, run, validate_spec
from analytics.compute.survival.runner import split_time_varying

T0 = date(2022, 1, 3)


def day(n):
    return T0 + timedelta(days=n)


def test_defaults_are_filled():
    spec = validate_spec({"kind": "km", "endpoint": "os"})
    assert spec == {"kind": "km", "endpoint": "os", "cohort": {}, "covariates": [], "group_by": None, "cut": None,
                    "reference": {}, "times": [182, 365, 730], "landmark_weeks": 12, "irae": None, "seed": 0,
                    "time_zero": {"regimen": "first_ici"}}


def test_cohort_and_time_zero_pass_through():
    spec = validate_spec({"kind": "cox", "endpoint": "ttf", "covariates": ["sex"], "cohort": {"site": ["A"]},
                          "time_zero": {"line_of_therapy": 2}})
    assert spec["cohort"] == {"site": ["A"]} and spec["time_zero"] == {"line_of_therapy": 2}
    assert validate_spec({"kind": "km", "endpoint": "os", "time_zero": {"drug_class": "anti-PD-1"}})[
        "time_zero"] == {"drug_class": "anti-PD-1"}


@pytest.mark.parametrize("spec, field", [
    ({"endpoint": "os"}, "kind"),
    ({"kind": "km", "endpoint": "dfs"}, "endpoint"),
    ({"kind": "km", "endpoint": "os", "covariate": ["sex"]}, "covariate"),
    ({"kind": "km", "endpoint": "os", "covariates": ["sex"]}, "covariates"),
    ({"kind": "cox", "endpoint": "os"}, "covariates"),
    ({"kind": "km", "endpoint": "os", "cut": [1, 50]}, "cut"),
    ({"kind": "km", "endpoint": "os", "group_by": "pdl1_tps", "cut": [50, 1]}, "cut"),
    ({"kind": "km", "endpoint": "os", "times": [-1]}, "times"),
    ({"kind": "cox_tv", "endpoint": "os"}, "irae"),
    ({"kind": "cox_tv", "endpoint": "os", "irae": {"irae": "colitis", "min_grade": 7}}, "irae"),
    ({"kind": "km", "endpoint": "os", "irae": "irae_any"}, "irae"),
    ({"kind": "km", "endpoint": "os", "time_zero": {"line_of_therapy": 0}}, "time_zero"),
    ({"kind": "cox", "endpoint": "os", "covariates": ["sex"], "reference": {"ecog": 0}}, "reference"),
    ({"kind": "km", "endpoint": "os", "seed": "x"}, "seed"),
])
def test_invalid_specs_name_the_field(spec, field):
    with pytest.raises(SpecError) as info:
        validate_spec(spec)
    assert info.value.field == field and info.value.message


@pytest.mark.parametrize("spec", [
    {"kind": "km", "endpoint": "os", "group_by": "recist_bor"},
    {"kind": "cox", "endpoint": "pfs_recist", "covariates": ["age_at_start", "dcb"]},
    {"kind": "cox_tv", "endpoint": "os", "covariates": ["pseudoprogression"], "irae": "irae_any"},
])
def test_response_groups_at_time_zero_are_refused_as_immortal_time_bias(spec):
    with pytest.raises(SpecError, match="immortal-time bias") as info:
        run(spec, [])
    assert "landmark" in info.value.message and "survive long enough to respond" in info.value.message


def responders():
    """Six patients: 0-2 responders known by week 8, 3-5 not; one dies at day 50 (before the 12-week landmark)."""
    specs = [  # (pid, death day or None, last contact, BOR, BOR known day)
        (1, 400, 400, "PR", 56), (2, None, 500, "PR", 56), (3, 300, 300, "PR", 56),
        (4, 200, 200, "PD", 56), (5, 150, 150, "SD", 70), (6, 50, 50, "PD", 42),
        (7, 250, 250, "PR", 120)]  # 7's response is only known after the landmark
    return [SubjectRecord(pid, T0, death_date=day(d) if d else None, last_contact=day(lc),
                          response_groups={"recist_bor": bor, "pseudoprogression": pid == 5},
                          response_group_dates={"recist_bor": day(k), "pseudoprogression": day(100 if pid == 5 else 60)},
                          covariates={"sex": "FM"[pid % 2]})
            for pid, d, lc, bor, k in specs]


def test_landmark_excludes_the_not_event_free_and_rezeroes_time():
    result = run({"kind": "landmark", "endpoint": "os", "group_by": "recist_bor", "times": [100]}, responders())
    assert result["landmark_days"] == 84 and result["method"] == "km"
    assert result["excluded"] == {"event or censoring on or before the landmark": 1,
                                  "recist_bor not known at the landmark": 1}
    groups = {g["group"]: g for g in result["groups"]}
    assert set(groups) == {"PD", "PR", "SD"}
    kmf = KaplanMeierFitter().fit([400 - 84, 500 - 84, 300 - 84], [1, 0, 1])
    assert groups["PR"]["median"] == pytest.approx(kmf.median_survival_time_)
    assert groups["PR"]["at_risk"][0] == {"time": 0, "n": 3}
    assert groups["PD"]["curve"][-1]["time"] == 200 - 84
    json.dumps(result, allow_nan=False)


def test_landmark_flag_is_the_value_known_at_the_landmark():
    # patient 5's pseudoprogression became known on day 100: "no" at a 12-week landmark, "yes" at 15 weeks
    with pytest.raises(AnalysisError, match="pseudoprogression has a single level \\(False\\)"):
        run({"kind": "landmark", "endpoint": "os", "group_by": "pseudoprogression"}, responders())
    result = run({"kind": "landmark", "endpoint": "os", "group_by": "pseudoprogression", "landmark_weeks": 15},
                 responders())
    assert {g["group"]: g["n"] for g in result["groups"]} == {"False": 5, "True": 1}
    assert result["excluded"] == {"event or censoring on or before the landmark": 1}


def test_landmark_cox_uses_the_response_group_as_a_covariate():
    records = []
    for i in range(80):
        responder = i % 3 == 0
        death = 120 + (3 * i if responder else i)
        records.append(SubjectRecord(i, T0, death_date=day(death) if i % 5 else None, last_contact=day(death),
                                     response_groups={"recist_bor": "PR" if responder else "SD"},
                                     response_group_dates={"recist_bor": day(56)},
                                     covariates={"age_at_start": 40 + i % 30}))
    result = run({"kind": "landmark", "endpoint": "os", "covariates": ["recist_bor", "age_at_start"],
                  "reference": {"recist_bor": "SD"}}, records)
    assert result["method"] == "cox" and [t["term"] for t in result["terms"]] == ["recist_bor[PR]", "age_at_start"]
    assert result["terms"][0]["hr"] < 1
    json.dumps(result, allow_nan=False)


def tv_records():
    """Four patients with a hand-checkable split (pneumonitis grade >= 2 as the time-varying covariate)."""
    return [
        SubjectRecord(1, T0, death_date=day(100), last_contact=day(100),
                      irae_onsets=[("pneumonitis", 2, day(30)), ("colitis", 3, day(10))]),
        SubjectRecord(2, T0, last_contact=day(200), irae_onsets=[("pneumonitis", 1, day(20))]),  # grade too low
        SubjectRecord(3, T0, death_date=day(80), last_contact=day(80), irae_onsets=[("Pneumonitis", 3, T0)]),  # day 0
        SubjectRecord(4, T0, death_date=day(60), last_contact=day(60),
                      irae_onsets=[("pneumonitis", 2, day(60))]),  # onset at the event: stays 0
    ]


def test_time_varying_split_matches_the_hand_written_table():
    frame = pd.DataFrame({"patient_id": [1, 2, 3, 4], "duration_days": [100, 200, 80, 60], "event": [1, 0, 1, 1]})
    long = split_time_varying(frame, {r.patient_id: r for r in tv_records()}, {"irae": "pneumonitis", "min_grade": 2},
                              "irae")
    expected = pd.DataFrame({"patient_id": [1, 1, 2, 3, 4], "start": [0, 30, 0, 0, 0], "stop": [30, 100, 200, 80, 60],
                             "event": [0, 1, 0, 1, 1], "irae": [0.0, 1.0, 0.0, 1.0, 0.0]})
    pd.testing.assert_frame_equal(long.reset_index(drop=True), expected, check_dtype=False)
    any_grade = split_time_varying(frame, {r.patient_id: r for r in tv_records()}, {"irae": "any", "min_grade": 1},
                                   "irae")
    assert any_grade["start"].tolist() == [0, 10, 0, 20, 0, 0]


def test_cox_tv_equals_lifelines_on_the_split_table():
    records = []
    for i in range(120):
        onset = 20 + (i * 7) % 150 if i % 3 == 0 else None
        end = 60 + (i * 37) % 500
        records.append(SubjectRecord(i, T0, death_date=day(end) if i % 4 else None, last_contact=day(end),
                                     covariates={"sex": "FM"[i % 2]},
                                     irae_onsets=[("colitis", 2, day(onset))] if onset is not None else []))
    result = run({"kind": "cox_tv", "endpoint": "os", "covariates": ["sex"],
                  "irae": {"irae": "colitis", "min_grade": 2}}, records)
    frame = pd.DataFrame([{"patient_id": r.patient_id, "duration_days": (r.last_contact - T0).days,
                           "event": int(r.death_date is not None), "sex[M]": float(r.covariates["sex"] == "M")}
                          for r in records])
    term = "irae[colitis, grade>=2]"
    long = split_time_varying(frame, {r.patient_id: r for r in records}, {"irae": "colitis", "min_grade": 2}, term)
    ctv = CoxTimeVaryingFitter().fit(long, id_col="patient_id", event_col="event", start_col="start",
                                     stop_col="stop")
    assert [t["term"] for t in result["terms"]] == ["sex[M]", term]
    for t in result["terms"]:
        assert t["coef"] == pytest.approx(ctv.summary.loc[t["term"], "coef"], abs=1e-9)
        assert t["se"] == pytest.approx(ctv.summary.loc[t["term"], "se(coef)"], abs=1e-9)
        assert t["p"] == pytest.approx(ctv.summary.loc[t["term"], "p"], abs=1e-9)
    exposed = sum(1 for r in records if r.irae_onsets and r.irae_onsets[0][2] < r.last_contact)
    assert result["n_intervals"] == len(long) == 120 + exposed and result["exposed"] == exposed == 38
    assert result["ties"] == "efron" and result["ph_test"] == []
    json.dumps(result, allow_nan=False)


def test_cox_tv_without_any_exposed_patient_is_an_error():
    records = [SubjectRecord(i, T0, death_date=day(50 + i), last_contact=day(50 + i)) for i in range(30)]
    with pytest.raises(AnalysisError, match="No analysed patient had pneumonitis irAE of grade 2"):
        run({"kind": "cox_tv", "endpoint": "os", "irae": {"irae": "pneumonitis", "min_grade": 2}}, records)


def test_a_reference_level_for_a_numeric_covariate_is_refused():
    records = [SubjectRecord(i, T0, death_date=day(30 + i), last_contact=day(30 + i), covariates={"tmb": i % 7})
               for i in range(30)]
    with pytest.raises(SpecError, match="tmb is numeric"):
        run({"kind": "cox", "endpoint": "os", "covariates": ["tmb"], "reference": {"tmb": 0}}, records)
