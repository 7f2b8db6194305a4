"""RECIST 1.1 rules (RESPONSE_RULES.md §0-§1), tests written from the specification text."""

import pytest

from tests.analytics.test_response_builders import col, make_doc, result, run

# ---------------------------------------------------------------------------------------------
# §0.3 exact threshold tests
# ---------------------------------------------------------------------------------------------


def test_s0_3_pr_boundary_exactly_minus_30_percent_is_pr():
    out = run(make_doc({"T1": [100, 70]}))
    assert col(out, "target_response") == ["PR"]
    assert col(out, "pct_change_from_baseline") == [-30.0]


def test_s0_3_just_above_minus_30_percent_is_sd():
    out = run(make_doc({"T1": [100, 70.01]}))
    assert col(out, "target_response") == ["SD"]


def test_s0_3_decimal_inputs_are_exact_not_binary_floats():
    # 23.31 + 23.31 + 23.38 = 70.00 exactly; in binary floats the sum is 69.99999999999999 or 70.00000000000001.
    out = run(make_doc({"T1": [33.3, 23.31], "T2": [33.3, 23.31], "T3": [33.4, 23.38]}))
    assert col(out, "target_sum_mm") == [70.0]
    assert col(out, "target_response") == ["PR"]


def test_s0_3_pd_boundary_exactly_20_percent_and_5_mm_is_pd():
    out = run(make_doc({"T1": [25, 30]}))
    assert col(out, "target_response") == ["PD"]
    assert col(out, "abs_change_from_nadir_mm") == [5.0]


def test_s1_4_plus_20_percent_but_under_5_mm_is_not_pd():
    out = run(make_doc({"T1": [20, 24]}))  # +20 %, +4 mm
    assert col(out, "pct_change_from_nadir") == [20.0]
    assert col(out, "target_response") == ["SD"]
    assert col(out, "recist_tpr") == ["SD"]


def test_s1_4_plus_5_mm_but_under_20_percent_is_not_pd():
    out = run(make_doc({"T1": [100, 119.9]}))
    assert col(out, "target_response") == ["SD"]


def test_s0_3_percentages_are_rounded_to_2_decimals_in_output_only():
    res = result(make_doc({"T1": [30, 20]}))
    tp = res.timepoints[0]
    from fractions import Fraction
    assert tp.pct_change_from_baseline == Fraction(-100, 3)  # exact internally
    assert res.to_dict()["timepoints"][0]["pct_change_from_baseline"] == -33.33


# ---------------------------------------------------------------------------------------------
# §0.4 / §1.4 nadir
# ---------------------------------------------------------------------------------------------


def test_s0_4_nadir_after_baseline_pd_although_below_baseline():
    out = run(make_doc({"T1": [100, 60, 75]}))
    assert col(out, "nadir_prior_mm") == [100.0, 60.0]
    assert col(out, "nadir_prior_label") == ["BL", "TP1"]
    assert col(out, "pct_change_from_baseline")[1] == -25.0
    assert col(out, "pct_change_from_nadir")[1] == 25.0
    assert col(out, "target_response") == ["PR", "PD"]


def test_s0_4_nadir_includes_baseline_when_smallest():
    out = run(make_doc({"T1": [100, 110, 121]}))
    assert col(out, "nadir_prior_mm") == [100.0, 100.0]
    assert col(out, "target_response") == ["SD", "PD"]


def test_s0_4_incomplete_sum_does_not_lower_the_nadir():
    out = run(make_doc({"T1": [50, 10, 12], "T2": [50, None, 40]}))
    # TP1 measured sum 10 (T2 not assessed) must not become the nadir.
    assert col(out, "target_response")[0] == "NE"
    assert col(out, "nadir_prior_mm") == [100.0, 100.0]
    assert col(out, "target_response")[1] == "PR"


# ---------------------------------------------------------------------------------------------
# §1.3 sum of diameters and special measurement rules
# ---------------------------------------------------------------------------------------------


def test_s1_3_nodes_under_10_mm_count_towards_cr_and_keep_their_size():
    out = run(make_doc({"T1": [30, "disappeared"], "N1": [20, 8]}, nodal={"N1"}))
    assert col(out, "target_sum_mm") == [8.0]
    assert col(out, "target_response") == ["CR"]
    assert col(out, "recist_tpr") == ["CR"]


def test_s1_3_node_at_exactly_10_mm_prevents_cr():
    out = run(make_doc({"T1": [30, 0], "N1": [20, 10]}, nodal={"N1"}))
    assert col(out, "target_response") == ["PR"]


def test_s1_3_too_small_to_measure_counts_5_mm_by_default():
    out = run(make_doc({"T1": [40, "too-small-to-measure"], "T2": [30, 20]}))
    assert col(out, "target_sum_mm") == [25.0]
    assert col(out, "target_response") == ["PR"]
    assert run(make_doc({"T1": [40, "too-small-to-measure"], "T2": [30, 20]}),
               too_small_default_mm=3)["timepoints"][0]["target_sum_mm"] == 23.0


def test_s1_3_too_small_non_nodal_lesion_is_not_cr():
    out = run(make_doc({"T1": [40, "too-small-to-measure"]}))
    assert col(out, "target_response") == ["PR"]


def test_s1_3_measurable_small_value_is_recorded_as_measured():
    out = run(make_doc({"T1": [40, 3]}))
    assert col(out, "target_sum_mm") == [3.0]


def test_s1_3_split_lesion_fragments_are_added_to_the_original_target():
    out = run(make_doc({"T1": [40, {"fragments_mm": [12, 9.5]}], "T2": [20, 20]}))
    assert col(out, "target_sum_mm") == [41.5]
    assert col(out, "new_lesions") == [[]]


def test_s1_3_coalesced_lesions_merged_ld_on_one_target_zero_on_the_other():
    out = run(make_doc({"T1": [20, {"size_mm": 45, "coalesced_with": ["T2"]}], "T2": [20, {"coalesced_into": "T1"}]}))
    assert col(out, "target_sum_mm") == [45.0]
    assert col(out, "target_response") == ["SD"]  # 40 -> 45 mm: +12.5 %


def test_s1_4_not_assessed_target_gives_ne():
    out = run(make_doc({"T1": [50, 40], "T2": [50, None]}))
    assert col(out, "target_response") == ["NE"]
    assert col(out, "recist_tpr") == ["NE"]
    assert col(out, "target_sum_mm") == [None]
    assert col(out, "measured_target_sum_mm") == [40.0]


def test_s1_4_not_assessed_but_measured_lesions_alone_meet_pd():
    out = run(make_doc({"T1": [50, 20, 70], "T2": [50, 20, None]}))
    assert col(out, "target_response") == ["PR", "PD"]
    assert col(out, "recist_tpr") == ["PR", "PD"]


def test_s1_4_reappearance_after_zero_nadir_is_pd():
    out = run(make_doc({"T1": [30, 0, 6]}))
    assert col(out, "target_response") == ["CR", "PD"]


def test_s1_4_cr_requires_all_non_nodal_targets_zero():
    out = run(make_doc({"T1": [30, 0], "T2": [30, 1]}))
    assert col(out, "target_response") == ["PR"]


# ---------------------------------------------------------------------------------------------
# §1.5 non-target response
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("statuses,expected", [
    (["present", "present"], "NON-CR/NON-PD"),
    (["absent", "absent"], "CR"),
    (["absent", "unequivocal-progression"], "PD"),
    (["absent", "not-evaluated"], "NE"),
    (["unequivocal-progression", "not-evaluated"], "PD"),
    (["present", "increased-from-last-assessment"], "NON-CR/NON-PD"),
])
def test_s1_5_non_target_categories(statuses, expected):
    out = run(make_doc(nontargets={"NT1": [statuses[0]], "NT2": [statuses[1]]}))
    assert col(out, "non_target_response") == [expected]


def test_s1_5_non_target_node_below_10_mm_counts_as_normal_for_cr():
    out = run(make_doc(nontargets={"NN": [{"status": "present", "size_mm": 8}]}, nodal={"NN"}))
    assert col(out, "non_target_response") == ["CR"]
    out = run(make_doc(nontargets={"NN": [{"status": "present", "size_mm": 11}]}, nodal={"NN"}))
    assert col(out, "non_target_response") == ["NON-CR/NON-PD"]


def test_s1_5_tumour_markers_above_normal_prevent_non_target_cr():
    out = run(make_doc(nontargets={"NT1": ["absent"]}, flags={1: {"tumour_markers_above_normal": True}}))
    assert col(out, "non_target_response") == ["NON-CR/NON-PD"]


def test_s1_5_no_non_target_disease_is_na():
    out = run(make_doc({"T1": [30, 0]}))
    assert col(out, "non_target_response") == ["NA"]


def test_s1_5_no_change_from_last_assessment_keeps_recist_non_target_pd():
    out = run(make_doc(nontargets={"NT1": ["unequivocal-progression", "no-change-from-last-assessment"]}))
    assert col(out, "non_target_response") == ["PD", "PD"]


# ---------------------------------------------------------------------------------------------
# §1.7 Table 1 (target disease) and Table 2 (non-target only)
# ---------------------------------------------------------------------------------------------
# target series giving the wanted target category at TP1 from a 100 mm baseline
_TARGET = {"CR": 0, "PR": 60, "SD": 90, "PD": 130, "NE": None}
_NT = {"CR": "absent", "NON-CR/NON-PD": "present", "NE": "not-evaluated", "PD": "unequivocal-progression"}


@pytest.mark.parametrize("tcat,ntcat,new,expected", [
    ("CR", "CR", False, "CR"),
    ("CR", "NON-CR/NON-PD", False, "PR"),
    ("CR", "NE", False, "PR"),
    ("PR", "NON-CR/NON-PD", False, "PR"),
    ("PR", "CR", False, "PR"),
    ("PR", "NE", False, "PR"),
    ("SD", "NON-CR/NON-PD", False, "SD"),
    ("SD", "NE", False, "SD"),
    ("NE", "NON-CR/NON-PD", False, "NE"),
    ("NE", "CR", False, "NE"),
    ("PD", "NON-CR/NON-PD", False, "PD"),
    ("PD", "CR", True, "PD"),
    ("CR", "PD", False, "PD"),
    ("SD", "PD", True, "PD"),
    ("CR", "CR", True, "PD"),
    ("NE", "NE", True, "PD"),
])
def test_s1_7_table_1_rows(tcat, ntcat, new, expected):
    doc = make_doc({"T1": [100, _TARGET[tcat]]}, nontargets={"NT1": [_NT[ntcat]]},
                   new={"N1": {1: 12}} if new else None)
    out = run(doc)
    assert col(out, "target_response") == [tcat]
    assert col(out, "non_target_response") == [ntcat]
    assert col(out, "recist_tpr") == [expected]


def test_s1_7_table_1_target_cr_without_non_target_disease_is_cr():
    out = run(make_doc({"T1": [100, 0]}))
    assert col(out, "recist_tpr") == ["CR"]


@pytest.mark.parametrize("ntcat,new,expected", [
    ("CR", False, "CR"),
    ("NON-CR/NON-PD", False, "NON-CR/NON-PD"),
    ("NE", False, "NE"),
    ("PD", False, "PD"),
    ("CR", True, "PD"),
    ("NE", True, "PD"),
])
def test_s1_7_table_2_rows_non_target_only(ntcat, new, expected):
    out = run(make_doc(nontargets={"NT1": [_NT[ntcat]]}, new={"N1": {1: 12}} if new else None))
    assert col(out, "target_response") == ["NA"]
    assert col(out, "recist_tpr") == [expected]


def test_s1_7_not_evaluable_flag_gives_ne_but_new_lesion_is_still_pd():
    out = run(make_doc({"T1": [100, 90, 90]}, flags={1: {"not_evaluable": True, "lesions": []}}))
    assert col(out, "recist_tpr") == ["NE", "SD"]
    out = run(make_doc({"T1": [100, 90]}, new={"N1": {1: 12}}, flags={1: {"not_evaluable": True, "lesions": []}}))
    assert col(out, "recist_tpr") == ["PD"]


# ---------------------------------------------------------------------------------------------
# §1.6 new lesions
# ---------------------------------------------------------------------------------------------


def test_s1_6_any_unequivocal_new_lesion_is_pd_whatever_its_size():
    out = run(make_doc({"T1": [100, 50]}, new={"N1": {1: 3}}))
    assert col(out, "recist_tpr") == ["PD"]
    assert out["recist_progression_date"] == out["timepoints"][0]["date"]


def test_s1_6_equivocal_new_lesion_is_not_pd():
    out = run(make_doc({"T1": [100, 50]}, new={"N1": {1: {"size_mm": 6, "equivocal": True}}}))
    assert col(out, "recist_tpr") == ["PR"]
    assert col(out, "equivocal_new_lesions") == [["N1"]]


def test_s1_6_equivocal_new_lesion_confirmed_later_dates_pd_from_first_scan():
    doc = make_doc({"T1": [100, 50, 45]}, new={"N1": {1: {"size_mm": 6, "equivocal": True}, 2: 9}})
    out = run(doc)
    assert col(out, "recist_tpr_prospective") == ["PR", "PD"]
    assert col(out, "recist_tpr") == ["PD", "PD"]
    assert out["recist_progression_date"] == out["timepoints"][0]["date"]
    assert out["recist_bor"]["value"] == "PD"
    assert any("retrospectively PD" in e for e in out["timepoints"][0]["explanation"])


def test_s1_9_progression_date_is_the_earliest_scan_date_of_the_assessment():
    doc = make_doc({"T1": [100, 130]})
    doc["timepoints"][-1]["scan_dates"] = ["2023-03-01", doc["timepoints"][-1]["date"]]
    out = run(doc)
    assert out["recist_progression_date"] == "2023-03-01"


# ---------------------------------------------------------------------------------------------
# §1.8 best overall response
# ---------------------------------------------------------------------------------------------


def test_s1_8_bor_without_confirmation_is_the_best_response_before_pd():
    out = run(make_doc({"T1": [100, 60, 50, 80]}))
    assert col(out, "recist_tpr") == ["PR", "PR", "PD"]
    assert out["recist_bor"]["value"] == "PR"


def test_s1_8_responses_after_the_first_pd_do_not_count():
    out = run(make_doc({"T1": [100, 130, 0]}))
    assert col(out, "recist_tpr") == ["PD", "CR"]
    assert out["recist_bor"]["value"] == "PD"


def test_s1_8_sd_needs_the_minimum_duration():
    # SD at day 30 (< 42) followed by PD -> PD; at day 56 -> SD
    out = run(make_doc({"T1": [100, 95, 130]}, days=[30, 90]))
    assert out["recist_bor"]["value"] == "PD"
    out = run(make_doc({"T1": [100, 95, 130]}, days=[56, 110]))
    assert out["recist_bor"]["value"] == "SD"


def test_s1_8_sd_too_early_and_no_further_assessment_is_ne():
    out = run(make_doc({"T1": [100, 95]}, days=[30]))
    assert out["recist_bor"]["value"] == "NE"


def test_s1_8_min_sd_days_option():
    out = run(make_doc({"T1": [100, 95]}, days=[30]), min_sd_days=28)
    assert out["recist_bor"]["value"] == "SD"


def test_s1_8_non_target_only_best_response_is_non_cr_non_pd():
    out = run(make_doc(nontargets={"NT1": ["present", "present"]}))
    assert out["recist_bor"]["value"] == "NON-CR/NON-PD"


# Table 3 (confirmation required): first and subsequent time points 28+ days apart
def _t3(first, second, days=(56, 112)):
    if (first, second) == ("CR", "PR"):
        # after a CR a PR-level sum is only possible with nodal targets (a non-nodal regrowth from a
        # 0 mm nadir is PD): node 20 -> 8 (CR) -> 12 (-40 % vs baseline, +4 mm vs nadir)
        return make_doc({"N1": [20, 8, 12]}, nodal={"N1"}, nontargets={"NT1": ["absent", "absent"]}, days=list(days))
    return make_doc({"T1": [100, _TARGET[first], _TARGET[second]]}, nontargets={"NT1": ["absent", "absent"]},
                    days=list(days))


@pytest.mark.parametrize("first,second,days,expected", [
    ("CR", "CR", (56, 112), "CR"),
    ("CR", "PR", (56, 112), "PR"),  # footnote (a) default: re-label the first CR as PR
    ("CR", "SD", (56, 112), "SD"),
    ("CR", "SD", (20, 30), "PD"),  # SD minimum not met ... and no later PD? see next test
    ("CR", "PD", (56, 112), "SD"),
    ("CR", "PD", (20, 35), "PD"),
    ("CR", "NE", (56, 112), "SD"),
    ("CR", "NE", (20, 35), "NE"),
    ("PR", "CR", (56, 112), "PR"),
    ("PR", "PR", (56, 112), "PR"),
    ("PR", "SD", (56, 112), "SD"),
    ("PR", "PD", (56, 112), "SD"),
    ("PR", "PD", (20, 35), "PD"),
    ("PR", "NE", (56, 112), "SD"),
    ("PR", "NE", (20, 35), "NE"),
    ("NE", "NE", (56, 112), "NE"),
])
def test_s1_8_table_3_bor_with_confirmation(first, second, days, expected):
    doc = _t3(first, second, days)
    if (first, second, days) == ("CR", "SD", (20, 30)):
        # Table 3 "CR then SD: SD provided minimum criteria for SD duration met, otherwise PD" -
        # the PD comes from the next assessment.
        doc = make_doc({"T1": [100, 0, 90, 130]}, nontargets={"NT1": ["absent"] * 3}, days=[20, 30, 60])
    out = run(doc, confirmation_required=True)
    assert out["recist_bor"]["value"] == expected, out["recist_bor"]


def test_s1_8_table_3_cr_then_pr_after_a_true_cr_is_pd():
    out = run(_t3("CR", "PR"), confirmation_required=True, cr_followed_by_disease="pd-after-true-cr")
    assert col(out, "recist_tpr") == ["CR", "PD"]
    assert out["recist_bor"]["value"] == "SD"  # SD minimum met at the CR on day 56
    out = run(_t3("CR", "PR", (20, 35)), confirmation_required=True, cr_followed_by_disease="pd-after-true-cr")
    assert out["recist_bor"]["value"] == "PD"


def test_s1_8_confirmation_needs_28_days():
    out = run(make_doc({"T1": [100, 60, 60]}, days=[56, 80]), confirmation_required=True)
    assert out["recist_bor"]["value"] == "SD"
    out = run(make_doc({"T1": [100, 60, 60]}, days=[56, 84]), confirmation_required=True)
    assert out["recist_bor"]["value"] == "PR"
    assert out["recist_bor"]["confirmed_at"] == "TP2"


def test_s1_8_intervening_sd_breaks_confirmation():
    out = run(make_doc({"T1": [100, 60, 71, 60]}, days=[56, 112, 168]), confirmation_required=True,
              keep_pr_after_confirmed_pr=False)
    assert col(out, "recist_tpr") == ["PR", "SD", "PR"]
    assert out["recist_bor"]["value"] == "SD"


def test_s1_8_ne_between_response_and_confirmation_is_tolerated():
    out = run(make_doc({"T1": [100, 60, None, 60]}, days=[56, 84, 112]), confirmation_required=True)
    assert out["recist_bor"]["value"] == "PR"


# ---------------------------------------------------------------------------------------------
# §1.8 PR persistence (RECIST WG FAQ)
# ---------------------------------------------------------------------------------------------


def test_s1_8_pr_persistence_faq_example_100_70_70_80_80_80():
    doc = make_doc({"T1": [100, 70, 70, 80, 80, 80]})
    out = run(doc)
    assert col(out, "recist_tpr") == ["PR"] * 5
    assert out["recist_bor"]["value"] == "PR"


def test_s1_8_pr_persistence_off_gives_literal_sd():
    out = run(make_doc({"T1": [100, 70, 70, 80, 80, 80]}), keep_pr_after_confirmed_pr=False)
    assert col(out, "recist_tpr") == ["PR", "PR", "SD", "SD", "SD"]
    assert out["recist_bor"]["value"] == "PR"


def test_s1_8_pr_persistence_with_confirmation_starts_after_confirmation():
    out = run(make_doc({"T1": [100, 70, 70, 80, 80, 80]}), confirmation_required=True)
    assert col(out, "recist_tpr") == ["PR"] * 5
    assert out["recist_bor"]["value"] == "PR"
    # PR not yet confirmed when the sum reaches 80 -> SD there
    out = run(make_doc({"T1": [100, 70, 80, 80]}), confirmation_required=True)
    assert col(out, "recist_tpr") == ["PR", "SD", "SD"]
    assert out["recist_bor"]["value"] == "SD"


def test_s1_8_pr_persistence_does_not_mask_pd():
    out = run(make_doc({"T1": [100, 70, 70, 85]}))
    assert col(out, "recist_tpr") == ["PR", "PR", "PD"]  # 85 vs nadir 70: +21 %, +15 mm
