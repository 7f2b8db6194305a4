"""Input validation (§5 data model): one exception type carrying every problem."""

import copy

import pytest

from analytics.compute.response import ResponseInputError, evaluate, parse_document, validate_document
from tests.analytics.test_response_builders import make_doc


def problems(doc, **options):
    with pytest.raises(ResponseInputError) as exc:
        evaluate(doc, options or None)
    return exc.value.problems


def test_s5_target_without_size_or_measurement_status_message():
    doc = make_doc({"T1": [40, 30], "T3": [30, 20]})
    doc["timepoints"][1]["label"] = "TP2"
    del doc["timepoints"][1]["lesions"][1]["size_mm"]
    assert problems(doc) == ["timepoint TP2: lesion T3 has neither size_mm nor a measurement status"]


def test_s5_every_problem_is_collected_not_just_the_first():
    doc = make_doc({"T1": [40, 30, 20]}, nontargets={"NT1": ["present", "present"]})
    del doc["timepoints"][1]["lesions"][0]["size_mm"]  # TP1 T1
    doc["timepoints"][2]["lesions"][1]["status"] = "gone"  # TP2 NT1
    doc["options"] = {"confirmation_requird": True}
    p = problems(doc)
    assert "timepoint TP1: lesion T1 has neither size_mm nor a measurement status" in p
    assert any(m.startswith("timepoint TP2: lesion NT1: status must be one of") for m in p)
    assert "options: unknown option 'confirmation_requird'" in p
    assert len(p) == 3


def test_s5_unknown_option_names_and_bad_values_are_errors():
    doc = make_doc({"T1": [40, 30]}, options={"foo": 1, "min_sd_days": -3, "dcb_pfs": "both"})
    p = problems(doc)
    assert "options: unknown option 'foo'" in p
    assert any("option min_sd_days" in m for m in p)
    assert any("option dcb_pfs: expected one of recist, irecist" in m for m in p)


def test_s5_options_passed_in_code_are_validated_too():
    assert any("unknown option 'nope'" in m for m in problems(make_doc({"T1": [40, 30]}), nope=True))


def test_s1_1_target_below_measurable_size():
    doc = make_doc({"T1": [8, 6], "N1": [12, 10]}, nodal={"N1"})
    p = problems(doc)
    assert "timepoint BL: lesion T1: target longest diameter 8 mm is below the measurable minimum of 10 mm (RECIST 1.1 §1.1)" in p
    assert "timepoint BL: lesion N1: target short axis 12 mm is below the measurable minimum of 15 mm (RECIST 1.1 §1.1)" in p


def test_s1_1_slice_thickness_over_5_mm_raises_the_minimum():
    doc = make_doc({"T1": [12, 10]})
    doc["timepoints"][0]["slice_thickness_mm"] = 8
    assert any("below the measurable minimum of 16 mm" in m for m in problems(doc))


def test_s1_2_at_most_5_targets_and_2_per_organ():
    doc = make_doc({f"T{i}": [20, 20] for i in range(6)}, organs={f"T{i}": "liver" for i in range(6)})
    p = problems(doc)
    assert "timepoint BL: 6 target lesions, at most 5 allowed (RECIST 1.1 §1.2)" in p
    assert any("6 target lesions in organ 'liver'" in m for m in p)


def test_s1_2_lymph_nodes_in_all_locations_count_as_one_organ():
    doc = make_doc({"A": [20, 20], "B": [20, 20], "C": [20, 20]}, nodal={"A", "B", "C"},
                   organs={"A": "neck", "B": "axilla", "C": "mediastinum"})
    assert any("in organ 'lymph node'" in m for m in problems(doc))


def test_s1_1_non_target_node_under_10_mm_is_not_pathological():
    doc = make_doc({"T1": [20, 20]}, nontargets={"NN": ["present"]}, nodal={"NN"})
    doc["timepoints"][0]["lesions"][1]["size_mm"] = 8
    assert any("node with short axis 8 mm (< 10 mm) is not pathological" in m for m in problems(doc))


def test_s1_6_new_node_under_10_mm_is_not_a_new_lesion():
    doc = make_doc({"T1": [20, 20]}, new={"K1": {1: {"size_mm": 8, "nodal": True}}})
    assert any("new lesion K1: node with short axis 8 mm" in m for m in problems(doc))


def test_s5_missing_lesion_at_follow_up_is_reported():
    doc = make_doc({"T1": [20, 20], "T2": [20, 20]})
    doc["timepoints"][1]["lesions"].pop()
    assert problems(doc) == ["timepoint TP1: target lesion T2 is missing (record it with measurement "
                             "'not-assessed' if it was not assessed)"]


def test_s5_missing_lesions_allowed_on_a_not_evaluable_timepoint():
    doc = make_doc({"T1": [20, 20, 20]})
    doc["timepoints"][1]["lesions"] = []
    doc["timepoints"][1]["not_evaluable"] = True
    assert validate_document(doc) == []


def test_s5_previously_recorded_new_lesion_must_be_listed_again():
    doc = make_doc({"T1": [20, 20, 20]}, new={"N1": {1: 12}})
    assert any("new lesion N1 (first recorded at TP1) is missing" in m for m in problems(doc))


def test_s5_unknown_follow_up_lesion_must_be_a_new_lesion():
    doc = make_doc({"T1": [20, 20]})
    doc["timepoints"][1]["lesions"].append({"id": "X9", "size_mm": 4})
    assert any("lesion X9 was not recorded at baseline" in m for m in problems(doc))


def test_s5_conflicting_size_and_measurement():
    doc = make_doc({"T1": [20, {"size_mm": 4, "measurement": "too-small-to-measure"}]})
    assert any("give either size_mm or measurement 'too-small-to-measure', not both" in m for m in problems(doc))


def test_s5_fragments_must_match_size():
    doc = make_doc({"T1": [20, {"size_mm": 10, "fragments_mm": [4, 5]}]})
    assert any("differs from the sum of fragments_mm (9)" in m for m in problems(doc))


def test_s5_coalesced_into_must_name_another_target():
    doc = make_doc({"T1": [20, {"coalesced_into": "T9"}]})
    assert any("coalesced_into names T9" in m for m in problems(doc))


def test_s5_negative_and_non_numeric_sizes():
    doc = make_doc({"T1": [20, -1], "T2": [20, "big"]})
    p = problems(doc)
    assert any("lesion T1: size_mm must be >= 0" in m for m in p)
    assert any("measurement must be one of" in m and "lesion T2" in m for m in p)


def test_s5_duplicate_dates_are_an_error_not_a_silent_order():
    doc = make_doc({"T1": [20, 20, 20]}, days=[56, 56])
    assert any("timepoints TP1 and TP2 share the date" in m for m in problems(doc))


def test_s5_no_change_status_requires_prior_unequivocal_progression():
    doc = make_doc({"T1": [20, 20]}, nontargets={"NT1": ["no-change-from-last-assessment"]})
    assert any("'no-change-from-last-assessment' is for non-target disease already in unequivocal progression" in m
               for m in problems(doc))


def test_s5_equivocal_after_unequivocal_is_an_error():
    doc = make_doc({"T1": [20, 20, 20]}, new={"N1": {1: 12, 2: {"size_mm": 12, "equivocal": True}}})
    assert any("new lesion N1 is marked equivocal but was already unequivocal" in m for m in problems(doc))


def test_s5_unknown_fields_are_errors():
    doc = make_doc({"T1": [20, 20]})
    doc["timepoints"][1]["lesions"][0]["sise_mm"] = 3
    doc["timepoint"] = []
    p = problems(doc)
    assert "timepoint TP1: lesion T1: unknown field 'sise_mm'" in p
    assert "document: unknown field 'timepoint'" in p


def test_s5_baseline_is_inferred_from_treatment_start_when_not_marked():
    doc = make_doc({"T1": [20, 10]}, pre={"T1": 15})
    for tp in doc["timepoints"]:
        tp.pop("kind", None)
    inp = parse_document(doc)
    assert inp.baseline.label == "BL" and [t.label for t in inp.pre_baseline] == ["PRE"]


def test_s5_no_baseline_is_an_error():
    doc = make_doc({"T1": [20, 10]})
    doc["timepoints"][0].pop("kind")
    doc["timepoints"][0]["date"] = "2023-02-01"
    p = problems(doc)
    assert any("no baseline timepoint" in m for m in p)


def test_s1_2_automatic_target_selection_when_no_kind_given():
    doc = make_doc({"A": [50, 50], "B": [40, 40], "C": [30, 30], "D": [20, 20]},
                   organs={"A": "liver", "B": "liver", "C": "liver", "D": "lung"})
    for les in doc["timepoints"][0]["lesions"]:
        del les["kind"]
    inp = parse_document(doc)
    assert inp.target_ids == ("A", "B", "D") and inp.non_target_ids == ("C",)
    assert inp.target_selection == "auto:organ-representative"


def test_s1_2_organ_representative_vs_size_greedy():
    from analytics.compute.response.selection import select_targets
    cands = [("A", "liver", 50), ("B", "liver", 45), ("C", "lung", 44), ("D", "lung", 43), ("E", "bone", 12),
             ("F", "kidney", 11), ("G", "adrenal", 10)]
    assert select_targets(cands, max_total=5, max_per_organ=2, rule="organ-representative") == ["A", "C", "E", "F", "G"]
    assert select_targets(cands, max_total=5, max_per_organ=2, rule="size-greedy") == ["A", "B", "C", "D", "E"]


def test_s5_document_is_not_mutated():
    doc = make_doc({"T1": [20, 10]}, new={"N1": {1: 12}})
    before = copy.deepcopy(doc)
    evaluate(doc)
    assert doc == before


def test_s5_error_message_lists_every_problem():
    doc = make_doc({"T1": [20, 10]})
    doc["treatment_start"] = "not a date"
    with pytest.raises(ResponseInputError) as exc:
        evaluate(doc)
    assert "treatment_start must be an ISO date" in str(exc.value)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("huge", [1e20, 1e300, 100000])
def test_a_size_beyond_what_the_database_stores_is_a_problem_not_a_crash(huge):
    """Issue 15: size_mm >= 1e20 made the calculator answer 500 (rounding a 10^300 mm change for display)."""
    doc = make_doc({"T1": [40, 30]})
    doc["timepoints"][1]["label"] = "TP2"
    doc["timepoints"][1]["lesions"][0]["size_mm"] = huge
    assert problems(doc) == [f"timepoint TP2: lesion T1: size_mm must be at most 99999.99 (sizes are in "
                             f"millimetres), got {huge!r}"]
    doc["timepoints"][1]["lesions"][0]["size_mm"] = 99999.99  # the largest stored size still evaluates
    assert evaluate(doc)["timepoints"][-1]["target_sum_mm"] == 99999.99
