"""Recording on the patient page: the lesion table's cells, a new assessment and a new lesion — through the services,
with the model's own messages at the field, nothing written on a refusal, and the response recomputed at once."""
import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from analytics.models import ResponseAssessment
from imaging.models import Lesion, LesionMeasurement, Timepoint
from tests.analytics.builders import patient_with_scans
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorder(client):
    user = UserFactory(username="nurse")
    user.user_permissions.set(Permission.objects.filter(codename__in=["add_lesionmeasurement", "add_lesion"]))
    client.force_login(user)
    return client


def cell_url(patient, lesion, timepoint):
    return f"/imaging/patients/{patient.pk}/measurements/{lesion.pk}/{timepoint.pk}/"


def test_only_recorders_see_and_use_the_forms(client, reader, django_capture_on_commit_callbacks):
    client_logged_in = client
    client.force_login(reader)
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 60)])
    grid = client_logged_in.get(f"/imaging/patients/{patient.pk}/measurements/").content.decode()
    assert "Add an assessment" not in grid and "cell-edit" not in grid
    assert client_logged_in.get(cell_url(patient, lesions[0], tps[1])).status_code == 403
    assert client_logged_in.post(f"/imaging/patients/{patient.pk}/lesions/add/", {}).status_code == 403


def test_record_a_follow_up_on_the_page(recorder, htmx_headers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 60)], start=dt.date(2024, 1, 10))
    grid = recorder.get(f"/imaging/patients/{patient.pk}/measurements/", **htmx_headers).content.decode()
    assert "Add an assessment" in grid and 'aria-label="Correct T1 at 2024-03-06"' in grid

    with django_capture_on_commit_callbacks(execute=True):
        added = recorder.post(f"/imaging/patients/{patient.pk}/timepoints/add/",
                              {"timepoint-date": "2024-05-01", "timepoint-kind": "follow-up"}, **htmx_headers)
    assert added.status_code == 200 and added["HX-Trigger"] == "lesion-data-changed"
    new = Timepoint.objects.get(patient=patient, date=dt.date(2024, 5, 1))
    assert 'aria-label="Record T1 at 2024-05-01"' in added.content.decode()
    assert ResponseAssessment.objects.get(patient=patient).awaiting_read[0]["timepoint"] == new.pk

    form = recorder.get(cell_url(patient, lesions[0], new), **htmx_headers).content.decode()
    assert f'name="cell-{lesions[0].pk}-{new.pk}-size_mm"' in form and "<html" not in form
    for lesion in lesions:
        prefix = f"cell-{lesion.pk}-{new.pk}"
        with django_capture_on_commit_callbacks(execute=True):
            saved = recorder.post(cell_url(patient, lesion, new), {f"{prefix}-size_mm": "20",
                                                                   f"{prefix}-status": "present"}, **htmx_headers)
        assert saved["HX-Trigger"] == "lesion-data-changed" and saved["HX-Retarget"] == "#measurement-grid"
    assert "20 mm" in saved.content.decode()
    a = ResponseAssessment.objects.get(patient=patient)
    assert a.awaiting_read == [] and a.current_irecist == "iPR" and a.current_date == new.date
    m = LesionMeasurement.objects.get(lesion=lesions[0], timepoint=new)
    assert m.recorded_by.username == "nurse" and m.history.first().history_user.username == "nurse"


def test_an_invalid_value_shows_the_field_error_and_saves_nothing(recorder, htmx_headers,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 60)])
    prefix = f"cell-{lesions[0].pk}-{tps[1].pk}"
    refused = recorder.post(cell_url(patient, lesions[0], tps[1]), {f"{prefix}-size_mm": "-3",
                                                                    f"{prefix}-status": "present"}, **htmx_headers)
    body = refused.content.decode()
    assert refused.status_code == 200 and "HX-Trigger" not in refused
    assert 'data-field="size_mm"' in body and "A size cannot be negative." in body
    assert LesionMeasurement.objects.get(lesion=lesions[0], timepoint=tps[1]).size_mm == Decimal(30)
    refused = recorder.post(cell_url(patient, lesions[0], tps[1]), {f"{prefix}-size_mm": "12",
                                                                    f"{prefix}-status": "not-assessed"})
    assert "has no size" in refused.content.decode()  # the model's message, on the full page without htmx


def test_a_sixth_target_lesion_is_refused_with_recists_rule(recorder, htmx_headers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, *_ = patient_with_scans([(-5, 100)], organs=("lung", "liver", "adrenal", "kidney", "bone"))
    refused = recorder.post(f"/imaging/patients/{patient.pk}/lesions/add/",
                            {"lesion-label": "T6", "lesion-role": "target", "lesion-organ": "brain"}, **htmx_headers)
    body = refused.content.decode()
    assert "RECIST 1.1 allows at most 5 target lesions" in body and 'data-field="role"' in body
    assert "<details open><summary>Add a lesion" in body  # the form stays open with its error
    assert not Lesion.objects.filter(label="T6").exists()
    duplicate = recorder.post(f"/imaging/patients/{patient.pk}/timepoints/add/",
                              {"timepoint-date": Timepoint.objects.get(patient=patient).date.isoformat(),
                               "timepoint-kind": "follow-up"}, **htmx_headers)
    assert "There is already an assessment on" in duplicate.content.decode()
    added = recorder.post(f"/imaging/patients/{patient.pk}/lesions/add/",
                          {"lesion-label": "NT1", "lesion-role": "non-target", "lesion-organ": "brain"})
    assert added.status_code == 302 and Lesion.objects.filter(patient=patient, label="NT1").exists()


def test_accept_a_segmentations_size_in_one_click_or_override_it(recorder, htmx_headers, tmp_path, settings,
                                                                  django_capture_on_commit_callbacks):
    import io

    from django.core.management import call_command

    from imaging.models import Segment
    from tests.imaging.test_ingest_helpers import patient_with_mrn, write_study

    settings.RADIMMUNO_AUTO_EXTRACT = False
    patient = patient_with_mrn()
    study = write_study(tmp_path / "study")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_dicom", str(study.ct_dir), str(study.seg), "--no-extract", stdout=io.StringIO())
    t1 = Segment.objects.get(lesion__label="T1")
    n1 = Segment.objects.get(lesion__label="N1")
    grid = recorder.get(f"/imaging/patients/{patient.pk}/measurements/", **htmx_headers).content.decode()
    assert f"segmentation: {t1.proposed_size_mm.normalize():f} mm" in grid and "aria-label=\"Accept" in grid
    assert f"/imaging/series/{t1.segmentation.image_series_id}/viewer/?z={t1.slice_index}" in grid
    with django_capture_on_commit_callbacks(execute=True):
        accepted = recorder.post(f"/imaging/patients/{patient.pk}/segments/{t1.pk}/accept/", **htmx_headers)
    assert accepted["HX-Trigger"] == "lesion-data-changed"
    t1.refresh_from_db()
    assert t1.proposal_status == "accepted" and t1.measurement.size_mm == t1.proposed_size_mm
    assert t1.measurement.source == "segmentation"
    timepoint = t1.timepoint
    prefix = f"cell-{n1.lesion_id}-{timepoint.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        recorder.post(cell_url(patient, n1.lesion, timepoint), {f"{prefix}-size_mm": "14", f"{prefix}-status": "present",
                                                               f"{prefix}-non_target_status": "present"}, **htmx_headers)
    n1.refresh_from_db()
    assert n1.proposal_status == "overridden" and n1.measurement.size_mm == Decimal(14)
    assert n1.measurement.source == "manual" and n1.measurement.non_target_status == "present"
