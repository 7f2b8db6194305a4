"""The patients app's API for every record: reads for any authenticated user, writes through the services with the
model's own messages, permission-checked, and a constant number of queries per list page."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import AdverseEvent, Outcome, TreatmentRegimen
from tests.factories import AdverseEventFactory, BiomarkerFactory, OutcomeFactory, PatientFactory, RegimenFactory

pytestmark = pytest.mark.django_db
API = "/api/v1/patients/"




def test_every_record_can_be_listed_and_read(api_user):
    patient = PatientFactory(study_id="REC-1")
    regimen = RegimenFactory(patient=patient)
    BiomarkerFactory(patient=patient)
    AdverseEventFactory(patient=patient, regimen=regimen)
    OutcomeFactory(patient=patient)
    for route in ("sites", "regimens", "biomarkers", "adverse-events", "outcomes"):
        listed = api_user.get(f"{API}{route}/")
        assert listed.status_code == 200 and listed.json()["count"] >= 1, route
        row = listed.json()["results"][0]
        assert api_user.get(row["url"]).json()["id"] == row["id"]
    assert api_user.get(f"{API}regimens/", {"patient": "REC-1"}).json()["count"] == 1
    assert api_user.get(f"{API}regimens/", {"patient": "NOBODY"}).json()["count"] == 0
    assert api_user.get(f"{API}adverse-events/", {"grade_min": 5}).json()["count"] == 0


def test_a_write_needs_the_permission(api_user):
    patient = PatientFactory()
    refused = api_user.post(f"{API}outcomes/", {"patient": patient.pk, "last_contact_date": "2024-01-01",
                                              "vital_status": "alive"})
    assert refused.status_code == 403 and not Outcome.objects.exists()


def test_writes_go_through_the_services_with_the_models_messages(api_curator):
    patient = PatientFactory()
    body = {"patient": patient.pk, "line_of_therapy": 1, "agents": ["nivolumab", "ipilimumab"],
            "start_date": "2024-01-10"}
    made = api_curator.post(f"{API}regimens/", body, format="json")
    assert made.status_code == 201 and sorted(made.json()["agents"]) == ["ipilimumab", "nivolumab"]
    again = api_curator.post(f"{API}regimens/", {**body, "end_date": "2024-06-01", "end_reason": "progression"},
                        format="json")  # the same natural key: the regimen is updated, not duplicated
    assert again.status_code == 200 and TreatmentRegimen.objects.get().end_date.isoformat() == "2024-06-01"
    backwards = api_curator.patch(made.json()["url"], {"end_date": "2023-01-01"}, format="json")
    assert backwards.status_code == 400 and list(backwards.json()) in (["end_date"], ["non_field_errors"])
    assert TreatmentRegimen.objects.get().end_date.isoformat() == "2024-06-01"  # nothing written
    assert api_curator.patch(made.json()["url"], {"agents": []}, format="json").status_code == 400

    grade = api_curator.post(f"{API}adverse-events/", {"patient": patient.pk, "term": "colitis", "grade": 7,
                                                  "onset_date": "2024-02-01"}, format="json")
    assert grade.status_code == 400 and "grade" in grade.json() and not AdverseEvent.objects.exists()
    later = api_curator.post(f"{API}outcomes/", {"patient": patient.pk, "last_contact_date": "2024-07-01",
                                            "vital_status": "dead"}, format="json")
    assert later.status_code == 400 and later.json() == {
        "death_date": ["Vital status is 'dead': the date of death is required."]} and not Outcome.objects.exists()
    alive = api_curator.post(f"{API}outcomes/", {"patient": patient.pk, "last_contact_date": "2024-07-01",
                                            "vital_status": "alive"}, format="json")
    assert alive.status_code == 201 and Outcome.objects.get().vital_status == "alive"
    seen = api_curator.post(f"{API}outcomes/", {"patient": patient.pk, "last_contact_date": "2024-08-01",
                                           "vital_status": "alive"}, format="json")
    assert seen.status_code == 200 and Outcome.objects.get().last_contact_date.isoformat() == "2024-08-01"
    created = api_curator.post(f"{API}patients/", {"site": patient.site.code, "study_id": "API-NEW", "sex": "F",
                                              "tumour_type": "melanoma"}, format="json")
    assert created.status_code == 201 and created.json()["study_id"] == "API-NEW"
    bad_id = api_curator.post(f"{API}patients/", {"site": patient.site.code, "study_id": "bad id!",
                                             "tumour_type": "melanoma"}, format="json")
    assert bad_id.status_code == 400 and "study_id" in bad_id.json()


@pytest.mark.parametrize("route,factory", [("regimens", RegimenFactory), ("biomarkers", BiomarkerFactory),
                                           ("adverse-events", AdverseEventFactory), ("outcomes", OutcomeFactory),
                                           ("patients", RegimenFactory), ("sites", PatientFactory)])
def test_list_queries_do_not_grow_with_the_table(api_user, route, factory):
    def queries():  # the second of two requests: the first loads the user's permissions and sites
        api_user.get(f"{API}{route}/")
        with CaptureQueriesContext(connection) as seen:
            assert api_user.get(f"{API}{route}/").status_code == 200
        return len(seen)

    factory.create_batch(3)
    few = queries()
    factory.create_batch(30)
    assert queries() == few
