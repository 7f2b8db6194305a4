"""The demo cohort: realistic, valid through the app's own validation, reproducible, with its ground truth."""
import datetime as dt
import io
from collections import Counter

import pytest
from django.core.management import call_command

from demo.compute.synthetic import PATTERNS, CohortGenerator
from imaging.models import Lesion, LesionMeasurement, Timepoint
from patients.models import Biomarker, DemoGroundTruth, Outcome, Patient, TreatmentRegimen

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 24)


@pytest.fixture
def cohort(db):
    call_command("seed_demo", patients=60, seed=7, stdout=io.StringIO())
    return Patient.objects.all()


def test_seed_demo_creates_a_complete_cohort(cohort):
    assert cohort.count() == 60
    assert DemoGroundTruth.objects.count() == 60
    assert Timepoint.objects.filter(kind="baseline").count() == 60
    assert Outcome.objects.count() == 60
    assert TreatmentRegimen.objects.filter(agents__drug_class__in=["anti_pd1", "anti_pdl1"]).exists()
    assert Lesion.objects.filter(role="new").exists() and Lesion.objects.filter(role="non-target").exists()
    # every stored row passes the same validation as a manual entry
    for model in (Patient, TreatmentRegimen, Biomarker, Timepoint, Lesion, LesionMeasurement):
        for obj in model.objects.all()[:300]:
            obj.full_clean()


def test_generator_is_reproducible_and_never_dates_the_future():
    a = CohortGenerator(seed=3, today=TODAY).generate(50)
    b = CohortGenerator(seed=3, today=TODAY).generate(50)
    assert [(p.pattern, p.timepoints, p.lesions[0].sizes) for p in a] == [
        (p.pattern, p.timepoints, p.lesions[0].sizes) for p in b]
    for p in a:
        dates = [t["date"] for t in p.timepoints] + [e["onset"] for e in p.adverse_events]
        dates += [p.outcome["last_contact"]] + [r["start"] for r in p.regimens]
        assert max(dates) <= TODAY


def test_patterns_look_like_their_names():
    patients = CohortGenerator(seed=11, today=TODAY).generate(400)
    counts = Counter(p.pattern for p in patients)
    assert set(counts) == set(PATTERNS)
    for p in patients:
        b = [t["kind"] for t in p.timepoints].index("baseline")
        sums = [sum((l.sizes[t] if l.statuses[t] != "too-small-to-measure" else 5) or 0
                    for l in p.lesions if l.role == "target") for t in range(len(p.timepoints))]
        if len(sums) <= b + 1:
            continue
        first = (sums[b + 1] - sums[b]) / sums[b]
        if p.pattern == "partial_response" and len(sums) > b + 2:
            assert min(sums[b + 1:]) <= 0.75 * sums[b]
        if p.pattern == "progression":
            assert max(sums[b + 1:]) >= 1.2 * min(sums[:b + 1]) or any(l.role == "new" for l in p.lesions)
        if p.pattern == "hyperprogression":
            assert first >= 0.4 and p.timepoints[0]["kind"] == "pre-baseline"
            assert (sums[b] - sums[0]) / sums[0] < 0.2  # slow growth before the ICI (sizes rounded to 1 mm)
            assert p.outcome["death"] is None or p.outcome["death"] <= p.timepoints[-1]["date"] + dt.timedelta(90)
        if p.pattern == "pseudoprogression" and len(sums) > b + 2:
            assert first >= 0.2 and sums[-1] < sums[b]


def test_biomarkers_carry_signal():
    patients = CohortGenerator(seed=5, today=TODAY).generate(600)

    def mean(kind, patterns):
        values = [b["numeric"] for p in patients if p.pattern in patterns for b in p.biomarkers if b["kind"] == kind]
        return sum(values) / len(values)

    responders = ("complete_response", "partial_response")
    assert mean("pdl1_tps", responders) > mean("pdl1_tps", ("progression",)) + 15
    assert mean("nlr", ("hyperprogression",)) > mean("nlr", responders) * 1.5


def test_seed_demo_if_empty_does_nothing_on_a_populated_database(cohort):
    out = io.StringIO()
    call_command("seed_demo", patients=5, if_empty=True, stdout=out)
    assert Patient.objects.count() == 60 and "already exist" in out.getvalue()


def test_second_seed_adds_patients_without_clashing(cohort):
    call_command("seed_demo", patients=5, seed=8, stdout=io.StringIO())
    assert Patient.objects.count() == 65
