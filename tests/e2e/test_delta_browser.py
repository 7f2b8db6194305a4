"""A clinician opens a patient with serial scans: the delta-radiomics panel loads on the patient page, shows the
heatmap and a trend, and its controls re-draw it in place."""
import io

import pytest
from django.core.management import call_command

from analytics.models import DeltaFeature
from imaging.models import ExtractionProfile
from imaging.services.radiomics import profile_save
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_delta_panel_draws_and_redraws(live_server, page, settings):
    settings.RADIMMUNO_AUTO_EXTRACT = True
    ExtractionProfile.objects.update(active=False)
    profile_save(name="ct-delta", modality="CT", params={
        "setting": {"binWidth": 25, "label": 1}, "imageType": {"Original": {}},
        "featureClass": {"shape": [], "firstorder": [], "glcm": []}})
    call_command("seed_demo", patients=3, seed=5, imaging_patients=1, stdout=io.StringIO())
    row = DeltaFeature.objects.filter(lesion__isnull=False, region="lesion").select_related("patient", "lesion").first()
    assert row is not None  # refreshed after the demo's extraction committed
    UserFactory(username="clinician", password="pw-for-tests")

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "clinician")
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url("**/analytics/worklist/")
    page.goto(f"{live_server.url}/patients/{row.patient.pk}/")
    heatmap = page.locator("#delta-heatmap svg")
    heatmap.wait_for(timeout=30_000)
    assert "original_firstorder_Mean" in heatmap.inner_html() and row.lesion.label in heatmap.inner_html()
    assert page.locator("#delta-trend svg").is_visible()
    page.select_option("#delta-panel select[name=family]", "original_glcm")
    page.wait_for_function("document.querySelector('#delta-heatmap svg').innerHTML.includes('original_glcm_')")
    assert "original_firstorder_Mean" not in page.locator("#delta-heatmap svg").inner_html()
    assert page.locator("#delta-panel select[name=family]").input_value() == "original_glcm"
