"""The survival analyses' input read from the database: one SubjectRecord per patient, relative to time zero."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.compute.response.summary import result_summary
from analytics.compute.survival import SpecError
from analytics.models import ResponseAssessment, TimepointResponse
from analytics.selectors import records_sha256, survival_records
from patients.models import BiomarkerKind
from tests.analytics.builders import patient_with_scans
from tests.factories import (
    AdverseEventFactory,
    BiomarkerFactory,
    OutcomeFactory,
    PatientFactory,
    RegimenFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db
START = dt.date(2024, 1, 10)


def day(n):
    return START + dt.timedelta(days=n)


def by_patient(records):
    return {r.patient_id: r for r in records}


@pytest.fixture
def progressing(django_capture_on_commit_callbacks):
    """PR at day 56, RECIST PD (iUPD) at day 112 vs the nadir, iCPD at day 168: iPFS dated at the iUPD."""
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, _, _ = patient_with_scans([(-5, 100), (56, 60), (112, 100), (168, 130)], start=START)
        OutcomeFactory(patient=patient, last_contact_date=day(300), vital_status="dead", death_date=day(300))
    return patient, regimen


def test_progression_dates_and_last_adequate_assessment_come_from_the_stored_engine_result(progressing):
    patient, regimen = progressing
    (record,) = survival_records(spec={"kind": "km", "endpoint": "os"})
    assert record.patient_id == patient.pk and record.time_zero == START and record.assessed
    assert record.progression_recist == day(112)
    assert record.progression_irecist == day(112)  # iCPD at day 168 dated at its iUPD (iRECIST §2.10)
    assert record.last_adequate_assessment == day(112)  # evaluable assessments up to the first PD
    assert record.last_adequate_assessment_irecist == day(168)
    assert (record.death_date, record.last_contact) == (day(300), day(300))
    assert record.response_groups["recist_bor"] == "PR" and record.response_group_dates["recist_bor"] == day(56)
    assert record.response_groups["dcb"] == "NDB" and record.response_group_dates["dcb"] == day(112)
    assert record.response_groups["hyperprogression_any"] is False
    assert record.response_groups["pseudoprogression"] is False
    assert record.response_group_dates["pseudoprogression"] is None


def test_the_records_read_the_summary_stored_with_each_result_and_it_is_the_results_own(progressing):
    patient, regimen = progressing
    assessment = ResponseAssessment.objects.get(regimen=regimen)
    assert assessment.summary == result_summary(assessment.result)
    summary = assessment.summary
    assert summary["recist_pfs"] == assessment.result["recist_pfs"]
    assert summary["hyperprogression_common"] == assessment.result["hyperprogression"]["common"]
    categories = {(tr.timepoint.date.isoformat(), tr.criteria): tr.category
                  for tr in TimepointResponse.objects.filter(assessment=assessment).select_related("timepoint")}
    assert {(tp["date"], "recist1.1"): tp["recist_tpr"] or "" for tp in summary["timepoints"]} == {
        key: value for key, value in categories.items() if key[1] == "recist1.1"}
    # The records come from the summary alone: a stale summary changes them, the full result does not.
    ResponseAssessment.objects.filter(pk=assessment.pk).update(summary={**summary, "recist_pfs": {}})
    (record,) = survival_records(spec={"kind": "km", "endpoint": "os"})
    assert record.progression_recist is None and record.progression_irecist == day(112)


def test_a_response_without_progression_has_no_progression_date(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, _, _, _ = patient_with_scans([(-5, 100), (56, 60), (112, 55), (200, 50)], start=START)
        OutcomeFactory(patient=patient, last_contact_date=day(250))
    (record,) = survival_records(spec={"kind": "km", "endpoint": "pfs_recist"})
    assert record.progression_recist is None and record.progression_irecist is None
    assert record.last_adequate_assessment == day(200) == record.last_adequate_assessment_irecist
    assert record.death_date is None and record.last_contact == day(250)
    assert record.response_groups["dcb"] == "DCB" and record.response_group_dates["dcb"] == day(183)


def test_time_zero_follows_the_spec_and_patients_without_the_regimen_get_none():
    second_line = PatientFactory()
    RegimenFactory(patient=second_line, line_of_therapy=1, start_date=dt.date(2023, 1, 5), agents=["carboplatin"],
                   end_date=dt.date(2023, 5, 1), end_reason="progression")
    RegimenFactory(patient=second_line, line_of_therapy=2, start_date=dt.date(2023, 6, 1),
                   agents=["nivolumab", "ipilimumab"])
    chemo_only = PatientFactory()
    RegimenFactory(patient=chemo_only, start_date=dt.date(2023, 3, 1), agents=["docetaxel"])
    nothing = PatientFactory()

    records = by_patient(survival_records(spec={"kind": "km", "endpoint": "os",
                                                "covariates": ["line_of_therapy", "drug_class"]}))
    assert records[second_line.pk].time_zero == dt.date(2023, 6, 1)
    assert records[second_line.pk].covariates == {"line_of_therapy": 2, "drug_class": "anti_ctla4+anti_pd1"}
    assert records[chemo_only.pk].time_zero is None and records[nothing.pk].time_zero is None
    assert not records[second_line.pk].assessed  # no stored response assessment
    assert records[nothing.pk].last_contact is None  # no Outcome row

    first_line = by_patient(survival_records(spec={"time_zero": {"line_of_therapy": 1}}))
    assert first_line[second_line.pk].time_zero == dt.date(2023, 1, 5)
    assert first_line[second_line.pk].regimen_end == dt.date(2023, 5, 1)
    assert first_line[second_line.pk].regimen_end_reason == "progression"
    assert first_line[chemo_only.pk].time_zero == dt.date(2023, 3, 1)
    by_label = by_patient(survival_records(spec={"time_zero": {"drug_class": "anti-CTLA-4"}}))
    assert by_label[second_line.pk].time_zero == dt.date(2023, 6, 1) and by_label[chemo_only.pk].time_zero is None
    with pytest.raises(SpecError) as err:
        survival_records(spec={"time_zero": {"drug_class": "anti-XYZ"}})
    assert err.value.field == "time_zero"


def test_covariates_at_time_zero():
    patient = PatientFactory(year_of_birth=1950, sex="M", ecog_baseline=2, stage="IVA", smoking_status="former",
                             tumour_type="melanoma")
    RegimenFactory(patient=patient, start_date=dt.date(2023, 2, 1))
    BiomarkerFactory(patient=patient, value_numeric=Decimal("10"), measured_on=dt.date(2022, 12, 1))
    BiomarkerFactory(patient=patient, value_numeric=Decimal("60"), measured_on=dt.date(2023, 1, 20))
    BiomarkerFactory(patient=patient, value_numeric=Decimal("90"), measured_on=dt.date(2023, 3, 1))  # after t0
    BiomarkerFactory(patient=patient, value_numeric=Decimal("99"), measured_on=dt.date(2023, 1, 25),
                     source="predicted")  # a model's prediction is not a measurement
    BiomarkerFactory(patient=patient, kind=BiomarkerKind.objects.get(code="msi"), value_numeric=None,
                     value_category="MSI-H", measured_on=dt.date(2023, 1, 2))
    unknown = PatientFactory(year_of_birth=None, sex="U", ecog_baseline=None, smoking_status="unknown")
    RegimenFactory(patient=unknown, start_date=dt.date(2023, 2, 1))
    names = ["age_at_start", "sex", "ecog_baseline", "tumour_type", "stage", "smoking_status", "pdl1_tps", "msi",
             "tmb"]
    records = by_patient(survival_records(spec={"covariates": names[:-1], "group_by": "tmb"}))
    assert records[patient.pk].covariates == {
        "age_at_start": 73, "sex": "M", "ecog_baseline": 2, "tumour_type": "melanoma", "stage": "IVA",
        "smoking_status": "former", "pdl1_tps": 60.0, "msi": "MSI-H", "tmb": None}
    missing = records[unknown.pk].covariates
    assert [missing[n] for n in ("age_at_start", "sex", "ecog_baseline", "smoking_status", "pdl1_tps")] == [None] * 5


def test_irae_onsets_on_or_after_time_zero():
    patient = PatientFactory()
    RegimenFactory(patient=patient, start_date=dt.date(2023, 2, 1))
    AdverseEventFactory(patient=patient, term="pneumonitis", grade=3, onset_date=dt.date(2023, 5, 2))
    AdverseEventFactory(patient=patient, term="colitis", grade=1, onset_date=dt.date(2023, 2, 1))
    AdverseEventFactory(patient=patient, term="dermatitis", grade=2, onset_date=dt.date(2023, 1, 1))  # before
    (record,) = survival_records(spec={})
    assert list(record.irae_onsets) == [("colitis", 1, dt.date(2023, 2, 1)), ("pneumonitis", 3, dt.date(2023, 5, 2))]


def test_the_cohort_uses_the_patient_list_filters():
    a, b = SiteFactory(code="A"), SiteFactory(code="B")
    in_a = PatientFactory(site=a, tumour_type="nsclc")
    melanoma_a = PatientFactory(site=a, tumour_type="melanoma")
    in_b = PatientFactory(site=b, tumour_type="nsclc")
    rcc_b = PatientFactory(site=b, tumour_type="rcc")

    def cohort(filters):
        return {r.patient_id for r in survival_records(spec={"cohort": filters})}

    assert cohort({"site": ["A"], "tumour_type": ["nsclc"]}) == {in_a.pk}
    assert cohort({"site": "B"}) == {in_b.pk, rcc_b.pk}
    assert cohort({"tumour_type": ["nsclc", "melanoma"]}) == {in_a.pk, melanoma_a.pk, in_b.pk}
    assert cohort({}) == {in_a.pk, melanoma_a.pk, in_b.pk, rcc_b.pk}
    for bad, field in (({"site": ["Z"]}, "cohort.site"), ({"ward": "3"}, "cohort.ward"),
                       ({"tumour_type": "brain"}, "cohort.tumour_type")):
        with pytest.raises(SpecError) as err:
            survival_records(spec={"cohort": bad})
        assert err.value.field == field and err.value.message


def test_an_unknown_covariate_is_a_spec_error():
    with pytest.raises(SpecError) as err:
        survival_records(spec={"covariates": ["age_at_start", "shoe_size"]})
    assert err.value.field == "covariates" and "shoe_size" in err.value.message


def _cohort(n, site):
    for i in range(n):
        patient = PatientFactory(site=site)
        RegimenFactory(patient=patient, start_date=dt.date(2023, 2, 1))
        BiomarkerFactory(patient=patient)
        AdverseEventFactory(patient=patient, onset_date=dt.date(2023, 3, 1) + dt.timedelta(days=i))
        OutcomeFactory(patient=patient)


def test_a_fixed_number_of_queries_whatever_the_cohort_size():
    small, large = SiteFactory(code="small"), SiteFactory(code="large")
    _cohort(2, small)
    _cohort(25, large)
    spec = {"covariates": ["age_at_start", "drug_class", "pdl1_tps"]}
    counts = []
    for site in ("small", "large"):
        with CaptureQueriesContext(connection) as queries:
            records = survival_records(spec={**spec, "cohort": {"site": site}})
        counts.append((len(records), len(queries)))
    assert counts[0][0] == 2 and counts[1][0] == 25
    assert counts[0][1] == counts[1][1] == 9, counts  # the spec's checks and seven reads, whatever the size


def test_the_records_hash_sees_every_change():
    patient = PatientFactory()
    RegimenFactory(patient=patient, start_date=dt.date(2023, 2, 1))
    outcome = OutcomeFactory(patient=patient)
    spec = {"covariates": ["pdl1_tps"]}
    before = records_sha256(survival_records(spec=spec))
    assert records_sha256(survival_records(spec=spec)) == before
    outcome.last_contact_date = dt.date(2024, 2, 1)
    outcome.save()
    assert records_sha256(survival_records(spec=spec)) != before
