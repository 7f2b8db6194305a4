"""iRECIST rules (RESPONSE_RULES.md §2), pseudoprogression (§4.1) and iPFS (§2.10)."""

import warnings

import pytest

from analytics.compute.response import ResponseDataWarning
from tests.analytics.test_response_builders import col, day, make_doc, run

pytestmark = pytest.mark.filterwarnings("ignore::analytics.compute.response.errors.ResponseDataWarning")

# ---------------------------------------------------------------------------------------------
# §2.3 iUPD
# ---------------------------------------------------------------------------------------------


def test_s2_3_first_progression_is_iupd_never_icpd():
    out = run(make_doc({"T1": [100, 130]}))
    assert col(out, "irecist_tpr") == ["iUPD"]
    assert col(out, "irecist_triggers") == [["target"]]
    assert col(out, "recist_tpr") == ["PD"]


@pytest.mark.parametrize("kwargs,trigger", [
    (dict(nontargets={"NT1": ["unequivocal-progression"]}), "non-target"),
    (dict(new={"N1": {1: 4}}), "new-lesion"),
])
def test_s2_3_iupd_in_any_category(kwargs, trigger):
    out = run(make_doc({"T1": [100, 90]}, **kwargs))
    assert col(out, "irecist_tpr") == ["iUPD"]
    assert col(out, "irecist_triggers") == [[trigger]]


# ---------------------------------------------------------------------------------------------
# §2.5 what confirms iCPD
# ---------------------------------------------------------------------------------------------


def test_s2_5_target_increase_of_5_mm_over_the_iupd_sum_confirms_and_increases_add_up():
    out = run(make_doc({"T1": [100, 130, 134, 136]}))  # +4 then +2 = +6 mm over the iUPD sum
    assert col(out, "irecist_tpr") == ["iUPD", "iUPD", "iCPD"]
    assert col(out, "days_since_iupd") == [0, 56, 112]


def test_s2_5_target_increase_of_4_mm_stays_iupd():
    out = run(make_doc({"T1": [100, 130, 134]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iUPD"]


def test_s2_5_iupd_confirmed_by_growth_of_new_lesions_nlt_sum_plus_5_mm():
    out = run(make_doc({"T1": [100, 90, 90]}, new={"N1": {1: 15, 2: 20}}))
    assert col(out, "nlt_ids") == [["N1"], ["N1"]]
    assert col(out, "nlt_sum_mm") == [15.0, 20.0]
    assert col(out, "target_sum_mm") == [90.0, 90.0]  # NLT not added to the target sum
    assert col(out, "irecist_tpr") == ["iUPD", "iCPD"]


def test_s2_5_nlt_sum_plus_4_mm_stays_iupd():
    out = run(make_doc({"T1": [100, 90, 90]}, new={"N1": {1: 15, 2: 19}}))
    assert col(out, "irecist_tpr") == ["iUPD", "iUPD"]


def test_s2_5_nlt_growth_adds_up_across_new_lesions():
    out = run(make_doc({"T1": [100, 90, 90]}, new={"N1": {1: 15, 2: 18}, "N2": {1: 12, 2: 14}},
                       organs={"N1": "liver", "N2": "lung"}))
    assert col(out, "irecist_tpr") == ["iUPD", "iCPD"]


def test_s2_5_any_increase_of_a_new_non_target_lesion_confirms():
    out = run(make_doc({"T1": [100, 90, 90]}, new={"N1": {1: "present", 2: "increased-from-last-assessment"}}))
    assert col(out, "nlnt_ids") == [["N1"], ["N1"]]
    assert col(out, "irecist_tpr") == ["iUPD", "iCPD"]


def test_s2_5_an_additional_new_lesion_confirms():
    out = run(make_doc({"T1": [100, 90, 90]}, new={"N1": {1: 12, 2: 12}, "N2": {2: 4}}))
    assert col(out, "irecist_tpr") == ["iUPD", "iCPD"]


def test_s2_5_non_target_iupd_confirmed_by_any_further_increase():
    out = run(make_doc({"T1": [100, 90, 90]},
                       nontargets={"NT1": ["unequivocal-progression", "increased-from-last-assessment"]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iCPD"]


def test_s2_5_non_target_iupd_no_change_from_last_assessment_stays_iupd():
    out = run(make_doc({"T1": [100, 90, 90]},
                       nontargets={"NT1": ["unequivocal-progression", "no-change-from-last-assessment"]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iUPD"]


def test_s2_6_non_target_iupd_resets_when_reader_judges_no_progression():
    out = run(make_doc({"T1": [100, 90, 90]}, nontargets={"NT1": ["unequivocal-progression", "present"]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iSD"]


def test_s2_5_progression_in_another_category_confirms_new_lesion_after_target_iupd():
    out = run(make_doc({"T1": [100, 130, 130]}, new={"N1": {2: 12}}))
    assert col(out, "irecist_tpr") == ["iUPD", "iCPD"]


def test_s2_5_progression_in_another_category_confirms_target_pd_after_new_lesion_iupd():
    out = run(make_doc({"T1": [100, 100, 125]}, new={"N1": {1: 12, 2: 12}}))
    assert col(out, "irecist_tpr") == ["iUPD", "iCPD"]


def test_s2_5_target_growth_below_recist_pd_does_not_confirm_a_non_target_iupd():
    out = run(make_doc({"T1": [100, 100, 110]},
                       nontargets={"NT1": ["unequivocal-progression", "no-change-from-last-assessment"]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iUPD"]


# ---------------------------------------------------------------------------------------------
# §2.4 confirmation window
# ---------------------------------------------------------------------------------------------


def test_s2_4_scan_under_4_weeks_cannot_confirm_icpd():
    out = run(make_doc({"T1": [100, 130, 140, 140]}, days=[56, 76, 112]))
    assert col(out, "irecist_tpr") == ["iUPD", "iUPD", "iCPD"]
    assert col(out, "iupd_window_deviation") == [None, "early", None]


def test_s2_4_two_day_tolerance_day_26_is_eligible():
    out = run(make_doc({"T1": [100, 130, 140]}, days=[56, 82]))
    assert col(out, "irecist_tpr") == ["iUPD", "iCPD"]
    out = run(make_doc({"T1": [100, 130, 140]}, days=[56, 81]))
    assert col(out, "irecist_tpr") == ["iUPD", "iUPD"]


def test_s2_4_symptom_driven_early_scan_with_additional_new_lesion_confirms():
    doc = make_doc({"T1": [100, 130, 130]}, new={"N1": {2: 12}}, days=[56, 70], flags={2: {"symptom_driven": True}})
    assert col(run(doc), "irecist_tpr") == ["iUPD", "iCPD"]
    doc = make_doc({"T1": [100, 130, 130]}, new={"N1": {2: 12}}, days=[56, 70])
    assert col(run(doc), "irecist_tpr") == ["iUPD", "iUPD"]


def test_s2_4_symptom_driven_early_scan_with_only_growth_cannot_confirm():
    doc = make_doc({"T1": [100, 130, 150]}, days=[56, 70], flags={2: {"symptom_driven": True}})
    assert col(run(doc), "irecist_tpr") == ["iUPD", "iUPD"]


def test_s2_4_late_confirmation_is_used_and_flagged():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = run(make_doc({"T1": [100, 130, 140]}, days=[56, 126]))
    assert col(out, "irecist_tpr") == ["iUPD", "iCPD"]
    assert col(out, "iupd_window_deviation") == [None, "late"]
    assert any(issubclass(x.category, ResponseDataWarning) for x in w)
    assert any("outside the 4-8 week" in m for m in out["warnings"])


def test_s2_4_ne_after_iupd_then_next_evaluable_assessment_confirms():
    out = run(make_doc({"T1": [100, 130, None, 140], "T2": [20, 20, 20, 20]}, days=[56, 112, 168]))
    assert col(out, "irecist_tpr") == ["iUPD", "NE", "iCPD"]


def test_s2_4_clinically_unstable_patient_recorded():
    out = run(make_doc({"T1": [100, 130]}, flags={1: {"clinically_stable": False}}))
    assert out["iupd_episodes"][0]["clinically_unstable_at"] == ["TP1"]


# ---------------------------------------------------------------------------------------------
# §2.6 reset and the new-lesion rules
# ---------------------------------------------------------------------------------------------


def test_s2_6_reset_then_new_iupd_then_icpd_progression_date_is_the_later_iupd():
    out = run(make_doc({"T1": [100, 130, 90, 120, 126]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iSD", "iUPD", "iCPD"]
    assert out["ipfs_event_date"] == day(56 * 3)
    assert out["recist_progression_date"] == day(56)
    assert out["irecist_ibor"]["value"] == "iSD"
    pp = out["pseudoprogression"]
    assert pp["any"] is True and pp["with_response"] is False


def test_s2_6_new_iupd_after_reset_is_measured_against_the_running_nadir():
    # 130 (iUPD) -> 90 (reset) -> 105 (+16.7 % vs nadir 90: not PD, stays iSD)
    out = run(make_doc({"T1": [100, 130, 90, 105]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iSD", "iSD"]


def test_s2_6_target_iupd_still_above_nadir_threshold_stays_iupd():
    out = run(make_doc({"T1": [100, 130, 126]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iUPD"]


def test_s2_6_faq_scenario_b_new_lesion_iupd_then_targets_shrink_to_ipr():
    out = run(make_doc({"T1": [100, 100, 60]}, new={"N1": {1: 12, 2: 12}}))
    assert col(out, "irecist_tpr") == ["iUPD", "iPR"]


def test_s2_6_faq_scenario_f_pr_before_new_lesion_iupd_and_no_change_stays_iupd():
    out = run(make_doc({"T1": [100, 60, 60, 60]}, new={"N1": {2: 12, 3: 12}}))
    assert col(out, "irecist_tpr") == ["iPR", "iUPD", "iUPD"]


def test_s2_6_targets_shrink_only_into_sd_while_new_lesion_persists_stays_iupd():
    out = run(make_doc({"T1": [100, 100, 90]}, new={"N1": {1: 12, 2: 12}}))
    assert col(out, "irecist_tpr") == ["iUPD", "iUPD"]


def test_s2_6_new_lesion_iupd_resets_when_every_new_lesion_resolved():
    out = run(make_doc({"T1": [100, 100, 95]}, new={"N1": {1: 12, 2: "disappeared"}}))
    assert col(out, "irecist_tpr") == ["iUPD", "iSD"]


def test_s2_8_icr_downgraded_to_ipr_while_new_lesion_present():
    out = run(make_doc({"T1": [100, 100, 60, 0]}, new={"N1": {1: 12, 2: 12, 3: 12}}))
    assert col(out, "irecist_tpr") == ["iUPD", "iPR", "iPR"]
    assert col(out, "target_response") == ["SD", "PR", "CR"]


def test_s2_6_persistent_new_lesions_after_reset_small_growth_is_not_a_new_iupd():
    out = run(make_doc({"T1": [100, 100, 60, 60, 60]}, new={"N1": {1: 20, 2: 20, 3: 23, 4: 30}}))
    # after the reset: +3 mm vs NLT nadir 20 is not RECIST PD; +10 mm (+50 %) is
    assert col(out, "irecist_tpr") == ["iUPD", "iPR", "iPR", "iUPD"]
    assert col(out, "irecist_triggers")[3] == ["new-lesion"]


def test_s2_8_icpd_is_terminal():
    out = run(make_doc({"T1": [100, 130, 140, 0]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iCPD", None]
    assert out["irecist_ibor"]["value"] == "iCPD"


def test_s2_7_non_target_only_disease_assigns_icr_or_non_icr_non_iupd():
    out = run(make_doc(nontargets={"NT1": ["present", "absent"]}))
    assert col(out, "irecist_tpr") == ["NON-iCR/NON-iUPD", "iCR"]


# ---------------------------------------------------------------------------------------------
# §2.2 NLT / NLNT classification
# ---------------------------------------------------------------------------------------------


def test_s2_2_nlt_at_most_5_total_and_2_per_organ_others_nlnt():
    new = {f"N{i}": {1: 30 - i} for i in range(1, 5)}  # four measurable liver lesions
    new.update({"L1": {1: 15}, "L2": {1: 14}, "L3": {1: 13}})  # three measurable lung lesions
    new.update({"S1": {1: 8}})  # not measurable
    new.update({"K1": {1: 12, }})  # 12 mm node: NLNT
    organs = {**{f"N{i}": "liver" for i in range(1, 5)}, "L1": "lung", "L2": "lung", "L3": "lung", "S1": "liver"}
    doc = make_doc({"T1": [100, 100]}, new=new, organs=organs)
    for nl in doc["timepoints"][-1]["new_lesions"]:
        if nl["id"] == "K1":
            nl["nodal"] = True
    out = run(doc)
    tp = out["timepoints"][0]
    assert tp["nlt_ids"] == ["L1", "L2", "N1", "N2"]
    assert tp["nlnt_ids"] == ["K1", "L3", "N3", "N4", "S1"]
    assert tp["nlt_sum_mm"] == 29 + 28 + 15 + 14


# ---------------------------------------------------------------------------------------------
# §2.9 iBOR (iRECIST Table 3)
# ---------------------------------------------------------------------------------------------


def test_s2_9_table3_example1_icr_then_later_icpd_gives_icr():
    out = run(make_doc({"N1": [20, 8, 12, 14, 20]}, nodal={"N1"}))
    assert col(out, "irecist_tpr") == ["iCR", "iPR", "iUPD", "iCPD"]
    assert out["irecist_ibor"]["value"] == "iCR"


def test_s2_9_table3_example2_iupd_ipr_icr_gives_icr():
    out = run(make_doc({"T1": [100, 130, 60, 0]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iPR", "iCR"]
    assert out["irecist_ibor"]["value"] == "iCR"
    assert out["recist_bor"]["value"] == "PD"


def test_s2_9_table3_example3_iupd_ipr_gives_ipr():
    out = run(make_doc({"T1": [100, 130, 60, 65]}))
    assert out["irecist_ibor"]["value"] == "iPR"


def test_s2_9_table3_example4_iupd_ne_ipr_gives_ipr():
    out = run(make_doc({"T1": [100, 130, None, 60], "T2": [10, 10, 10, 10]}))
    assert col(out, "irecist_tpr") == ["iUPD", "NE", "iPR"]
    assert out["irecist_ibor"]["value"] == "iPR"


def test_s2_9_table3_example5_iupd_isd_gives_isd():
    out = run(make_doc({"T1": [100, 130, 95, 95]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iSD", "iSD"]
    assert out["irecist_ibor"]["value"] == "iSD"


def test_s2_9_table3_example6_iupd_icpd_gives_icpd():
    out = run(make_doc({"T1": [100, 130, 136, 0]}))
    assert out["irecist_ibor"]["value"] == "iCPD"


def test_s2_9_table3_example7_iupd_iupd_icpd_gives_icpd():
    out = run(make_doc({"T1": [100, 130, 132, 136]}))
    assert col(out, "irecist_tpr") == ["iUPD", "iUPD", "iCPD"]
    assert out["irecist_ibor"]["value"] == "iCPD"


def test_s2_9_table3_example8_iupd_then_only_ne_gives_iupd():
    out = run(make_doc({"T1": [100, 130, None, None], "T2": [10, 10, 10, 10]}))
    assert col(out, "irecist_tpr") == ["iUPD", "NE", "NE"]
    assert out["irecist_ibor"]["value"] == "iUPD"
    assert out["pseudoprogression"]["any"] is False


def test_s2_9_ibor_confirmation_is_broken_by_iupd():
    out = run(make_doc({"T1": [100, 60, 60, 60]}, new={"N1": {2: 12, 3: 12}}, days=[56, 70, 112]),
              confirmation_required=True)
    assert col(out, "irecist_tpr") == ["iPR", "iUPD", "iUPD"]
    assert out["irecist_ibor"]["value"] == "iSD"


# ---------------------------------------------------------------------------------------------
# §2.10 iPFS
# ---------------------------------------------------------------------------------------------


def test_s2_10_iupd_with_no_confirmation_scan_event_at_iupd_by_default():
    out = run(make_doc({"T1": [100, 95, 130]}, days=[30, 86]))
    assert out["irecist_ibor"]["value"] == "iUPD"  # iSD at day 30 is before the 42-day SD minimum
    assert out["ipfs_event_date"] == day(86)
    assert out["irecist_pfs"]["event_kind"] == "unconfirmed iUPD"
    pp = out["pseudoprogression"]
    assert pp["candidate_awaiting_confirmation"] is True and pp["any"] is False
    assert pp["confirmation_due"] == {"from": day(86 + 26), "to": day(86 + 56)}


def test_s2_10_iupd_with_no_confirmation_scan_censor_policy():
    out = run(make_doc({"T1": [100, 95, 130]}, days=[30, 86]),
              unconfirmed_iupd_policy="censor_at_last_adequate_assessment")
    assert out["ipfs_event_date"] is None
    assert out["irecist_pfs"]["event"] is False


def test_s2_10_icpd_event_date_is_the_first_iupd_of_the_block():
    out = run(make_doc({"T1": [100, 130, 132, 136]}))
    assert out["ipfs_event_date"] == day(56)
    assert out["irecist_pfs"]["event_kind"] == "iUPD confirmed as iCPD"


def test_s2_10_death_is_always_an_event():
    out = run(make_doc({"T1": [100, 90]}, clinical={"death_date": day(100)}))
    assert out["ipfs_event_date"] == day(100)
    assert out["irecist_pfs"]["event_kind"] == "death"
    assert out["recist_pfs"]["event_kind"] == "death"
    assert out["recist_progression_date"] is None


def test_s2_10_no_progression_censored_at_last_adequate_assessment():
    out = run(make_doc({"T1": [100, 90, None], "T2": [10, 10, 10]}))
    assert out["irecist_pfs"]["event"] is False
    assert out["irecist_pfs"]["label"] == "TP1"


def test_s2_10_equivocal_new_lesion_backdates_the_iupd_event():
    out = run(make_doc({"T1": [100, 90, 90, 90]}, new={"N1": {1: {"size_mm": 6, "equivocal": True}, 2: 12, 3: 20}}))
    assert col(out, "irecist_tpr") == ["iSD", "iUPD", "iCPD"]
    assert out["ipfs_event_date"] == day(56)
    assert out["recist_progression_date"] == day(56)


# ---------------------------------------------------------------------------------------------
# §4.1 pseudoprogression
# ---------------------------------------------------------------------------------------------


def test_s4_1_pseudoprogression_with_response():
    out = run(make_doc({"T1": [100, 130, 95, 60]}))
    pp = out["pseudoprogression"]
    assert pp["any"] is True and pp["with_response"] is True
    assert pp["episodes"][0]["resolved_as"] == "iSD" and pp["episodes"][0]["best_after_reset"] == "iPR"


def test_s4_1_confirmed_progression_is_not_pseudoprogression():
    out = run(make_doc({"T1": [100, 130, 140]}))
    pp = out["pseudoprogression"]
    assert pp["any"] is False and pp["candidate_awaiting_confirmation"] is False
    assert pp["episodes"][0]["outcome"] == "confirmed"
