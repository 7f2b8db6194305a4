"""A radiomic feature as a survival covariate: ``radiomics:<profile>:<feature>[:<aggregation>]``, read from the
feature sets of the profile's latest version on each patient's baseline target lesions (docs/analytics.md)."""
import datetime as dt
import itertools

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from lifelines import CoxPHFitter

from analytics.compute.survival import SpecError
from analytics.models import AnalysisRun
from analytics.selectors import survival_covariate_names, survival_records
from analytics.services import analysis_run_now
from imaging.models import ExtractionProfile, FeatureSet, Segment, Segmentation, Series, Study
from tests.factories import LesionFactory, OutcomeFactory, PatientFactory, RegimenFactory, SiteFactory, TimepointFactory

pytestmark = pytest.mark.django_db
START = dt.date(2023, 3, 1)
VOLUME = "radiomics:ct-default:original_shape_VoxelVolume"
MEAN = "radiomics:ct-default:original_firstorder_Mean"
_uid = itertools.count(1)


def profile():
    return ExtractionProfile.objects.filter(name="ct-default").order_by("-version").first()


def scan(patient, timepoint, lesion, *, features=None, status="done", region="lesion", on=None):
    """Rows only (no files): a CT study on the timepoint, a label map with one segment on the lesion, its set."""
    n = next(_uid)
    uid = f"1.2.826.0.9.{patient.pk}.{n}"
    study = Study.objects.create(patient=patient, timepoint=timepoint, study_instance_uid=uid,
                                 study_date=timepoint.date if timepoint else None)
    series = Series.objects.create(study=study, series_instance_uid=f"{uid}.1", modality="CT",
                                   sop_class_uid="1.2.840.10008.5.1.4.1.1.2", instance_count=16, volume_status="ok")
    segmentation = Segmentation.objects.create(kind="labelmap", image_series=series, file=f"seg-{uid}.nrrd",
                                               sha256=f"{n:064d}", label="Lesions")
    segment = Segment.objects.create(segmentation=segmentation, number=1, label=lesion.label, lesion=lesion,
                                     lesion_mapping="label", mask_file=f"mask-{uid}.nrrd", mask_sha256="0" * 64,
                                     voxel_count=40, volume_mm3=310.0)
    return FeatureSet.objects.create(segment=segment, profile=on or profile(), region=region, status=status,
                                     features=features if features is not None else {})


def feats(volume, mean):
    return {"original_shape_VoxelVolume": volume, "original_firstorder_Mean": mean}


def patient_with(targets, *, site=None, baseline_day=-7, death_day=None, contact_day=400):
    """A patient on pembrolizumab from START with a baseline timepoint and one target lesion per feature dict."""
    patient = PatientFactory(**({"site": site} if site else {}))
    RegimenFactory(patient=patient, start_date=START)
    end = START + dt.timedelta(days=death_day if death_day is not None else contact_day)
    OutcomeFactory(patient=patient, last_contact_date=end, vital_status="dead" if death_day else "alive",
                   death_date=end if death_day else None)
    baseline = TimepointFactory(patient=patient, date=START + dt.timedelta(days=baseline_day), kind="baseline")
    for k, features in enumerate(targets):
        scan(patient, baseline, LesionFactory(patient=patient, label=f"T{k + 1}", role="target"), features=features)
    return patient, baseline


def covariates(spec_covariates, **spec):
    return {r.patient_id: r.covariates for r in survival_records(spec={"covariates": spec_covariates, **spec})}


def test_baseline_target_lesions_are_summed_for_volume_and_averaged_otherwise():
    patient, baseline = patient_with([feats(1000.0, 10.0), feats(3000.0, 30.0)])
    # Not counted: a non-target lesion, a peritumoral ring, a follow-up scan, an earlier baseline's scan.
    scan(patient, baseline, LesionFactory(patient=patient, label="NT1", role="non-target"), features=feats(9e5, 99.0))
    scan(patient, baseline, patient.lesions.get(label="T1"), features=feats(7e5, 77.0), region="ring_0-3mm")
    follow_up = TimepointFactory(patient=patient, date=START + dt.timedelta(days=56), kind="follow-up")
    scan(patient, follow_up, patient.lesions.get(label="T1"), features=feats(5e5, 55.0))
    older = TimepointFactory(patient=patient, date=START - dt.timedelta(days=200), kind="baseline")
    scan(patient, older, patient.lesions.get(label="T2"), features=feats(4e5, 44.0))

    values = covariates([VOLUME, MEAN, f"{VOLUME}:max", f"{MEAN}:min"])[patient.pk]
    assert values[VOLUME] == 4000.0 and values[MEAN] == 20.0
    assert values[f"{VOLUME}:max"] == 3000.0 and values[f"{MEAN}:min"] == 10.0


def test_a_re_segmented_lesion_counts_once_with_its_newest_segment():
    patient, baseline = patient_with([feats(1000.0, 10.0)])
    scan(patient, baseline, patient.lesions.get(label="T1"), features=feats(1200.0, 12.0))
    assert covariates([VOLUME, MEAN])[patient.pk] == {VOLUME: 1200.0, MEAN: 12.0}


def test_missing_when_no_done_set_at_the_baseline_on_or_before_time_zero():
    unfinished, baseline = patient_with([feats(1000.0, 10.0)])
    scan(unfinished, baseline, LesionFactory(patient=unfinished, label="T2", role="target"), status="failed")
    pending, _ = patient_with([])
    scan(pending, pending.timepoints.get(), LesionFactory(patient=pending, label="T1", role="target"),
         status="pending")
    no_imaging, _ = patient_with([])
    late, _ = patient_with([feats(1000.0, 10.0)], baseline_day=3)  # a "baseline" after time zero is not one
    no_feature, _ = patient_with([{"original_firstorder_Mean": 5.0}])
    complete, _ = patient_with([feats(800.0, 8.0)])
    values = covariates([VOLUME])
    assert values[complete.pk][VOLUME] == 800.0
    for patient in (unfinished, pending, no_imaging, late, no_feature):
        assert values[patient.pk][VOLUME] is None  # never a partial sum


def test_only_the_profiles_latest_version_is_read():
    old_version, _ = patient_with([feats(1000.0, 10.0)])
    current = profile()
    newer = ExtractionProfile.objects.create(name="ct-default", version=current.version + 1, modality="",
                                             params=current.params, params_hash="f" * 64, active=False)
    new_version, baseline = patient_with([])
    scan(new_version, baseline, LesionFactory(patient=new_version, label="T1", role="target"),
         features=feats(2000.0, 20.0), on=newer)
    values = covariates([VOLUME])
    assert values[new_version.pk][VOLUME] == 2000.0
    assert values[old_version.pk][VOLUME] is None  # v1 features are not combined with v2 ones


def test_a_cox_model_on_the_radiomic_covariate_equals_lifelines_on_the_same_table():
    site = SiteFactory(code="R")
    rows = []
    for i in range(30):
        volume = 500.0 + 137.0 * ((i * 7) % 30)
        split = 0.25 + 0.05 * (i % 5)  # two target lesions, volumes summed
        days = int(900 - volume / 6 + ((i * 11) % 13) * 25)
        dies = i % 4 != 0
        patient_with([feats(volume * split, 10.0), feats(volume * (1 - split), 12.0)], site=site,
                     death_day=days if dies else None, contact_day=days)
        rows.append({"duration_days": days, "event": int(dies), VOLUME: volume})
    for _ in range(3):  # no baseline feature set: excluded as missing the covariate
        patient_with([], site=site, death_day=200)

    run = analysis_run_now(spec={"kind": "cox", "endpoint": "os", "cohort": {"site": "R"}, "covariates": [VOLUME]})
    assert run.status == "done", run.error
    assert run.result["n"] == 30 and run.result["excluded"] == {f"missing {VOLUME}": 3}
    (term,) = run.result["terms"]
    expected = CoxPHFitter().fit(pd.DataFrame(rows), duration_col="duration_days", event_col="event")
    assert term["term"] == VOLUME
    assert term["coef"] == pytest.approx(expected.params_[VOLUME], rel=1e-6)
    assert term["se"] == pytest.approx(expected.standard_errors_[VOLUME], rel=1e-6)
    assert term["hr"] > 1  # larger baseline tumour volume, shorter survival (as planted)


@pytest.mark.parametrize(("name", "says"), [
    ("radiomics:no-such-profile:original_shape_VoxelVolume", "no radiomics extraction profile named"),
    ("radiomics:ct-default:original_shape_VoxelVolumes", "Did you mean original_shape_VoxelVolume"),
    ("radiomics:ct-default", "not a radiomic covariate name"),
    ("radiomics:ct-default:original_shape_VoxelVolume:median", "unknown aggregation"),
    ("radiomics:<profile>:<feature>", "no radiomics extraction profile named"),
])
def test_an_unknown_radiomic_covariate_is_refused_with_a_field_error(name, says):
    patient_with([feats(1000.0, 10.0)])
    with pytest.raises(ValidationError) as err:
        analysis_run_now(spec={"kind": "cox", "endpoint": "os", "covariates": [name]})
    assert says in err.value.message_dict["covariates"][0]
    with pytest.raises(SpecError) as err:
        survival_records(spec={"kind": "km", "endpoint": "os", "group_by": name})
    assert err.value.field == "group_by" and says in err.value.message
    assert not AnalysisRun.objects.exists()


def test_a_feature_no_finished_set_holds_is_unknown():
    patient, baseline = patient_with([])
    scan(patient, baseline, LesionFactory(patient=patient, label="T1", role="target"),
         features=feats(1.0, 2.0), status="failed")
    with pytest.raises(SpecError) as err:
        survival_records(spec={"covariates": [VOLUME]})
    assert "no finished feature set of profile ct-default" in err.value.message


def test_the_names_list_a_radiomics_hint():
    assert survival_covariate_names()["radiomics:<profile>:<feature>"] == "radiomics"


def test_a_fixed_number_of_queries_whatever_the_cohort_size():
    small, large = SiteFactory(code="small"), SiteFactory(code="large")
    for site, n in ((small, 2), (large, 12)):
        for i in range(n):
            patient_with([feats(1000.0 + i, 10.0), feats(500.0, 5.0)], site=site)
    counts = []
    for site in ("small", "large"):
        with CaptureQueriesContext(connection) as queries:
            records = survival_records(spec={"covariates": ["age_at_start", VOLUME, MEAN], "cohort": {"site": site}})
        counts.append((len(records), len(queries)))
        assert all(r.covariates[VOLUME] is not None for r in records)
    with CaptureQueriesContext(connection) as without:
        survival_records(spec={"covariates": ["age_at_start"], "cohort": {"site": "large"}})
    assert counts[0][0] == 2 and counts[1][0] == 12
    assert counts[0][1] == counts[1][1] == len(without) + 2 * 3  # three queries per radiomic covariate
