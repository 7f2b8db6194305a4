"""Delta-radiomics (analytics.compute.delta, no database): pairs, changes, guards, lesion groups, aggregation,
refusals and acquisition flags, each against numbers worked out by hand."""
from datetime import date, timedelta

import numpy as np
import pytest

from analytics.compute.delta import (
    LesionInfo,
    Observation,
    TimepointInfo,
    acquisition_flags,
    patient_deltas,
    relative_change,
)

D0 = date(2022, 1, 3)
VOL = "original_shape_VoxelVolume"
MEAN = "original_firstorder_Mean"
ENTROPY = "original_glcm_JointEntropy"
CT = {"convolution_kernel": "B30f", "slice_thickness_mm": 1.0, "pixel_spacing_mm": (0.7, 0.7), "kvp": 120.0,
      "contrast_bolus_agent": "Iomeron", "manufacturer": "SIEMENS", "manufacturer_model_name": "Force",
      "radiopharmaceutical": "", "pet_units": "", "decay_correction": "", "uptake_minutes": None}
PROFILES = {1: ("ct-default", 1), 2: ("ct-default", 2), 3: ("mr-default", 1)}


def timepoints(*days_kinds):
    return {i + 1: TimepointInfo(D0 + timedelta(days=d), kind) for i, (d, kind) in enumerate(days_kinds)}


TPS = timepoints((0, "baseline"), (42, "follow-up"), (84, "follow-up"), (126, "follow-up"))


def obs(lesion, tp, values, *, profile=1, region="lesion", acquisition=CT):
    return Observation(lesion, tp, profile, region, dict(values), acquisition)


def run(observations, lesions, *, tps=TPS, **kwargs):
    return patient_deltas(observations, lesions=lesions, timepoints=tps, profiles=PROFILES, **kwargs)


def lesion_row(result, lesion_id, **match):
    rows = [r for r in result.rows if r.lesion_id == lesion_id
            and all(getattr(r, k) == v for k, v in match.items())]
    assert len(rows) == 1, rows
    return rows[0]


def values(row):
    return dict(zip(row.names, zip(row.absolute.tolist(), row.relative.tolist(), strict=True), strict=True))


ONE = {1: LesionInfo("T1", "target")}


def test_absolute_relative_and_per_week_change_from_baseline_to_first_follow_up():
    result = run([obs(1, 1, {VOL: 1000.0, MEAN: 40.0}), obs(1, 2, {VOL: 700.0, MEAN: 50.0}),
                  obs(1, 3, {VOL: 100.0, MEAN: 10.0})], ONE)
    row = lesion_row(result, 1)
    assert (row.reference, row.from_timepoint, row.to_timepoint, row.weeks) == ("baseline", 1, 2, 6.0)
    assert values(row) == {VOL: (-300.0, -0.3), MEAN: (10.0, 0.25)}
    assert row.names == (MEAN, VOL)  # sorted
    assert dict(zip(row.names, row.per_week().tolist(), strict=True)) == {VOL: -50.0, MEAN: 10.0 / 6}


def test_zero_and_near_zero_reference_give_no_relative_change_and_are_flagged_never_infinite():
    result = run([obs(1, 1, {"a": 0.0, "b": 0.0, "c": 1e-6, "d": -2.0}),
                  obs(1, 2, {"a": 5.0, "b": 0.0, "c": 2.0, "d": 2.0})], ONE)
    row = lesion_row(result, 1)
    got = values(row)
    assert got["a"][0] == 5.0 and np.isnan(got["a"][1])       # 0 -> 5: undefined
    assert got["b"] == (0.0, 0.0)                             # 0 -> 0: no change
    assert got["c"][0] == pytest.approx(2.0 - 1e-6) and np.isnan(got["c"][1])  # 2,000,000-fold: refused
    assert got["d"] == (4.0, 2.0)                             # sign change: relative to |reference|
    assert row.near_zero == ("a", "c")
    assert np.isfinite(np.nan_to_num(row.relative, nan=0.0)).all()
    stored = row.values()
    assert stored["a"] == [5.0, None] and stored["d"] == [4.0, 2.0]


def test_relative_change_guard_is_the_documented_ratio():
    # |ref| = 1e-3 |later| is still defined (a 1,000-fold change); just below it is not
    assert relative_change([1.0], [1000.0])[0] == 999.0
    assert np.isnan(relative_change([0.999], [1000.0])[0])


def test_every_follow_up_and_the_nadir_so_far():
    observations = [obs(1, 1, {VOL: 1000.0}), obs(1, 2, {VOL: 400.0}), obs(1, 3, {VOL: 600.0}),
                    obs(1, 4, {VOL: 300.0})]
    result = run(observations, ONE, pairs=[("baseline", "every_follow_up"), ("nadir", "every_follow_up")])
    baseline = {r.to_timepoint: values(r)[VOL] for r in result.rows if r.lesion_id == 1 and r.reference == "baseline"}
    assert baseline == {2: (-600.0, -0.6), 3: (-400.0, -0.4), 4: (-700.0, -0.7)}
    nadir = {r.to_timepoint: (r.from_timepoint, values(r)[VOL]) for r in result.rows
             if r.lesion_id == 1 and r.reference == "nadir"}
    # the nadir before each later scan: baseline before FU1, FU1 (400) before FU2 and FU3
    assert nadir == {2: (1, (-600.0, -0.6)), 3: (2, (200.0, 0.5)), 4: (2, (-100.0, -0.25))}


def test_a_missing_timepoint_is_refused_with_its_date():
    result = run([obs(1, 1, {VOL: 1000.0}), obs(1, 3, {VOL: 600.0})], ONE)
    assert not [r for r in result.rows if r.lesion_id == 1]
    (refusal,) = [r for r in result.refused if r.lesion == "T1"]
    assert refusal.reason == "no features at 2022-02-14" and refusal.to == "2022-02-14"


def test_different_profile_versions_are_never_compared_and_the_refusal_says_so():
    result = run([obs(1, 1, {VOL: 1000.0}, profile=1), obs(1, 2, {VOL: 700.0}, profile=2)], ONE)
    assert not result.rows
    reasons = {(r.profile_id, r.reason.split(":")[0]) for r in result.refused if r.lesion == "T1"}
    # each version has one side of the pair; the other side exists only under the other version
    assert reasons == {(1, "different profile versions"), (2, "different profile versions")}
    # another profile (not a version of the same one) is simply another profile
    result = run([obs(1, 1, {VOL: 1000.0}, profile=1), obs(1, 2, {VOL: 700.0}, profile=3)], ONE)
    assert {(r.profile_id, r.reason) for r in result.refused if r.lesion == "T1"} == {
        (1, "no features at 2022-02-14"), (3, "no features at 2022-01-03")}


def test_regions_are_compared_only_with_the_same_region():
    result = run([obs(1, 1, {MEAN: 10.0}), obs(1, 2, {MEAN: 20.0}), obs(1, 1, {MEAN: 1.0}, region="ring_0-3mm"),
                  obs(1, 2, {MEAN: 4.0}, region="ring_0-3mm")], ONE)
    assert {(r.region, values(r)[MEAN]) for r in result.rows if r.lesion_id == 1} == {
        ("lesion", (10.0, 1.0)), ("ring_0-3mm", (3.0, 3.0))}


def test_a_split_lesion_is_compared_with_its_fragments_summed_and_volume_weighted():
    lesions = {1: LesionInfo("T1", "target"), 2: LesionInfo("T1a", "target", split_from=1)}
    result = run([obs(1, 1, {VOL: 1000.0, MEAN: 40.0}), obs(1, 2, {VOL: 300.0, MEAN: 60.0}),
                  obs(2, 2, {VOL: 100.0, MEAN: 20.0})], lesions)
    row = lesion_row(result, 1, aggregation="")
    assert row.members == ("T1", "T1a")
    # follow-up: volume 300 + 100 = 400; mean (300*60 + 100*20) / 400 = 50
    assert values(row) == {VOL: (-600.0, -0.6), MEAN: (10.0, 0.25)}
    assert not [r for r in result.rows if r.lesion_id == 2]  # the fragment has no delta of its own


def test_merged_lesions_are_one_group_before_the_merge():
    lesions = {1: LesionInfo("T1", "target", merged_into=2), 2: LesionInfo("T2", "target")}
    result = run([obs(1, 1, {VOL: 200.0}), obs(2, 1, {VOL: 300.0}), obs(2, 2, {VOL: 600.0})], lesions)
    (row,) = [r for r in result.rows if r.aggregation == ""]
    assert row.lesion_id == 2 and row.members == ("T1", "T2") and values(row) == {VOL: (100.0, 0.2)}


def test_patient_aggregates_over_target_lesions_sum_and_mean_or_volume_weighted():
    lesions = {1: LesionInfo("T1", "target"), 2: LesionInfo("T2", "target"), 3: LesionInfo("NT1", "non-target")}
    result = run([obs(1, 1, {VOL: 100.0, MEAN: 10.0}), obs(2, 1, {VOL: 300.0, MEAN: 30.0}),
                  obs(1, 2, {VOL: 200.0, MEAN: 20.0}), obs(2, 2, {VOL: 200.0, MEAN: 40.0}),
                  obs(3, 1, {VOL: 5000.0, MEAN: 0.0}), obs(3, 2, {VOL: 9000.0, MEAN: 0.0})], lesions)
    mean = lesion_row(result, None, aggregation="mean")
    weighted = lesion_row(result, None, aggregation="volume_weighted")
    assert mean.members == weighted.members == ("T1", "T2")  # the non-target lesion does not count
    # volume: 400 -> 400; mean: (10+30)/2 = 20 -> (20+40)/2 = 30
    assert values(mean) == {VOL: (0.0, 0.0), MEAN: (10.0, 0.5)}
    # weighted: (100*10 + 300*30)/400 = 25 -> (200*20 + 200*40)/400 = 30
    assert values(weighted) == {VOL: (0.0, 0.0), MEAN: (5.0, 0.2)}


def test_a_patient_aggregate_with_a_target_lesion_missing_is_refused_naming_it():
    lesions = {1: LesionInfo("T1", "target"), 2: LesionInfo("T2", "target")}
    result = run([obs(1, 1, {VOL: 100.0}), obs(2, 1, {VOL: 300.0}), obs(1, 2, {VOL: 200.0})], lesions)
    assert not [r for r in result.rows if r.lesion_id is None]
    reasons = {r.reason for r in result.refused if r.lesion is None}
    assert reasons == {"mean: target lesion T2 has no features at 2022-02-14",
                       "volume_weighted: target lesion T2 has no features at 2022-02-14"}


def test_a_profile_without_a_volume_feature_cannot_weight_or_find_a_nadir():
    result = run([obs(1, 1, {MEAN: 10.0}), obs(1, 2, {MEAN: 20.0})], ONE,
                 pairs=[("baseline", "first_follow_up"), ("nadir", "first_follow_up")])
    assert {(r.lesion_id, r.aggregation, r.reference) for r in result.rows} == {
        (1, "", "baseline"), (None, "mean", "baseline")}
    assert any("shape volume feature" in r.reason for r in result.refused if r.reference == "nadir")
    assert any(r.reason.startswith("volume_weighted: volume weights need") for r in result.refused)


def test_pre_baseline_scans_are_neither_reference_nor_follow_up_and_a_repeated_baseline_replaces_the_first():
    tps = timepoints((-60, "pre-baseline"), (-10, "baseline"), (-3, "baseline"), (40, "unscheduled"))
    result = run([obs(1, 1, {VOL: 50.0}), obs(1, 2, {VOL: 90.0}), obs(1, 3, {VOL: 100.0}), obs(1, 4, {VOL: 80.0})],
                 ONE, tps=tps)
    row = lesion_row(result, 1)
    assert (row.from_timepoint, row.to_timepoint, values(row)[VOL]) == (3, 4, (-20.0, -0.2))
    no_baseline = run([obs(1, 1, {VOL: 50.0})], ONE, tps=timepoints((0, "follow-up")))
    assert not no_baseline.rows and no_baseline.refused[0].reason == "the patient has no baseline timepoint"


def test_acquisition_flags_name_each_difference_within_tolerances():
    assert acquisition_flags(CT, dict(CT)) == []
    same_within_tolerance = {**CT, "slice_thickness_mm": 1.25, "pixel_spacing_mm": (0.75, 0.75),
                             "convolution_kernel": " b30F "}
    assert acquisition_flags(CT, same_within_tolerance) == []
    changed = {**CT, "slice_thickness_mm": 5.0, "kvp": 100.0, "convolution_kernel": "B70f", "contrast_bolus_agent": ""}
    assert [f["attribute"] for f in acquisition_flags(CT, changed)] == [
        "convolution_kernel", "slice_thickness_mm", "kvp", "contrast_bolus_agent"]
    assert acquisition_flags(CT, changed)[1] == {"attribute": "slice_thickness_mm", "from": 1.0, "to": 5.0}
    pet = {**CT, "radiopharmaceutical": "FDG", "pet_units": "BQML", "uptake_minutes": 60.0}
    assert acquisition_flags(pet, {**pet, "uptake_minutes": 69.0}) == []
    assert acquisition_flags(pet, {**pet, "uptake_minutes": 75.0}) == [
        {"attribute": "uptake_minutes", "from": 60.0, "to": 75.0}]
    assert acquisition_flags(None, CT) == [{"attribute": "acquisition_unknown", "from": None, "to": None}]


def test_flags_travel_with_the_pair_and_the_patient_aggregate():
    lesions = {1: LesionInfo("T1", "target")}
    result = run([obs(1, 1, {VOL: 1.0}), obs(1, 2, {VOL: 2.0}, acquisition={**CT, "kvp": 80.0})], lesions)
    assert all([f["attribute"] for f in r.flags] == ["kvp"] for r in result.rows) and len(result.rows) == 3
