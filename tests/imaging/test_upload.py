"""Upload page and API: a zip or several files become an ingest job whose progress the page polls; views as a
full page and as the htmx fragment; the API upload, the segment review actions and the quarantine admin."""
import io
from decimal import Decimal
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from imaging.models import IngestJob, LesionMeasurement, QuarantinedFile, Segment, Series
from tests.factories import UserFactory
from tests.imaging.test_ingest_helpers import patient_with_mrn, write_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def uploader(client):
    user = UserFactory(username="uploader")
    user.user_permissions.add(Permission.objects.get(codename="add_ingestjob"),
                              Permission.objects.get(codename="change_lesionmeasurement"))
    client.force_login(user)
    return client


@pytest.fixture
def post_and_run(django_capture_on_commit_callbacks):
    """POST, then run what the view enqueued on commit (the test's transaction never commits; in the embedded
    mode a real request runs the job before answering, with a broker a worker runs it after)."""

    def post(client, url, data, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data, **extra)
        return response

    return post


@pytest.fixture
def study(tmp_path):
    return write_study(tmp_path / "study")


def study_zip(study):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for path in [*study.ct_paths, study.seg]:
            z.write(path, f"export/{path.parent.name}/{path.name}")
        z.writestr("export/readme.txt", "not DICOM")
    return SimpleUploadedFile("export.zip", buffer.getvalue(), content_type="application/zip")


def test_upload_page_full_and_fragment(uploader, htmx_headers):
    page = uploader.get("/imaging/upload/")
    assert page.status_code == 200 and b"<html" in page.content
    assert b'id="ingest-job"' in page.content and b"htmx:xhr:progress" in page.content
    assert b'name="files"' in page.content and b"multiple" in page.content
    fragment = uploader.get("/imaging/upload/", **htmx_headers)
    assert fragment.status_code == 200 and b"<html" not in fragment.content


def test_upload_needs_login_and_permission(client_logged_in):
    from django.test import Client

    assert Client().get("/imaging/upload/").status_code == 302
    assert client_logged_in.get("/imaging/upload/").status_code == 403
    assert client_logged_in.post("/api/v1/imaging/ingest-jobs/", {}).status_code == 403


@pytest.mark.parametrize("htmx", [False, True])
def test_uploading_a_zip_ingests_it(uploader, htmx_headers, study, htmx, post_and_run):
    patient_with_mrn()
    headers = htmx_headers if htmx else {}
    response = post_and_run(uploader, "/imaging/upload/", {"files": [study_zip(study)]}, **headers)
    assert response.status_code == 200
    assert (b"<html" in response.content) != htmx
    job = IngestJob.objects.get()
    # answered before the job ran (as with a worker): the fragment polls the job row
    assert f'id="job-{job.pk}"'.encode() in response.content and b'hx-trigger="every 2s"' in response.content
    job.refresh_from_db()
    assert (job.source, job.status, job.stored, job.rejected, job.segmentations) == ("upload", "done", 13, 1, 1)
    assert job.files_total == job.files_done == 14 and job.progress_percent == 100
    polled = uploader.get(f"/imaging/ingest-jobs/{job.pk}/", **htmx_headers)
    assert b"every 2s" not in polled.content  # finished: no more polling
    assert b"not_dicom" in polled.content and b"readme.txt" in polled.content
    assert Series.objects.get(modality="CT").volume_status == "ok"
    assert QuarantinedFile.objects.get().original_name == "export.zip!export/readme.txt"
    assert not IngestJob.objects.filter(status__in=["pending", "running"]).exists()


def test_several_files_and_a_label_map(uploader, study, post_and_run):
    patient_with_mrn()
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in study.ct_paths]
    files.append(SimpleUploadedFile("lesions.nrrd", study.label_map.read_bytes()))
    response = post_and_run(uploader, "/imaging/upload/", {"files": files})
    assert response.status_code == 200
    job = IngestJob.objects.get()
    assert (job.stored, job.segmentations, job.rejected) == (13, 1, 0)


def test_running_job_polls_until_finished(uploader, htmx_headers):
    user = UserFactory(username="uploader")
    job = IngestJob.objects.create(source="upload", started_by=user, status="running", files_total=10, files_done=4)
    fragment = uploader.get(f"/imaging/ingest-jobs/{job.pk}/", **htmx_headers)
    assert fragment.status_code == 200 and b"<html" not in fragment.content
    assert b'hx-trigger="every 2s"' in fragment.content and b'value="40"' in fragment.content
    page = uploader.get(f"/imaging/ingest-jobs/{job.pk}/")
    assert b"<html" in page.content and b'hx-trigger="every 2s"' in page.content
    IngestJob.objects.filter(pk=job.pk).update(status="done", files_done=10)
    fragment = uploader.get(f"/imaging/ingest-jobs/{job.pk}/", **htmx_headers)
    assert b"every 2s" not in fragment.content and b"Done" in fragment.content


def test_other_users_jobs_are_not_shown(uploader):
    job = IngestJob.objects.create(source="upload", started_by=UserFactory(username="someone-else"))
    assert uploader.get(f"/imaging/ingest-jobs/{job.pk}/").status_code == 404


def test_api_upload_returns_the_job_to_poll(uploader, study, post_and_run):
    patient_with_mrn()
    response = post_and_run(uploader, "/api/v1/imaging/ingest-jobs/", {"files": [study_zip(study)]})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["files_total"] == 1
    assert response["Location"] == body["url"]
    polled = uploader.get(body["url"]).json()
    assert polled["id"] == body["id"] and polled["status"] == "done" and polled["progress_percent"] == 100
    assert polled["stored"] == 13 and polled["rejected"] == 1 and "not_dicom" in polled["summary"]["reasons"]
    assert uploader.post("/api/v1/imaging/ingest-jobs/", {}, format="multipart").status_code == 400


def test_api_series_and_segment_review(uploader, study, django_assert_max_num_queries, post_and_run):
    patient_with_mrn()
    post_and_run(uploader, "/api/v1/imaging/ingest-jobs/", {"files": [study_zip(study)]})
    with django_assert_max_num_queries(7):  # + the role's permissions and sites
        series = uploader.get("/api/v1/imaging/series/?modality=CT").json()["results"]
    assert series[0]["volume_status"] == "ok" and series[0]["geometry"]["size"] == [48, 48, 12]
    with django_assert_max_num_queries(7):
        segments = uploader.get("/api/v1/imaging/segments/").json()["results"]
    t1 = next(s for s in segments if s["lesion_label"] == "T1")
    accepted = uploader.post(t1["url"] + "accept/", {}, content_type="application/json")
    assert accepted.status_code == 200 and accepted.json()["proposal_status"] == "accepted"
    measurement = LesionMeasurement.objects.get()
    assert measurement.source == "segmentation" and measurement.size_mm == Decimal(t1["proposed_size_mm"])
    overridden = uploader.post(t1["url"] + "override/", {"size_mm": "31.5"}, content_type="application/json")
    assert overridden.status_code == 200 and overridden.json()["proposal_status"] == "overridden"
    measurement.refresh_from_db()
    assert (measurement.source, str(measurement.size_mm)) == ("manual", "31.50")
    refused = uploader.post(t1["url"] + "accept/", {}, content_type="application/json")
    assert refused.status_code == 400 and "manual measurement" in refused.content.decode()


def test_quarantine_admin_assigns_files_to_a_patient(admin_client_logged_in, study, post_and_run):
    from tests.factories import PatientFactory

    admin = admin_client_logged_in
    post_and_run(admin, "/imaging/upload/", {"files": [SimpleUploadedFile(p.name, p.read_bytes())
                                                        for p in study.ct_paths]})
    files = QuarantinedFile.objects.filter(reason_code="unknown_patient")
    assert files.count() == 12
    listing = admin.get("/admin/imaging/quarantinedfile/?status__exact=open")
    assert listing.status_code == 200 and b"Unknown patient" in listing.content
    patient = PatientFactory(study_id="ADMIN-1")
    ids = [str(pk) for pk in files.values_list("pk", flat=True)]
    form = admin.post("/admin/imaging/quarantinedfile/", {"action": "assign_patient", "_selected_action": ids})
    assert form.status_code == 200 and b"Assign quarantined files to a patient" in form.content
    done = admin.post("/admin/imaging/quarantinedfile/", {"action": "assign_patient", "_selected_action": ids,
                                                           "apply": "1", "patient": patient.pk}, follow=True)
    assert done.status_code == 200 and b"12 stored" in done.content
    assert Series.objects.get().study.patient == patient
    assert not QuarantinedFile.objects.filter(status="open").exists()
    change = admin.get(f"/admin/imaging/quarantinedfile/{ids[0]}/change/")
    assert change.status_code == 200


def test_segment_admin_maps_a_segment_to_a_lesion(admin_client_logged_in, study, post_and_run):
    patient = patient_with_mrn(lesions=(("T1", "lung", False), ("T2", "liver", False)))
    post_and_run(admin_client_logged_in, "/imaging/upload/", {"files": [study_zip(study)]})
    node = Segment.objects.get(label="N1 node")
    assert node.lesion is None  # no lesion N1 for this patient
    t2 = patient.lesions.get(label="T2")
    response = admin_client_logged_in.post(f"/admin/imaging/segment/{node.pk}/change/", {"lesion": t2.pk})
    assert response.status_code == 302
    node.refresh_from_db()
    assert (node.lesion, node.lesion_mapping) == (t2, "curator")
    assert node.history.count() == 2


@pytest.mark.parametrize("htmx", [False, True])
def test_an_upload_without_files_says_so(uploader, htmx_headers, htmx):
    headers = htmx_headers if htmx else {}
    response = uploader.post("/imaging/upload/", {"resample": "on"}, **headers)  # a form without its files
    assert response.status_code == 200 and b"This field is required" in response.content
    assert not IngestJob.objects.exists()


def test_the_report_says_where_the_scans_went_and_warns_after_death(uploader, study, post_and_run, htmx_headers):
    from tests.factories import OutcomeFactory

    patient = patient_with_mrn()
    OutcomeFactory(patient=patient, last_contact_date="2024-02-01", vital_status="dead", death_date="2024-02-01")
    post_and_run(uploader, "/imaging/upload/", {"files": [study_zip(study)]})
    job = IngestJob.objects.get()
    polled = uploader.get(f"/imaging/ingest-jobs/{job.pk}/", **htmx_headers).content.decode()
    assert f'Stored for <a href="/patients/{patient.pk}/#imaging">{patient.study_id}</a>' in polled
    assert "2024-03-01" in polled  # the assessment the study was filed under
    assert "after the patient&#x27;s recorded date of death" in polled and "2024-02-01" not in polled


def test_a_finished_job_refreshes_the_recent_jobs_list(uploader, study, post_and_run, htmx_headers):
    patient_with_mrn()
    post_and_run(uploader, "/imaging/upload/", {"files": [study_zip(study)]}, **htmx_headers)
    job = IngestJob.objects.get()
    polled = uploader.get(f"/imaging/ingest-jobs/{job.pk}/", **htmx_headers)
    assert polled["HX-Trigger"] == "ingest-job-finished"
    page = uploader.get("/imaging/upload/").content.decode()
    assert 'hx-trigger="ingest-job-finished from:body"' in page
    recent = uploader.get("/imaging/ingest-jobs/").content.decode()
    assert f"#{job.pk}" in recent and "Done" in recent and "<html" not in recent
