"""Hyperprogression (§3), dissociated response (§4.2) and durable clinical benefit (§4.3)."""

import math
from fractions import Fraction

import pytest

from tests.analytics.test_response_builders import make_doc, result, run

DPM = 30.4375


def _tgr(a, b, days):
    """Ferté TGR written out independently of the engine: 100*((b/a)^(3/T) - 1), T in months."""
    return 100 * (math.exp(3 * math.log(b / a) / (days / DPM)) - 1)


def hpd_doc(s_pre=50, s0=60, s1=100, *, new=None, clinical=None, organs=None, nontargets=None):
    # pre-baseline 91 days before baseline; first evaluation 56 days after start = 61 days after baseline
    return make_doc({"T1": [s0 / 2, s1 / 2], "T2": [s0 / 2, s1 / 2]}, pre={"T1": s_pre / 2, "T2": s_pre / 2},
                    organs=organs or {"T1": "liver", "T2": "lung"}, new=new, clinical=clinical, nontargets=nontargets)


# ---------------------------------------------------------------------------------------------
# §3.2 TGR / TGK against hand-computed numbers
# ---------------------------------------------------------------------------------------------


def test_s3_2_tgr_and_tgk_hand_computed():
    out = run(hpd_doc())
    c = out["hyperprogression"]["common"]
    assert (c["days_pre_to_baseline"], c["days_baseline_to_first"]) == (91, 61)
    # hand-computed: TGR_ref = 100*((60/50)^(3/(91/30.4375)) - 1) = 20.075; TGR_exp = 100*((100/60)^(3/(61/30.4375)) - 1) = 114.828
    assert c["tgr_ref"] == 20.08 and c["tgr_exp"] == 114.83
    assert c["tgr_ratio"] == 5.72 and c["delta_tgr"] == 94.75
    # TGK_pre = 10 mm / 2.9897 months = 3.345; TGK_post = 40 / 2.0041 = 19.959; TGKR = (40*91)/(10*61) = 5.967
    assert c["tgk_pre_mm_per_month"] == 3.34 and c["tgk_post_mm_per_month"] == 19.96 and c["tgk_ratio"] == 5.97
    assert abs(c["tgr_exp"] - _tgr(60, 100, 61)) < 0.006


def test_s3_2_tgk_ratio_is_exact():
    res = result(hpd_doc())
    assert res.hyperprogression_common["tgk_ratio"] == Fraction(40 * 91, 10 * 61)


def test_s3_2_tgr_not_computable_when_a_sum_is_zero():
    out = run(make_doc({"T1": [30, 40]}, pre={"T1": "disappeared"}))
    ch = out["hyperprogression"]["champiat"]
    assert ch["hpd"] is None and ch["computable"] is False
    assert "tgr_not_computable" in ch["reason"]


def test_s3_1_no_pre_baseline_scan_makes_kinetic_definitions_not_computable():
    out = run(make_doc({"T1": [30, 60]}))
    for name in ("champiat", "saada_bouzid", "ferrara", "kas"):
        b = out["hyperprogression"][name]
        assert b["computable"] is False and b["hpd"] is None and "no pre-baseline scan" in b["reason"]


# ---------------------------------------------------------------------------------------------
# §3.3 - §3.9 the definitions
# ---------------------------------------------------------------------------------------------


def test_s3_3_champiat_pd_and_tgr_ratio_ge_2():
    hp = run(hpd_doc())["hyperprogression"]
    assert hp["champiat"]["criteria"] == {"recist_pd_first_evaluation": True, "tgr_ratio_ge_2": True}
    assert hp["champiat"]["hpd"] is True


def test_s3_3_champiat_needs_recist_pd_at_first_evaluation():
    # S1 = 70: +16.7 %, not PD, although TGR_exp/TGR_ref > 2
    hp = run(hpd_doc(s1=70))["hyperprogression"]
    assert hp["champiat"]["criteria"]["recist_pd_first_evaluation"] is False
    assert hp["champiat"]["hpd"] is False


@pytest.mark.parametrize("policy,expected", [("not-hpd", False), ("hpd-if-growing", True), ("undetermined", None)])
def test_s3_3_non_positive_reference_rate_policy(policy, expected):
    hp = run(hpd_doc(s_pre=70), ratio_nonpositive_reference=policy)["hyperprogression"]
    assert hp["champiat"]["ratio_not_interpretable"] is True
    assert hp["champiat"]["hpd"] is expected
    assert hp["saada_bouzid"]["ratio_not_interpretable"] is True
    assert hp["saada_bouzid"]["hpd"] is expected
    # difference-based definitions stay computable (§3.10)
    assert hp["ferrara"]["computable"] is True and hp["ferrara"]["hpd"] is True


def test_s3_4_saada_bouzid_tgkr_ge_2_without_pd_condition():
    hp = run(hpd_doc(s1=70))["hyperprogression"]  # TGKR = (10*91)/(10*61) = 1.49
    assert hp["saada_bouzid"]["hpd"] is False
    hp = run(hpd_doc(s1=85))["hyperprogression"]  # TGKR = 25*91/(10*61) = 3.73, no RECIST PD (+41.7 % is PD!)
    assert hp["saada_bouzid"]["hpd"] is True


def test_s3_4_saada_bouzid_boundary_exactly_2_is_hpd():
    # TGK_pre = 10/91 mm/day, TGK_post must be 20/91 per day: over 61 days +13.4065... use 91-day windows instead
    doc = make_doc({"T1": [60, 80]}, pre={"T1": 50}, pre_days_before=96, days=[91 - 5 + 5])
    res = result(doc)
    c = res.hyperprogression_common
    assert c["tgk_ratio"] == Fraction(20 * c["days_pre_to_baseline"], 10 * c["days_baseline_to_first"])
    assert c["days_pre_to_baseline"] == c["days_baseline_to_first"] == 96
    assert c["tgk_ratio"] == 2
    assert res.hyperprogression["saada_bouzid"].hpd is True


def test_s3_5_ferrara_delta_tgr_above_50():
    hp = run(hpd_doc())["hyperprogression"]
    assert hp["ferrara"]["indices"]["delta_tgr"] == 94.75
    assert hp["ferrara"]["hpd"] is True
    hp = run(hpd_doc(s_pre=40, s1=75))["hyperprogression"]  # PD (+25 %), ΔTGR = 39.66 - 56.10 < 50
    assert hp["ferrara"]["criteria"]["recist_pd_first_evaluation"] is True
    assert hp["ferrara"]["hpd"] is False


def test_s3_9_kas_delta_tgr_above_100():
    hp = run(hpd_doc())["hyperprogression"]
    assert hp["kas"]["hpd"] is False  # ΔTGR 94.75
    hp = run(hpd_doc(s1=120))["hyperprogression"]
    expected = _tgr(60, 120, 61) - _tgr(50, 60, 91)
    assert abs(hp["kas"]["indices"]["delta_tgr"] - expected) < 0.006 and expected > 100
    assert hp["kas"]["hpd"] is True


def test_s3_9_kas_target_increase_option_is_strictly_above_20_percent():
    # target exactly +20 % and +12 mm is RECIST PD but not "> 20 %"
    doc = make_doc({"T1": [60, 72]}, pre={"T1": 59})
    hp = run(doc)["hyperprogression"]["kas"]
    assert hp["criteria"]["progression_first_evaluation"] is True
    hp = run(doc, kas_pd_condition="target-increase-gt-20pct")["hyperprogression"]["kas"]
    assert hp["criteria"]["progression_first_evaluation"] is False


@pytest.mark.parametrize("combination,ttf,expected", [
    ("any-ratio-and-ttf", 50, True), ("any-ratio-and-ttf", 70, False), ("any-ratio-and-ttf", None, None),
    ("all", 50, True), ("all", 70, False), ("any", 70, True),
])
def test_s3_6_kim_cg_combinations(combination, ttf, expected):
    clinical = {"ttf_days": ttf} if ttf is not None else None
    hp = run(hpd_doc(clinical=clinical), kim_combination=combination)["hyperprogression"]["kim_cg"]
    assert hp["criteria"]["kim_tgkr_ge2"] is True and hp["criteria"]["kim_tgrr_ge2"] is True
    assert hp["hpd"] is expected


def test_s3_6_kim_ttf_from_treatment_end():
    hp = run(hpd_doc(clinical={"treatment_end": "2023-03-01"}))["hyperprogression"]  # 50 days
    assert hp["common"]["ttf_days"] == 50 and hp["common"]["ttf_lt_2_months"] is True


def test_s3_6_kim_volumetric_uses_volumes_without_the_factor_3():
    doc = make_doc({"T1": [60, 100]}, pre={"T1": 50}, clinical={"ttf_days": 40})
    doc["timepoints"][0]["lesions"][0]["volume_mm3"] = 1000
    doc["timepoints"][1]["lesions"][0]["volume_mm3"] = 1200
    doc["timepoints"][2]["lesions"][0]["volume_mm3"] = 3000
    hp = run(doc)["hyperprogression"]["kim_volumetric"]
    # TGKR_vol = (1800 * 91) / (200 * 61) = 13.43
    assert hp["indices"]["tgk_ratio_volume"] == round(1800 * 91 / (200 * 61), 2)
    assert abs(hp["indices"]["tgr_exp_volume"] - 100 * ((3000 / 1200) ** (DPM / 61) - 1)) < 0.006
    assert hp["hpd"] is True


def test_s3_6_kim_volumetric_without_volumes_is_not_computable():
    hp = run(hpd_doc(clinical={"ttf_days": 40}))["hyperprogression"]["kim_volumetric"]
    assert hp["hpd"] is None and "volume_mm3" in hp["reason"]


def test_s3_7_lo_russo_three_of_five():
    doc = hpd_doc(new={"N1": {1: 12}, "N2": {1: 11}, "N3": {1: 14}},
                  organs={"T1": "liver", "T2": "lung", "N1": "liver", "N2": "liver", "N3": "brain"},
                  clinical={"ttf_days": 70, "ecog_baseline": 1, "ecog_worst_first_2_months": 2})
    hp = run(doc)["hyperprogression"]["lo_russo"]
    assert hp["criteria"] == {"ttf_lt_2m": False, "target_sum_increase_ge_50pct": True,
                              "ge_2_new_lesions_in_involved_organ": True, "new_organ_involved": True,
                              "ecog_worsening": False}
    assert hp["hpd"] is True


def test_s3_7_lo_russo_unknown_criteria_give_null_only_when_they_could_matter():
    hp = run(hpd_doc())["hyperprogression"]["lo_russo"]  # +66.7 % only; TTF and ECOG unknown
    assert hp["criteria"]["target_sum_increase_ge_50pct"] is True
    assert hp["hpd"] is None and hp["computable"] is False
    hp = run(hpd_doc(s1=70))["hyperprogression"]["lo_russo"]  # 0 true + 2 unknown < 3
    assert hp["hpd"] is False


def test_s3_7_lo_russo_ecog_rules():
    cl = {"ecog_baseline": 1, "ecog_worst_first_2_months": 2}
    assert run(hpd_doc(clinical=cl))["hyperprogression"]["lo_russo"]["criteria"]["ecog_worsening"] is False
    assert run(hpd_doc(clinical=cl), lo_russo_ecog_rule="absolute-ge-2")[
        "hyperprogression"]["lo_russo"]["criteria"]["ecog_worsening"] is True
    cl = {"ecog_baseline": 0, "ecog_worst_first_2_months": 2}
    assert run(hpd_doc(clinical=cl))["hyperprogression"]["lo_russo"]["criteria"]["ecog_worsening"] is True


def test_s3_8_kato_all_three_criteria():
    hp = run(hpd_doc(clinical={"ttf_days": 50}))["hyperprogression"]["kato"]
    assert hp["criteria"] == {"ttf_lt_2m": True, "tumour_burden_increase_gt_50pct": True, "pace_ratio_gt_2": True}
    assert hp["hpd"] is True
    # exactly +50 % is not "> 50 %"
    hp = run(hpd_doc(s1=90, clinical={"ttf_days": 50}))["hyperprogression"]["kato"]
    assert hp["criteria"]["tumour_burden_increase_gt_50pct"] is False and hp["hpd"] is False


def test_s3_10_data_gap_flags():
    doc = make_doc({"T1": [60, 100]}, pre={"T1": 50}, pre_days_before=100)
    doc["timepoints"][1]["date"] = "2022-12-01"  # baseline 40 days before start
    doc["timepoints"][0]["date"] = "2022-08-01"
    with pytest.warns(Warning):
        flags = run(doc)["hyperprogression"]["common"]["flags"]
    assert flags == {"baseline_more_than_4_weeks_before_start": True,
                     "pre_baseline_more_than_12_weeks_before_baseline": True}


def test_s3_10_recist_pd_through_new_lesion_counts_for_champiat():
    # targets grow only 10 % but a new lesion makes the first evaluation PD
    hp = run(hpd_doc(s_pre=59.6, s1=66, new={"N1": {1: 12}}))["hyperprogression"]["champiat"]
    assert hp["criteria"]["recist_pd_first_evaluation"] is True
    assert hp["hpd"] is True


# ---------------------------------------------------------------------------------------------
# §4.2 dissociated response
# ---------------------------------------------------------------------------------------------


def _dis(doc):
    return run(doc)["dissociated_response"]


def test_s4_2_tozuka_shrinking_and_growing_lesions():
    d = _dis(make_doc({"T1": [40, 30], "T2": [40, 41]}))
    assert d["tozuka"]["dissociated"] is True and d["tozuka"]["timepoints"] == ["TP1"]


def test_s4_2_tozuka_shrinking_lesion_with_new_lesion():
    d = _dis(make_doc({"T1": [40, 30], "T2": [40, 30]}, new={"N1": {1: 5}}))
    assert d["tozuka"]["dissociated"] is True
    d = _dis(make_doc({"T1": [40, 30], "T2": [40, 30]}))
    assert d["tozuka"]["dissociated"] is False


def test_s4_2_bernard_tessier_thresholds_and_5_mm():
    d = _dis(make_doc({"T1": [40, 27], "T2": [20, 25]}))  # -32.5 % and +25 % (+5 mm)
    assert d["bernard_tessier"]["dissociated"] is True
    d = _dis(make_doc({"T1": [40, 28], "T2": [20, 25]}))  # -30 % exactly is not "< -30 %"
    assert d["bernard_tessier"]["dissociated"] is False
    d = _dis(make_doc({"T1": [40, 27], "T2": [15, 19]}))  # +26.7 % but only +4 mm
    assert d["bernard_tessier"]["dissociated"] is False


def test_s4_2_zhou_sum_decrease_with_new_lesion():
    d = _dis(make_doc({"T1": [50, 45]}, new={"N1": {1: 10}}))
    assert d["zhou"]["dissociated"] is True
    d = _dis(make_doc({"T1": [50, 70]}, new={"N1": {1: 10}}))  # +40 % vs nadir
    assert d["zhou"]["dissociated"] is False


def test_s4_2_sato_organ_level_response_and_progression():
    d = _dis(make_doc({"T1": [40, 20], "T2": [20, 30]}, organs={"T1": "liver", "T2": "lung"}))
    assert d["sato"]["dissociated"] is True
    d = _dis(make_doc({"T1": [40, 20], "T2": [20, 12]}, organs={"T1": "liver", "T2": "lung"}, new={"N1": {1: 8}}))
    assert d["sato"]["dissociated"] is True  # all organs CR/PR with a new lesion
    d = _dis(make_doc({"T1": [40, 20], "T2": [20, 12]}, organs={"T1": "liver", "T2": "lung"}))
    assert d["sato"]["dissociated"] is False


def test_s4_2_wong_broadest():
    d = _dis(make_doc({"T1": [40, 39], "T2": [20, 30]}))  # stable + progressing
    assert d["wong"]["dissociated"] is True
    d = _dis(make_doc({"T1": [40, 39], "T2": [20, 21]}))  # all stable
    assert d["wong"]["dissociated"] is False


def test_s4_2_dissociated_flags_do_not_change_recist():
    out = run(make_doc({"T1": [60, 20], "T2": [20, 30]}))
    assert out["timepoints"][0]["recist_tpr"] == "PR"
    assert out["timepoints"][0]["dissociated"]["tozuka"] is True


# ---------------------------------------------------------------------------------------------
# §4.3 durable clinical benefit
# ---------------------------------------------------------------------------------------------


def test_s4_3_pfs_of_182_days_is_no_durable_benefit_183_is_dcb():
    out = run(make_doc({"T1": [100, 90, 130]}, days=[56, 182]))
    assert out["dcb"]["dcb"] is False and out["dcb"]["threshold_days"] == 182.625
    out = run(make_doc({"T1": [100, 90, 130]}, days=[56, 183]))
    assert out["dcb"]["dcb"] is True


def test_s4_3_censored_before_6_months_cannot_be_classified():
    out = run(make_doc({"T1": [100, 90]}, days=[100]))
    assert out["dcb"]["dcb"] is None


def test_s4_3_censored_after_6_months_is_dcb():
    out = run(make_doc({"T1": [100, 90]}, days=[200]))
    assert out["dcb"]["dcb"] is True


def test_s4_3_inclusive_option_matters_for_an_integral_threshold():
    doc = make_doc({"T1": [100, 90, 130]}, days=[56, 180])
    assert run(doc, days_per_month=30)["dcb"]["dcb"] is True
    assert run(doc, days_per_month=30, dcb_inclusive=False)["dcb"]["dcb"] is False


def test_s4_3_dcb_on_irecist_pfs_option():
    doc = make_doc({"T1": [100, 130, 90, 90, 90]})  # RECIST PD at day 56, iUPD reset
    assert run(doc)["dcb"]["dcb"] is False
    out = run(doc, dcb_pfs="irecist")
    assert out["dcb"]["pfs_used"] == "iRECIST" and out["dcb"]["dcb"] is True
