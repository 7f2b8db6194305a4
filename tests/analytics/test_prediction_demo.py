"""Acceptance 2 of the prediction issue on the demo cohort: the planted radiomics -> PD-L1 relation
(demo.compute.features) is found, the permuted-label control sits near 0.5, and the planted feature is selected."""
import io

import pytest
from django.core.management import call_command

from analytics.services import analysis_run_now
from demo.compute.features import SIGNAL

pytestmark = pytest.mark.django_db


def test_the_demo_cohorts_planted_radiomic_signal_is_found():
    call_command("seed_demo", patients=120, seed=0, imaging_patients=0, stdout=io.StringIO())
    run = analysis_run_now(spec={
        "kind": "classification", "target": {"biomarker": "pdl1_tps", "threshold": 50},
        "features": {"radiomics": {"profile": "demo-features", "timepoint": "baseline", "aggregate": "mean",
                                   "include": ["original_*"]}},
        "cv": {"outer_folds": 5, "inner_folds": 5, "repeats": 1}, "permutations": 5})
    assert run.status == "done", run.error
    result = run.result
    assert result["n"] >= 100 and result["positives"] >= 20
    assert result["auc_lower"] > 0.5 and result["auc"] > 0.7, (result["auc"], result["auc_lower"])
    assert abs(result["permuted_auc"] - 0.5) < 0.15 and result["leak_warning"] is None
    assert SIGNAL in result["selected_features"]
