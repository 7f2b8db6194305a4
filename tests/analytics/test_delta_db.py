"""Stored delta-radiomics on the demo cohort: equal to a direct pandas computation on ``feature_table`` output,
refreshed by the signal → task path when features finish or a lesion mapping changes."""
import io

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from analytics.compute.delta import RELATIVE_FLOOR, is_additive
from analytics.models import DeltaFeature, DeltaRefresh
from analytics.selectors import delta_features, delta_long
from imaging.models import FeatureSet, Lesion, Segment, Timepoint
from imaging.selectors import feature_table
from imaging.tasks import extract_feature_set

pytestmark = pytest.mark.django_db
PARAMS = {"setting": {"binWidth": 25, "label": 1}, "imageType": {"Original": {}},
          "featureClass": {"shape": [], "firstorder": [], "glcm": []}}


@pytest.fixture
def demo(settings, django_capture_on_commit_callbacks):
    from imaging.models import ExtractionProfile
    from imaging.services import profile_save

    settings.RADIMMUNO_AUTO_EXTRACT = True
    ExtractionProfile.objects.update(active=False)
    profile = profile_save(name="ct-delta", modality="CT", params=PARAMS)[0]
    with django_capture_on_commit_callbacks(execute=True):  # the refresh runs after commit, as in the app
        call_command("seed_demo", patients=4, seed=5, imaging_patients=2, stdout=io.StringIO())
    assert FeatureSet.objects.filter(status="done").exists()
    return profile  # the demo's synthetic features (profile demo-features) have their own deltas too


def _schedule(kinds):
    """baseline and first follow-up dates per patient, as the docs define them (pandas, independently)."""
    out = {}
    for patient, rows in kinds.groupby("patient"):
        rows = rows.sort_values("date")
        follow = rows[rows.kind.isin(["follow-up", "unscheduled"])]
        first_fu = follow.date.iloc[0] if len(follow) else None
        baselines = rows[(rows.kind == "baseline") & ((first_fu is None) | (rows.date < first_fu))]
        if len(baselines) and first_fu is not None:
            out[patient] = (baselines.date.iloc[-1], first_fu)
    return out


def _reference_deltas():
    wide = feature_table(FeatureSet.objects.all(), layout="wide")
    key = ["patient", "lesion", "timepoint", "region", "profile"]
    assert not wide.duplicated(key).any()  # one mask per lesion and scan in the demo
    kinds = pd.DataFrame(list(Timepoint.objects.values_list("patient__study_id", "date", "kind")),
                         columns=["patient", "date", "kind"])
    kinds["date"] = kinds.date.map(lambda d: d.isoformat())
    features = [c for c in wide.columns if c.startswith("original_")]
    schedule = _schedule(kinds)
    lesion_rows, patient_rows = {}, {}
    roles = dict(Lesion.objects.values_list("label", "role").filter(patient__study_id__in=list(schedule)))
    for (patient, lesion, region, profile), rows in wide.groupby(["patient", "lesion", "region", "profile"]):
        if patient not in schedule:
            continue
        base, fu = schedule[patient]
        at = rows.set_index("timepoint")
        if base in at.index and fu in at.index:
            lesion_rows[(patient, lesion, region)] = (at.loc[base, features].astype(float),
                                                     at.loc[fu, features].astype(float))
    for (patient, region), group in pd.DataFrame([
            {"patient": p, "lesion": l, "region": r} for (p, l, r) in lesion_rows]).groupby(["patient", "region"]):
        targets = sorted(Lesion.objects.filter(patient__study_id=patient, role="target").values_list("label", flat=True))
        if not all((patient, t, region) in lesion_rows for t in targets):
            continue
        before = pd.DataFrame([lesion_rows[(patient, t, region)][0] for t in targets])
        after = pd.DataFrame([lesion_rows[(patient, t, region)][1] for t in targets])
        add = [is_additive(c) for c in features]
        agg_before = np.where(add, before.sum(), before.mean())
        agg_after = np.where(add, after.sum(), after.mean())
        patient_rows[(patient, region)] = (pd.Series(agg_before, index=features), pd.Series(agg_after, index=features))
    assert roles  # the demo cohort has lesions to compare
    return lesion_rows, patient_rows


def _check(stored, before, after):
    assert set(stored) == set(before.index)
    for feature, (absolute, relative) in stored.items():
        b, a = before[feature], after[feature]
        assert absolute == pytest.approx(a - b, rel=1e-12, abs=1e-12)
        if b != 0 and abs(b) >= RELATIVE_FLOOR * abs(a):
            assert relative == pytest.approx((a - b) / abs(b), rel=1e-12, abs=1e-12)
        else:
            assert relative is None or (a == b == 0 and relative == 0)


def test_stored_deltas_equal_a_direct_pandas_computation_on_feature_table(demo):
    lesion_rows, patient_rows = _reference_deltas()
    assert lesion_rows and patient_rows
    stored = {(d.patient.study_id, d.lesion.label, d.region): d for d in delta_features(level="lesion", profile=demo)}
    assert set(stored) == set(lesion_rows)
    for key, (before, after) in lesion_rows.items():
        _check(stored[key].values, before, after)
        assert stored[key].reference == "baseline" and stored[key].members == [key[1]]
    means = {(d.patient.study_id, d.region): d
             for d in delta_features(level="patient", aggregation="mean", profile=demo)}
    assert set(means) == set(patient_rows)
    for key, (before, after) in patient_rows.items():
        _check(means[key].values, before, after)
    assert set(DeltaRefresh.objects.values_list("status", flat=True)) == {"done"}


def test_long_format_filters_by_feature_pattern_and_gives_change_per_week(demo):
    rows = delta_features(level="lesion", profile=demo)
    long = list(delta_long(rows, feature_pattern="original_shape_*, original_firstorder_Mean"))
    assert long and {r["feature"].split("_")[1] for r in long} == {"shape", "firstorder"}
    assert {r["feature"] for r in long if "firstorder" in r["feature"]} == {"original_firstorder_Mean"}
    first = long[0]
    assert first["per_week"] == pytest.approx(first["absolute"] / first["weeks"])
    assert first["patient"].startswith("DEMO-") and "mrn" not in first


def test_a_finished_feature_set_and_a_remapped_mask_refresh_the_patients_deltas(demo,
                                                                               django_capture_on_commit_callbacks):
    row = delta_features(level="lesion", region="lesion", profile=demo).first()
    patient, lesion = row.patient, row.lesion
    DeltaFeature.objects.filter(patient=patient).delete()
    fs = FeatureSet.objects.get(segment__lesion=lesion, status="done", region=row.region,
                                segment__segmentation__image_series__study__timepoint=row.from_timepoint)
    with django_capture_on_commit_callbacks(execute=True):
        fs.enqueue()
    assert extract_feature_set(fs.pk) == "done" or FeatureSet.objects.get(pk=fs.pk).status == "done"
    assert DeltaFeature.objects.filter(patient=patient, lesion=lesion).exists()  # refreshed after the extraction
    # the mask no longer describes that lesion: its baseline pair is gone, the refusal names the date
    segment = Segment.objects.get(pk=fs.segment_id)
    with django_capture_on_commit_callbacks(execute=True):
        segment.lesion, segment.lesion_mapping = None, "unmatched"
        segment.save()
    assert not DeltaFeature.objects.filter(patient=patient, lesion=lesion, region=fs.region, profile=demo).exists()
    refused = DeltaRefresh.objects.get(patient=patient).refused
    assert any(r["lesion"] == lesion.label and r["reason"].startswith("no features at") for r in refused)


def test_the_patient_page_panel_and_the_api(demo, client_logged_in, htmx_headers, django_assert_max_num_queries):
    row = delta_features(level="lesion", region="lesion", profile=demo).first()
    patient = row.patient
    url = f"/analytics/patients/{patient.pk}/deltas/"
    page = client_logged_in.get(f"/patients/{patient.pk}/")
    assert url in page.content.decode()  # the patient page lazy-loads the panel
    full = client_logged_in.get(url)
    assert full.status_code == 200 and b"<html" in full.content
    fragment = client_logged_in.get(url, {"family": "original_glcm", "profile": demo.pk}, **htmx_headers)
    text = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in text and 'id="delta-heatmap"' in text
    assert "original_glcm_JointEnergy" in text and "original_firstorder_Mean</td>" not in text
    assert row.lesion.label in text and "patient (mean)" in text and 'id="delta-trend"' in text
    assert "(stored;" in text
    # another pair: computed now, and said so
    later = client_logged_in.get(url, {"reference": "nadir", "to": str(row.to_timepoint_id), "profile": demo.pk},
                                 **htmx_headers)
    assert later.status_code == 200 and "computed now" in later.content.decode()
    # garbage parameters fall back to the defaults, never a 500
    assert client_logged_in.get(url, {"profile": "x", "region": "nowhere", "to": "-1", "family": "?"}).status_code == 200

    api = "/api/v1/analytics/delta-features/"
    with django_assert_max_num_queries(7):  # + the role's permissions and the user's sites (accounts.access), once per request
        response = client_logged_in.get(api, {"patient": patient.study_id, "lesion": row.lesion.label,
                                              "region": "lesion", "feature": "original_shape_*",
                                              "profile": "ct-delta"})
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert body["count"] == 1 and body["results"]
    record = next(r for r in body["results"] if r["feature"] == "original_shape_VoxelVolume")
    absolute, relative = row.values["original_shape_VoxelVolume"]
    assert record["absolute"] == pytest.approx(absolute) and record["relative"] == pytest.approx(relative)
    assert record["per_week"] == pytest.approx(absolute / row.weeks) and record["patient"] == patient.study_id
    assert {r["feature"].split("_")[1] for r in body["results"]} == {"shape"}
    patients = client_logged_in.get(api, {"level": "patient", "aggregation": "volume_weighted", "page_size": 2})
    assert all(r["lesion"] is None and r["aggregation"] == "volume_weighted" for r in patients.json()["results"])
    assert client_logged_in.get(api, {"level": "sideways"}).status_code == 400


def test_imported_external_features_get_deltas_flagged_acquisition_unknown(django_capture_on_commit_callbacks):
    import datetime as dt

    from analytics.services import delta_refresh_patients
    from imaging.models import ExternalFeatureSet, ExtractionProfile
    from imaging.signals import features_imported
    from tests.factories import LesionFactory, PatientFactory, TimepointFactory

    patient = PatientFactory()
    base = TimepointFactory(patient=patient, date=dt.date(2023, 1, 2), kind="baseline")
    follow = TimepointFactory(patient=patient, date=dt.date(2023, 2, 27), kind="follow-up")
    lesion = LesionFactory(patient=patient, label="T1")
    profile = ExtractionProfile.objects.create(name="lifex", version=1, source="external", active=False, modality="",
                                               params={"description": "LIFEx 7.4"}, params_hash="x")
    for timepoint, volume in ((base, 1000.0), (follow, 500.0)):
        ExternalFeatureSet.objects.create(lesion=lesion, timepoint=timepoint, profile=profile,
                                          features={"original_shape_VoxelVolume": volume, "GLCM_Entropy": 2.0},
                                          feature_count=2)
    with django_capture_on_commit_callbacks(execute=True):  # what import_features sends after its commit
        features_imported.send(sender=ExternalFeatureSet, patient_ids={patient.pk})
    row = DeltaFeature.objects.get(patient=patient, lesion=lesion)
    assert row.profile == profile and row.weeks == 8.0
    assert row.values == {"original_shape_VoxelVolume": [-500.0, -0.5], "GLCM_Entropy": [0.0, 0.0]}
    assert row.acquisition_flags == [{"attribute": "acquisition_unknown", "from": None, "to": None}]
    assert DeltaRefresh.objects.get(patient=patient).status == "done"
    assert delta_refresh_patients([patient.pk]) == 3  # the lesion and both patient aggregates; idempotent
    assert DeltaFeature.objects.filter(patient=patient).count() == 3
