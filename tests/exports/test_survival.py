"""lifelines on the exported patients + endpoints tables gives the in-app survival analyses' results exactly: the
endpoints are the analyses' own (same records, same rules), not a re-derivation."""
import datetime as dt

import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter

from analytics.selectors.survival import regimen_survival_records, survival_records
from analytics.services import analysis_run_now
from patients.models import Patient
from tests.analytics.builders import patient_with_scans
from tests.exports.helpers import export
from tests.factories import OutcomeFactory, RegimenFactory

pytestmark = pytest.mark.django_db
TOL = 1e-9
START = dt.date(2023, 3, 1)


@pytest.fixture
def survival_cohort(django_capture_on_commit_callbacks):
    """30 patients with response assessments (PFS), deaths and censoring (OS), ECOG and age; some with a later
    second ICI regimen, which must not change the first-ICI rows."""
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(30):
            growth = [100, 100 - 3 * (i % 7), 100 + 9 * (i % 5)]
            days = [-6, 56 + (i % 4), 112 + 2 * (i % 6)]
            patient, regimen, *_ = patient_with_scans(list(zip(days, growth, strict=True)), start=START)
            Patient.objects.filter(pk=patient.pk).update(ecog_baseline=i % 3, year_of_birth=1940 + (i * 7) % 40)
            follow_up = 90 + (i * 37) % 500
            dies = i % 3 != 1
            last = START + dt.timedelta(days=follow_up)
            OutcomeFactory(patient=patient, last_contact_date=last, vital_status="dead" if dies else "alive",
                           death_date=last if dies else None)
            if i % 4 == 0:
                RegimenFactory(patient=patient, line_of_therapy=2, start_date=START + dt.timedelta(days=60),
                               agents=["nivolumab"])


def _tables(out):
    endpoints = pd.read_csv(out / "endpoints.csv")
    patients = pd.read_csv(out / "patients.csv", dtype={"age_at_ici_start": str})
    first = endpoints[endpoints["first_ici"]].merge(patients, on="pseudonym", how="left")
    assert first["pseudonym"].is_unique
    return first


def test_the_first_ici_records_are_the_analyses_records(survival_cohort):
    analysed = {r.patient_id: r for r in survival_records(spec={})}
    per_regimen = [item for item in regimen_survival_records(patients=list(analysed)) if item["first_ici"]]
    assert len(per_regimen) == len(analysed) == 30
    for item in per_regimen:
        mine, theirs = item["record"], analysed[item["record"].patient_id]
        for field in ("time_zero", "regimen_end", "death_date", "last_contact", "progression_recist",
                      "progression_irecist", "last_adequate_assessment", "last_adequate_assessment_irecist",
                      "assessed", "response_groups", "response_group_dates"):
            assert getattr(mine, field) == getattr(theirs, field), field


@pytest.mark.parametrize("endpoint, column", [("os", "os"), ("pfs_recist", "pfs_recist"),
                                              ("ipfs_irecist", "pfs_irecist"), ("ttf", "ttf")])
def test_kaplan_meier_on_the_export_equals_the_in_app_analysis(survival_cohort, tmp_path, endpoint, column):
    run = analysis_run_now(spec={"kind": "km", "endpoint": endpoint})
    assert run.status == "done", run.error
    group = run.result["groups"][0]
    table = _tables(export(tmp_path)).dropna(subset=[f"{column}_days"])
    kmf = KaplanMeierFitter().fit(table[f"{column}_days"], table[f"{column}_event"])
    assert len(table) == run.result["n"] and int(table[f"{column}_event"].sum()) == run.result["events"]
    assert kmf.median_survival_time_ == pytest.approx(group["median"], abs=TOL)
    for point in group["curve"]:
        assert float(kmf.survival_function_at_times(point["time"]).iloc[0]) == pytest.approx(point["s"], abs=TOL)


def test_cox_on_the_export_equals_the_in_app_analysis(survival_cohort, tmp_path):
    run = analysis_run_now(spec={"kind": "cox", "endpoint": "os", "covariates": ["ecog_baseline", "age_at_start"]})
    assert run.status == "done", run.error
    table = _tables(export(tmp_path)).dropna(subset=["os_days"])
    assert "90+" not in set(table["age_at_ici_start"])
    data = pd.DataFrame({"duration_days": table["os_days"], "event": table["os_event"],
                         "ecog_baseline": table["ecog_baseline"] * 1.0,
                         "age_at_start": table["age_at_ici_start"].astype(int) * 1.0})
    cph = CoxPHFitter().fit(data, duration_col="duration_days", event_col="event")
    terms = {t["term"]: t for t in run.result["terms"]}
    assert set(terms) == {"ecog_baseline", "age_at_start"}
    for name, term in terms.items():
        assert cph.params_[name] == pytest.approx(term["coef"], abs=TOL)
        assert cph.standard_errors_[name] == pytest.approx(term["se"], abs=TOL)
    assert cph.log_likelihood_ == pytest.approx(run.result["log_likelihood"], abs=TOL)
