"""The export page: start an export as a background job, follow its status, download the zip."""
import io
import zipfile

import pytest

from exports.models import DatasetExport

pytestmark = pytest.mark.django_db


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.RADIMMUNO_EXPORT_DIR = str(tmp_path / "exports")
    return tmp_path / "exports"


def test_the_page_needs_the_permission(client, client_logged_in):
    assert client_logged_in.get("/exports/").status_code == 403
    assert client_logged_in.post("/exports/", {"format": "csv"}).status_code == 403
    client.logout()
    assert client.get("/exports/")["Location"].startswith("/accounts/login/")


def test_the_page_and_the_nav_link(client, exporter):
    client.force_login(exporter)
    page = client.get("/exports/").content.decode()
    assert '<form method="post" action="/exports/"' in page and 'href="/exports/"' in page
    assert "No exports yet." in page


def test_starting_an_export_runs_the_job_and_offers_the_zip(client, exporter, identified_cohort, project, export_dir,
                                                           django_capture_on_commit_callbacks):
    client.force_login(exporter)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/exports/", {"site": ["EXP-A", "EXP-B"], "tumour_type": ["nsclc"],
                                             "project": project.slug, "format": "parquet", "sdtm": "on"})
    row = DatasetExport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/exports/{row.pk}/"
    assert (row.status, row.source, row.requested_by, row.format, row.sdtm) == (
        "done", "page", exporter, "parquet", True), row.error
    assert row.selection == {"site": ["EXP-A", "EXP-B"], "tumour_type": ["nsclc"]}
    page = client.get(response["Location"]).content.decode()
    assert "Download the files (zip)" in page and "hx-trigger" not in page  # finished: no more polling
    assert row.checksums["patients.parquet"] in page
    download = client.get(f"/exports/{row.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    data = b"".join(download.streaming_content)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "radimmuno-export/manifest.json" in names and "radimmuno-export/sdtm_rs.parquet" in names
    assert len(names) == 14
    import hashlib

    assert hashlib.sha256(data).hexdigest() == row.archive_sha256
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        assert hashlib.sha256(bundle.read("radimmuno-export/patients.parquet")).hexdigest() == \
            row.checksums["patients.parquet"]
    listing = client.get("/exports/").content.decode()
    assert f'href="/exports/{row.pk}/"' in listing and "site: EXP-A, EXP-B" in listing


def test_a_running_export_polls_and_the_fragment_answers_htmx(client, exporter, identified_cohort, export_dir,
                                                              htmx_headers):
    client.force_login(exporter)
    client.post("/exports/", {"format": "csv"})  # not committed: the job waits (pending)
    row = DatasetExport.objects.get()
    assert row.status == "pending"
    full = client.get(f"/exports/{row.pk}/").content.decode()
    fragment = client.get(f"/exports/{row.pk}/", **htmx_headers).content.decode()
    assert "<html" in full and 'hx-trigger="every 2s"' in full
    assert "<html" not in fragment and 'id="export-status"' in fragment and 'hx-trigger="every 2s"' in fragment
    assert client.get(f"/exports/{row.pk}/download/").status_code == 404


def test_a_bad_selection_is_shown_on_the_form(client, exporter, identified_cohort, export_dir):
    client.force_login(exporter)
    response = client.post("/exports/", {"format": "csv", "site": ["NOPE"]})  # not one of the form's sites
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not DatasetExport.objects.exists()


def test_others_exports_are_not_visible(client, exporter, identified_cohort, export_dir,
                                        django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    client.force_login(exporter)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/exports/", {"format": "csv"})
    row = DatasetExport.objects.get()
    other = UserFactory(username="other")
    other.user_permissions.add(Permission.objects.get(codename="add_datasetexport"))
    client.force_login(other)
    assert client.get(f"/exports/{row.pk}/").status_code == 404
    assert client.get(f"/exports/{row.pk}/download/").status_code == 404


def test_the_form_selects_by_drug_class_as_the_patient_list_does(client, exporter, identified_cohort, export_dir,
                                                                 django_capture_on_commit_callbacks):
    from patients.models import Patient

    client.force_login(exporter)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/exports/", {"format": "csv", "drug_class": ["chemotherapy"]})
    row = DatasetExport.objects.get()
    assert row.status == "done", row.error
    assert row.selection == {"drug_class": ["chemotherapy"]}
    on_class = Patient.objects.on_drug_class("chemotherapy")
    exported = on_class.filter(pk__in=Patient.objects.on_drug_class("anti_pd1").values("pk")).count()  # ICI: day 0
    assert 0 < exported < Patient.objects.on_drug_class("anti_pd1").count()  # the filter is seen to select
    assert row.row_counts["patients"] == exported
