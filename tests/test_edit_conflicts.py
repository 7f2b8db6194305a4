"""Issue 15: two curators editing the same measurement — the second save silently overwrote the first. Now the
second writer gets a conflict showing both values, on the lesion table, in the admin and in the API, and nothing
is written until they save again on purpose (radimmuno.versioning)."""
from decimal import Decimal

import pytest
from django.test import Client

from imaging.models import LesionMeasurement
from tests.analytics.builders import patient_with_scans
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def measured(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, _, lesions, timepoints = patient_with_scans([(-5, 40), (56, 30)])
    measurement = LesionMeasurement.objects.get(lesion=lesions[0], timepoint=timepoints[1])
    return patient, lesions[0], timepoints[1], measurement


def _as(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_second_writer_on_the_lesion_table_sees_both_values(measured, django_capture_on_commit_callbacks):
    patient, lesion, timepoint, measurement = measured
    url = f"/imaging/patients/{patient.pk}/measurements/{lesion.pk}/{timepoint.pk}/"
    prefix = f"cell-{lesion.pk}-{timepoint.pk}"
    first, second = (_as(UserFactory(username=name)) for name in ("reader-one", "reader-two"))
    for client in (first, second):  # both open the cell at the same version
        assert f'name="{prefix}-expected_version" value="{measurement.version}"' in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        saved = first.post(url, {f"{prefix}-size_mm": "22", f"{prefix}-status": "present",
                                 f"{prefix}-expected_version": measurement.version})
    assert saved.status_code == 302
    refused = second.post(url, {f"{prefix}-size_mm": "35", f"{prefix}-status": "present",
                                f"{prefix}-expected_version": measurement.version})
    page = refused.content.decode()
    assert refused.status_code == 200
    assert ("This lesion measurement was changed by someone else since you opened it: size (mm) is now 22.00, "
            "yours 35") in page
    assert LesionMeasurement.objects.get(pk=measurement.pk).size_mm == Decimal("22.00")  # nothing overwritten
    assert f'name="{prefix}-expected_version" value="{measurement.version + 1}"' in page  # saving again keeps 35
    with django_capture_on_commit_callbacks(execute=True):
        again = second.post(url, {f"{prefix}-size_mm": "35", f"{prefix}-status": "present",
                                  f"{prefix}-expected_version": measurement.version + 1})
    assert again.status_code == 302 and LesionMeasurement.objects.get(pk=measurement.pk).size_mm == Decimal("35.00")


def test_the_admin_refuses_a_stale_save_with_both_values(measured, admin_client_logged_in):
    _, _, _, measurement = measured
    url = f"/admin/imaging/lesionmeasurement/{measurement.pk}/change/"
    form = admin_client_logged_in.get(url).content.decode()
    assert f'name="expected_version" value="{measurement.version}"' in form
    LesionMeasurement.objects.filter(pk=measurement.pk).update(version=measurement.version + 1, size_mm=Decimal(27))
    response = admin_client_logged_in.post(url, {
        "lesion": measurement.lesion_id, "timepoint": measurement.timepoint_id, "size_mm": "31", "status": "present",
        "non_target_status": "", "source": "manual", "expected_version": measurement.version})
    assert response.status_code == 200
    assert "size (mm) is now 27.00, yours 31" in response.content.decode()
    assert LesionMeasurement.objects.get(pk=measurement.pk).size_mm == Decimal("27.00")


def test_the_api_answers_409_with_theirs_and_yours(measured, api_curator):
    _, lesion, timepoint, measurement = measured
    body = {"lesion": lesion.pk, "timepoint": timepoint.pk, "size_mm": "24", "version": measurement.version}
    first = api_curator.post("/api/v1/imaging/measurements/", body)
    assert first.status_code == 200 and first.json()["version"] == measurement.version + 1
    stale = api_curator.post("/api/v1/imaging/measurements/", {**body, "size_mm": "26"})
    assert stale.status_code == 409
    assert stale.json() == {
        "detail": "This lesion measurement was changed by someone else since you opened it: size (mm) is now "
                  "24.00, yours 26.00. Check their change; to keep yours, save again.",
        "version": measurement.version + 1,
        "current": {"size_mm": "24.00", "status": "present", "non_target_status": ""},
        "yours": {"size_mm": "26.00", "status": "present", "non_target_status": ""}}
    assert LesionMeasurement.objects.get(pk=measurement.pk).size_mm == Decimal("24.00")
    unversioned = api_curator.post("/api/v1/imaging/measurements/", {**body, "size_mm": "28", "version": None},
                                   format="json")  # without a version: last writer wins, as before, version raised
    assert unversioned.status_code == 200 and unversioned.json()["version"] == measurement.version + 2


def test_every_save_raises_the_version(measured):
    _, _, _, measurement = measured
    before = measurement.version
    measurement.size_mm = Decimal(33)
    measurement.save()
    assert measurement.version == before + 1 == LesionMeasurement.objects.get(pk=measurement.pk).version



def test_a_regimen_corrected_through_the_api_with_a_stale_version_is_a_409(api_curator):
    from patients.models import TreatmentRegimen
    from tests.factories import RegimenFactory

    regimen = RegimenFactory()
    url = f"/api/v1/patients/regimens/{regimen.pk}/"
    read = api_curator.get(url).json()
    assert read["version"] == regimen.version
    first = api_curator.patch(url, {"end_date": "2024-06-01", "end_reason": "progression",
                                    "version": read["version"]}, format="json")
    assert first.status_code == 200 and first.json()["version"] == read["version"] + 1
    stale = api_curator.patch(url, {"end_date": "2024-07-01", "end_reason": "toxicity",
                                    "version": read["version"]}, format="json")
    assert stale.status_code == 409
    body = stale.json()
    assert body["current"]["end_reason"] == "progression" and body["yours"]["end_reason"] == "toxicity"
    assert "end date is now 2024-06-01, yours 2024-07-01" in body["detail"]
    assert TreatmentRegimen.objects.get(pk=regimen.pk).end_reason == "progression"


@pytest.mark.parametrize("model, fields", [("timepoint", {"date": "2024-02-02", "kind": "follow-up"}),
                                           ("lesion", {"label": "T9", "organ": "liver", "role": "target"})])
def test_timepoints_and_lesions_in_the_admin_refuse_a_stale_save(measured, admin_client_logged_in, model, fields):
    from imaging.models import Lesion, Timepoint

    patient, lesion, timepoint, _ = measured
    row = {"timepoint": timepoint, "lesion": lesion}[model]
    cls = {"timepoint": Timepoint, "lesion": Lesion}[model]
    url = f"/admin/imaging/{model}/{row.pk}/change/"
    assert f'name="expected_version" value="{row.version}"' in admin_client_logged_in.get(url).content.decode()
    cls.objects.filter(pk=row.pk).update(version=row.version + 1)  # someone saved it meanwhile
    data = {"patient": patient.pk, "expected_version": row.version, **fields}
    if model == "timepoint":
        data.update({"measurements-TOTAL_FORMS": 0, "measurements-INITIAL_FORMS": 0})
    response = admin_client_logged_in.post(url, data)
    assert response.status_code == 200, response.status_code
    assert "was changed by someone else since you opened it" in response.content.decode()
    assert cls.objects.get(pk=row.pk).version == row.version + 1
