"""KM and Cox results equal lifelines called directly on the same derived table; the Rossi recidivism data set
reproduces its published Cox coefficients; errors are plain messages, never NaN tables."""
import json
import random
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_rossi
from lifelines.statistics import logrank_test, multivariate_logrank_test, proportional_hazard_test
from lifelines.utils import median_survival_times

from analytics.compute.survival import AnalysisError, SubjectRecord, run
from analytics.compute.survival.runner import canonical_csv, sha256_of

T0 = date(2020, 1, 6)
TOL = 1e-9


def cohort(n=240, seed=3):
    rng = random.Random(seed)
    records = []
    for i in range(n):
        sex = rng.choice("FM")
        ecog = rng.choice([0, 1, 2])
        tps = rng.choice([0, 0.5, 5, 20, 49.9, 50, 75, 95])
        scale = 300 * (1.5 if sex == "F" else 1.0) / (1 + 0.4 * ecog) * (1.6 if tps >= 50 else 1.0)
        duration = max(1, int(rng.expovariate(1 / scale)))
        follow_up = rng.randint(60, 900)
        dead = duration <= follow_up
        records.append(SubjectRecord(
            patient_id=1000 - i, time_zero=T0,
            death_date=T0 + timedelta(days=duration) if dead else None,
            last_contact=T0 + timedelta(days=min(duration, follow_up)),
            covariates={"sex": sex, "ecog_baseline": ecog, "pdl1_tps": tps, "age_at_start": rng.randint(35, 85),
                        "smoking_status": rng.choice(["never", "former", "current"])}))
    return records


def os_table(records):
    rows = []
    for r in sorted(records, key=lambda r: r.patient_id):
        end = r.death_date or r.last_contact
        rows.append({"patient_id": r.patient_id, "duration_days": (end - r.time_zero).days,
                     "event": int(r.death_date is not None), **r.covariates})
    return pd.DataFrame(rows)


def test_cox_equals_lifelines_on_the_derived_table():
    records = cohort()
    result = run({"kind": "cox", "endpoint": "os",
                  "covariates": ["age_at_start", "sex", "ecog_baseline", "smoking_status"],
                  "reference": {"smoking_status": "never"}}, records)
    table = os_table(records)
    direct = pd.DataFrame({
        "duration_days": table["duration_days"], "event": table["event"], "age_at_start": table["age_at_start"] * 1.0,
        "sex[M]": (table["sex"] == "M") * 1.0, "ecog_baseline": table["ecog_baseline"] * 1.0,
        "smoking_status[current]": (table["smoking_status"] == "current") * 1.0,
        "smoking_status[former]": (table["smoking_status"] == "former") * 1.0})
    cph = CoxPHFitter().fit(direct, "duration_days", "event")
    assert [t["term"] for t in result["terms"]] == list(cph.summary.index)
    for term in result["terms"]:
        row = cph.summary.loc[term["term"]]
        assert term["coef"] == pytest.approx(row["coef"], abs=TOL)
        assert term["se"] == pytest.approx(row["se(coef)"], abs=TOL)
        assert term["hr"] == pytest.approx(row["exp(coef)"], abs=TOL)
        assert term["hr_lower"] == pytest.approx(row["exp(coef) lower 95%"], abs=TOL)
        assert term["hr_upper"] == pytest.approx(row["exp(coef) upper 95%"], abs=TOL)
        assert term["p"] == pytest.approx(row["p"], abs=TOL)
    assert result["concordance"] == pytest.approx(cph.concordance_index_, abs=TOL)
    ph = proportional_hazard_test(cph, direct, time_transform="rank").summary
    for row in result["ph_test"]:
        assert row["statistic"] == pytest.approx(ph.loc[row["term"], "test_statistic"], abs=TOL)
        assert row["p"] == pytest.approx(ph.loc[row["term"], "p"], abs=TOL)
        assert row["violated"] == (ph.loc[row["term"], "p"] < 0.05)
    assert result["ties"] == "efron"
    assert result["n"] == len(records) and result["events"] == int(table["event"].sum())
    assert result["reference"] == {"sex": "F", "smoking_status": "never"}
    # the hash is of exactly this table, in canonical form, sorted by patient_id
    assert result["input_sha256"] == sha256_of(canonical_csv(
        pd.concat([table[["patient_id"]], direct], axis=1), ["patient_id"]))
    json.dumps(result, allow_nan=False)


def test_km_equals_lifelines_with_cut_groups_and_logrank():
    records = cohort()
    times = [90, 182, 365, 730]
    result = run({"kind": "km", "endpoint": "os", "group_by": "pdl1_tps", "cut": [1, 50], "times": times}, records)
    table = os_table(records)
    table["group"] = np.where(table["pdl1_tps"] < 1, "pdl1_tps <1",
                              np.where(table["pdl1_tps"] < 50, "pdl1_tps 1–<50", "pdl1_tps ≥50"))
    assert [g["group"] for g in result["groups"]] == ["pdl1_tps <1", "pdl1_tps 1–<50", "pdl1_tps ≥50"]
    for group in result["groups"]:
        part = table[table["group"] == group["group"]]
        kmf = KaplanMeierFitter().fit(part["duration_days"], part["event"])
        ci = median_survival_times(kmf.confidence_interval_)
        assert group["n"] == len(part) and group["events"] == int(part["event"].sum())
        for key, expected in (("median", kmf.median_survival_time_), ("median_lower", ci.iloc[0, 0]),
                              ("median_upper", ci.iloc[0, 1])):
            if np.isfinite(expected):
                assert group[key] == pytest.approx(expected, abs=TOL)
            else:
                assert group[key] is None
        for point in group["survival"]:
            if point["time"] > part["duration_days"].max():
                assert point["s"] is None
                continue
            assert point["s"] == pytest.approx(kmf.survival_function_at_times(point["time"]).iloc[0], abs=TOL)
            band = kmf.confidence_interval_.loc[:point["time"]].iloc[-1]
            assert point["lower"] == pytest.approx(band.iloc[0], abs=TOL)
            assert point["upper"] == pytest.approx(band.iloc[1], abs=TOL)
        assert group["at_risk"] == [{"time": t, "n": int((part["duration_days"] >= t).sum())} for t in [0, *times]]
    test = multivariate_logrank_test(table["duration_days"], table["group"], table["event"])
    assert result["logrank"]["statistic"] == pytest.approx(test.test_statistic, abs=TOL)
    assert result["logrank"]["p"] == pytest.approx(test.p_value, abs=TOL)
    assert result["logrank"]["df"] == 2
    json.dumps(result, allow_nan=False)


def test_km_two_groups_logrank_equals_the_two_sample_test_and_one_group_has_none():
    records = cohort()
    result = run({"kind": "km", "endpoint": "os", "group_by": "sex"}, records)
    table = os_table(records)
    f, m = table[table["sex"] == "F"], table[table["sex"] == "M"]
    test = logrank_test(f["duration_days"], m["duration_days"], f["event"], m["event"])
    assert result["logrank"]["statistic"] == pytest.approx(test.test_statistic, abs=TOL)
    assert result["logrank"]["p"] == pytest.approx(test.p_value, abs=TOL)
    overall = run({"kind": "km", "endpoint": "os"}, records)
    assert overall["logrank"] is None and [g["group"] for g in overall["groups"]] == ["all"]
    kmf = KaplanMeierFitter().fit(table["duration_days"], table["event"])
    assert overall["groups"][0]["median"] == pytest.approx(kmf.median_survival_time_, abs=TOL)


# Fox J, Weisberg S. "Cox Proportional-Hazards Regression for Survival Data in R", appendix to An R Companion to
# Applied Regression (2nd ed., 2011), coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio);
# the same numbers are printed in lifelines' docs ("Survival regression", CoxPHFitter on load_rossi():
# fin -0.38, age -0.06, race 0.31, wexp -0.15, mar -0.43, paro -0.08, prio 0.09; se 0.19, 0.02, 0.31, 0.21,
# 0.38, 0.20, 0.03; concordance 0.64).
ROSSI_PUBLISHED = {"fin": -0.37942, "age": -0.05744, "race": 0.31390, "wexp": -0.14980, "mar": -0.43370,
                   "paro": -0.08487, "prio": 0.09150}
ROSSI_SE = {"fin": 0.19138, "age": 0.02200, "race": 0.30799, "wexp": 0.21222, "mar": 0.38187, "paro": 0.19576,
            "prio": 0.02865}


def rossi_records():
    """Each released prisoner as a SubjectRecord: week of arrest as the 'death' day, else censored at week 52.

    Cox estimates depend on the ordering of times only, so weeks stored as days give the same coefficients.
    """
    records = []
    for i, row in load_rossi().iterrows():
        end = T0 + timedelta(days=int(row["week"]))
        records.append(SubjectRecord(
            patient_id=i + 1, time_zero=T0, death_date=end if row["arrest"] else None, last_contact=end,
            covariates={name: int(row[name]) for name in ROSSI_PUBLISHED}))
    return records


def test_rossi_reproduces_the_published_cox_coefficients():
    result = run({"kind": "cox", "endpoint": "os", "covariates": list(ROSSI_PUBLISHED)}, rossi_records())
    assert result["n"] == 432 and result["events"] == 114
    terms = {t["term"]: t for t in result["terms"]}
    for name, coef in ROSSI_PUBLISHED.items():
        assert terms[name]["coef"] == pytest.approx(coef, abs=1e-4)
        assert terms[name]["se"] == pytest.approx(ROSSI_SE[name], abs=1e-4)
    assert result["concordance"] == pytest.approx(0.640, abs=1e-3)
    json.dumps(result, allow_nan=False)


def test_few_events_per_variable_warns():
    records = cohort(n=40, seed=5)
    result = run({"kind": "cox", "endpoint": "os", "covariates": ["age_at_start", "sex", "ecog_baseline"]}, records)
    assert any("per term, fewer than 10" in w for w in result["warnings"])


def test_a_covariate_with_one_level_is_named():
    records = [SubjectRecord(i, r.time_zero, death_date=r.death_date, last_contact=r.last_contact,
                             covariates={**r.covariates, "sex": "F"}) for i, r in enumerate(cohort())]
    with pytest.raises(AnalysisError, match="sex has a single level"):
        run({"kind": "cox", "endpoint": "os", "covariates": ["age_at_start", "sex"]}, records)
    with pytest.raises(AnalysisError, match="sex has a single level"):
        run({"kind": "km", "endpoint": "os", "group_by": "sex"}, records)


def test_perfect_separation_is_a_plain_error():
    records = []
    for i in range(60):
        treated = i % 2
        end = T0 + timedelta(days=(5 + i if treated else 400 + i))
        records.append(SubjectRecord(i, T0, death_date=end if treated else None, last_contact=end,
                                     covariates={"arm": "B" if treated else "A"}))
    with pytest.raises(AnalysisError, match="perfect separation") as info:
        run({"kind": "cox", "endpoint": "os", "covariates": ["arm"]}, records)
    assert "nan" not in str(info.value).lower()


def test_no_events_and_no_patients():
    alive = [SubjectRecord(i, T0, last_contact=T0 + timedelta(days=100 + i), covariates={"sex": "FM"[i % 2]})
             for i in range(20)]
    with pytest.raises(AnalysisError, match="None of the 20 analysed patients has an event"):
        run({"kind": "km", "endpoint": "os"}, alive)
    with pytest.raises(AnalysisError, match="No patient is left.*2 no regimen matching the time zero"):
        run({"kind": "km", "endpoint": "os"}, [SubjectRecord(1, None), SubjectRecord(2, None)])


def test_missing_covariates_are_complete_cases_counted_once():
    records = cohort(n=120)
    records[0] = SubjectRecord(records[0].patient_id, T0, death_date=records[0].death_date,
                               last_contact=records[0].last_contact, covariates={"sex": None})
    records[1] = SubjectRecord(records[1].patient_id, T0, death_date=records[1].death_date,
                               last_contact=records[1].last_contact,
                               covariates={**records[1].covariates, "ecog_baseline": float("nan")})
    result = run({"kind": "cox", "endpoint": "os", "covariates": ["sex", "ecog_baseline"]}, records)
    assert result["excluded"] == {"missing sex": 1, "missing ecog_baseline": 1}
    assert result["n"] == 118


def test_result_has_versions_spec_and_is_deterministic():
    records = cohort()
    spec = {"kind": "cox", "endpoint": "os", "covariates": ["pdl1_tps", "sex"], "seed": 4}
    first, second = run(spec, records), run(spec, list(reversed(records)))
    assert first == second
    assert set(first["versions"]) == {"lifelines", "pandas", "numpy"}
    assert first["seed"] == 4 and first["spec"]["time_zero"] == {"regimen": "first_ici"}
    assert len(first["input_sha256"]) == 64


def test_cox_with_cut_groups_decimal_values_and_a_chosen_reference():
    from decimal import Decimal
    records = [SubjectRecord(r.patient_id, r.time_zero, death_date=r.death_date, last_contact=r.last_contact,
                             covariates={**r.covariates, "pdl1_tps": Decimal(str(r.covariates["pdl1_tps"]))})
               for r in cohort()]
    result = run({"kind": "cox", "endpoint": "os", "covariates": ["age_at_start"], "group_by": "pdl1_tps",
                  "cut": [1, 50], "reference": {"pdl1_tps": "≥50"}}, records)
    assert [t["term"] for t in result["terms"]] == ["age_at_start", "pdl1_tps[<1]", "pdl1_tps[1–<50]"]
    assert result["reference"] == {"pdl1_tps": "pdl1_tps ≥50"}
    table = os_table(cohort())
    direct = pd.DataFrame({"duration_days": table["duration_days"], "event": table["event"],
                           "age_at_start": table["age_at_start"] * 1.0,
                           "pdl1_tps[<1]": (table["pdl1_tps"] < 1) * 1.0,
                           "pdl1_tps[1–<50]": ((table["pdl1_tps"] >= 1) & (table["pdl1_tps"] < 50)) * 1.0})
    cph = CoxPHFitter().fit(direct, "duration_days", "event")
    for term in result["terms"]:
        assert term["coef"] == pytest.approx(cph.params_[term["term"]], abs=TOL)
    # the planted effect: PD-L1 >= 50 lives longer, so the lower groups have HR > 1 against it
    assert result["terms"][1]["hr"] > 1 and result["terms"][2]["hr"] > 1


def test_median_not_reached_is_null_not_infinity():
    records = [SubjectRecord(i, T0, death_date=T0 + timedelta(days=30 + i) if i < 3 else None,
                             last_contact=T0 + timedelta(days=400 + i)) for i in range(20)]
    result = run({"kind": "km", "endpoint": "os", "times": [100, 1000]}, records)
    group = result["groups"][0]
    assert group["median"] is None and group["median_upper"] is None
    assert group["survival"][1] == {"time": 1000, "s": None, "lower": None, "upper": None}
    assert group["survival"][0]["s"] == pytest.approx(17 / 20)
    json.dumps(result, allow_nan=False)


def test_the_package_imports_no_django():
    import subprocess
    import sys
    code = "import sys, analytics.compute.survival; assert not [m for m in sys.modules if m.startswith('django')]"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
