"""A curator uploads a study in the browser; it is ingested, and the patient's radiomics appear."""
import pytest

from imaging.models import ExtractionProfile, FeatureSet, Segment, Series
from imaging.services.radiomics import profile_save
from tests.factories import UserFactory
from tests.imaging.test_ingest_helpers import patient_with_mrn, write_study

pytestmark = pytest.mark.django_db(transaction=True)


def test_upload_a_study_then_see_its_features(live_server, page, tmp_path, settings):
    settings.RADIMMUNO_AUTO_EXTRACT = True
    ExtractionProfile.objects.update(active=False)
    profile_save(name="ct-small", modality="CT", params={
        "setting": {"binWidth": 25, "label": 1}, "imageType": {"Original": {}}, "featureClass": {"firstorder": []}})
    UserFactory(username="uploader", password="pw-for-tests", is_staff=True, is_superuser=True)
    patient = patient_with_mrn()
    study = write_study(tmp_path / "study")

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "uploader")
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url("**/analytics/worklist/")
    page.goto(f"{live_server.url}/imaging/upload/")
    page.set_input_files("input[name=files]", [str(p) for p in study.ct_paths] + [str(study.seg)])
    page.click("main form button[type=submit]")
    job = page.locator("#ingest-job")
    job.get_by_text("Done").first.wait_for(timeout=60_000)
    assert "13" in job.inner_text()  # 12 slices + the SEG stored
    assert Series.objects.filter(modality="CT").count() == 1 and Segment.objects.count() == 2
    page.evaluate("window.__marker = 'no reload'")
    job.locator("#job-radiomics", has_text="done").wait_for(timeout=120_000)  # the job card follows the extraction
    assert "2 of 2 feature sets extracted" in job.inner_text()
    assert page.evaluate("window.__marker") == "no reload"

    page.goto(f"{live_server.url}/imaging/patients/{patient.pk}/radiomics/")
    table = page.locator("#radiomics-status").inner_text()
    assert "T1" in table and "ct-small v1" in table and "Done" in table
    assert set(FeatureSet.objects.values_list("status", flat=True)) == {"done"}
