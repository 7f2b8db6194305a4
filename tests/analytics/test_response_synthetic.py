"""The synthetic generator's engine documents (demo.compute.synthetic) and the docs example."""

import json
import pathlib
import warnings

import pytest

from analytics.compute.response import evaluate, validate_document
from demo.compute.synthetic import PATTERNS, generate_cohort, generate_patient

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "examples" / "response_example.json"


def test_generator_is_deterministic_and_carries_its_pattern():
    a = generate_cohort(30, seed=7)
    b = generate_cohort(30, seed=7)
    assert a == b
    assert a != generate_cohort(30, seed=8)
    assert all(d["meta"]["pattern"] in PATTERNS for d in a)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_pattern_generates_valid_documents_with_8_timepoints(pattern):
    for seed in range(25):
        doc = generate_patient(seed, pattern=pattern)
        assert validate_document(doc) == []
        assert len(doc["timepoints"]) == 8
        ids = {les["id"] for tp in doc["timepoints"] for les in tp["lesions"] + tp.get("new_lesions", [])}
        assert len(ids) <= 10


def test_patterns_look_like_their_names_on_average():
    warnings.simplefilter("ignore")
    out = {p: [evaluate(generate_patient(s, pattern=p)) for s in range(40)] for p in PATTERNS}
    share = {p: sum(o["recist_bor"]["value"] in ("CR", "PR") for o in outs) / 40 for p, outs in out.items()}
    assert share["complete_response"] > 0.8 and share["partial_response"] > 0.8 and share["progression"] < 0.1
    assert sum(o["recist_bor"]["value"] == "CR" for o in out["complete_response"]) > 30
    assert sum(o["recist_bor"]["value"] == "PR" for o in out["partial_response"]) > 30
    assert sum(o["hyperprogression"]["champiat"]["hpd"] is True for o in out["hyperprogression"]) > 20
    assert sum(o["pseudoprogression"]["any"] for o in out["pseudoprogression"]) > 30
    assert sum(o["dissociated_response"]["tozuka"]["dissociated"] is True for o in out["dissociated_response"]) > 30


def test_one_vocabulary_for_documents_and_the_demo_cohort():
    """The engine documents and the demo cohort (whose patterns are stored as ground truth) name patterns alike."""
    import datetime as dt

    from demo.compute.synthetic import CohortGenerator

    cohort = CohortGenerator(seed=2, today=dt.date(2026, 1, 1)).generate(300)
    assert {p.pattern for p in cohort} == set(PATTERNS)
    assert {d["meta"]["pattern"] for d in generate_cohort(300, seed=2)} == set(PATTERNS)
    with pytest.raises(ValueError, match="unknown pattern 'response'"):
        generate_patient(0, pattern="response")  # the former engine-document name of the two response patterns


def test_docs_example_evaluates():
    out = evaluate(json.loads(EXAMPLE.read_text()))
    assert [t["recist_tpr"] for t in out["timepoints"]] == ["PD", "PR", "PR", "PR"]
    assert [t["irecist_tpr"] for t in out["timepoints"]] == ["iUPD", "iPR", "iPR", "iPR"]
    assert out["pseudoprogression"]["with_response"] is True
    json.dumps(out)
