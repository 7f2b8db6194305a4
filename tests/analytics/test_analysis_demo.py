"""Survival analyses through the whole stack (spec -> service -> task -> records -> lifelines -> stored run) on a
demo cohort: the planted biomarker-outcome relation is found, the time-varying irAE model runs, re-runs
reproduce, and a data change is seen."""
import io

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from analytics.models import AnalysisRun
from analytics.selectors import analysis_run_data_changed
from analytics.services import analysis_run_create, analysis_run_rerun
from patients.models import AdverseEvent, Outcome, Patient, Site

N_PATIENTS = 300


@pytest.fixture(scope="module")
def demo_cohort(django_db_setup, django_db_blocker):
    """A 300-patient demo cohort (seed 0), with its stored response assessments; removed after the module."""
    started = timezone.now()
    with django_db_blocker.unblock():
        call_command("seed_demo", patients=N_PATIENTS, seed=0, imaging_patients=0, stdout=io.StringIO())
        yield
        Patient.objects.all().delete()
        Site.objects.all().delete()
        for model in apps.get_models():
            if model.__name__.startswith("Historical") and any(f.name == "history_date" for f in model._meta.fields):
                model.objects.filter(history_date__gte=started).delete()


@pytest.fixture
def analyse(demo_cohort, db, django_capture_on_commit_callbacks):
    def analyse(spec, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            run = analysis_run_create(spec=spec, **kwargs)
        run.refresh_from_db()
        return run
    return analyse


def _term(run, name):
    return next(t for t in run.result["terms"] if t["term"] == name)


def test_the_planted_pdl1_relation_is_found(analyse):
    """demo/compute/synthetic.py draws PD-L1 TPS higher in responders (Rizvi 2015), who live longer: OS falls
    as TPS rises."""
    run = analyse({"kind": "cox", "endpoint": "os", "covariates": ["age_at_start", "ecog_baseline", "pdl1_tps"]})
    assert run.status == "done", run.error
    tps = _term(run, "pdl1_tps")
    print(f"\nOS Cox, pdl1_tps per percentage point: HR {tps['hr']:.4f} (95% CI {tps['hr_lower']:.4f}-"
          f"{tps['hr_upper']:.4f}), p={tps['p']:.2g}, n={run.result['n']}, events={run.result['events']}")
    assert tps["hr"] < 1 and tps["hr_upper"] < 1  # protective, CI excludes 1
    assert run.result["n"] == len(run.patient_ids) == N_PATIENTS
    assert run.input_sha256 == run.result["input_sha256"] and len(run.input_sha256) == 64
    assert run.versions["lifelines"] and run.figures["forest"].lstrip().startswith("<")


def test_km_by_pdl1_group_separates_pfs(analyse):
    run = analyse({"kind": "km", "endpoint": "pfs_recist", "group_by": "pdl1_tps", "cut": [1, 50]})
    assert run.status == "done", run.error
    groups = run.result["groups"]
    assert len(groups) == 3 and sum(g["n"] for g in groups) == run.result["n"] == len(run.patient_ids)
    assert run.result["logrank"]["p"] < 0.05
    assert "km" in run.figures


def test_the_time_varying_irae_model_runs_on_the_demo_cohort(analyse):
    run = analyse({"kind": "cox_tv", "endpoint": "os", "irae": "irae_any", "covariates": ["ecog_baseline"]})
    assert run.status == "done", run.error
    terms = [t["term"] for t in run.result["terms"]]
    assert len(terms) == 2 and "ecog_baseline" in terms
    irae = next(t for t in run.result["terms"] if t["term"] != "ecog_baseline")
    assert 0 < irae["hr_lower"] <= irae["hr"] <= irae["hr_upper"]
    assert run.result["n"] == len(run.patient_ids)


def test_a_landmark_analysis_by_response_runs_and_the_same_group_at_time_zero_is_refused(analyse):
    landmark = analyse({"kind": "landmark", "endpoint": "os", "group_by": "recist_bor", "landmark_weeks": 12})
    assert landmark.status == "done", landmark.error
    assert landmark.result["excluded"] and landmark.result["n"] == len(landmark.patient_ids)
    with pytest.raises(ValidationError) as err:
        analysis_run_create(spec={"kind": "km", "endpoint": "os", "group_by": "recist_bor"})
    assert "immortal" in str(err.value.message_dict).lower() or "landmark" in str(err.value.message_dict).lower()


def test_a_rerun_on_unchanged_data_gives_the_same_numbers_and_a_change_is_seen(analyse,
                                                                             django_capture_on_commit_callbacks):
    spec = {"kind": "cox", "endpoint": "os", "covariates": ["age_at_start", "sex", "pdl1_tps"]}
    first = analyse(spec)
    assert analysis_run_data_changed(first)["changed"] is False
    with django_capture_on_commit_callbacks(execute=True):
        again = analysis_run_rerun(first)
    again.refresh_from_db()
    assert again.status == "done" and again.rerun_of == first and again.pk != first.pk
    assert again.result == first.result and again.input_sha256 == first.input_sha256
    assert again.patient_ids == first.patient_ids and again.figures == first.figures  # byte-identical SVG

    # a patient alive at the run dies at their last contact: one more OS event
    alive = Outcome.objects.filter(death_date__isnull=True, patient_id__in=first.patient_ids).first()
    alive.vital_status, alive.death_date = "dead", alive.last_contact_date
    alive.save()
    changed = analysis_run_data_changed(first)
    assert changed["changed"] is True and "re-run" in changed["reason"]
    with django_capture_on_commit_callbacks(execute=True):
        third = analysis_run_rerun(first)
    third.refresh_from_db()
    assert third.result["events"] == first.result["events"] + 1 and third.input_sha256 != first.input_sha256
    assert AnalysisRun.objects.filter(rerun_of=first).count() == 2


def test_an_irrelevant_change_is_not_a_data_change(analyse):
    """An irAE's grade is read (records change) but an OS Cox model without irAEs does not use it."""
    first = analyse({"kind": "cox", "endpoint": "os", "covariates": ["pdl1_tps"]})
    event = AdverseEvent.objects.filter(patient_id__in=first.patient_ids).first()
    event.grade = 1 if event.grade != 1 else 2
    event.save()
    changed = analysis_run_data_changed(first)
    assert changed["changed"] is False and "not the table" in changed["reason"]
