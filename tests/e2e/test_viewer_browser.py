"""The scan viewer in a real browser: open it from the patient's scans, scroll with the keyboard to the lesion's key
slice, see the outline."""
import io

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from imaging.models import Segment, Series
from tests.e2e.conftest import axe_violations, login
from tests.factories import UserFactory
from tests.imaging.test_ingest_helpers import patient_with_mrn, write_study

pytestmark = pytest.mark.django_db(transaction=True)


def test_scroll_to_the_key_slice_and_see_the_outline(live_server, page, shot, tmp_path, settings):
    settings.RADIMMUNO_AUTO_EXTRACT = False
    UserFactory(username="reader", password="pw-for-tests")
    patient = patient_with_mrn()
    study = write_study(tmp_path / "study")
    call_command("import_dicom", str(study.ct_dir), str(study.seg), "--no-extract", stdout=io.StringIO())
    series = Series.objects.get(modality="CT")
    key = Segment.objects.get(segmentation__image_series=series, lesion__label="T1").slice_index

    login(page, live_server, "reader")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.get_by_role("link", name="view slices").click()
    page.wait_for_url("**/viewer/**")
    image = page.locator("#viewer-img")
    image.focus()
    page.keyboard.press("Home")  # nothing: the viewer uses arrows and page keys
    for _ in range(key + 2):
        page.keyboard.press("ArrowUp")  # to the first slice (clamped)
    page.wait_for_function("document.getElementById('viewer-z').value === '0'")
    for _ in range(key):
        page.keyboard.press("ArrowDown")
    page.wait_for_function(f"document.getElementById('viewer-img').dataset.slice.includes('/slices/{key}.png')")
    page.wait_for_function("(img => img.src.startsWith('blob:') && img.complete)(document.getElementById('viewer-img'))")
    assert page.locator("#viewer-z-value").inner_text() == str(key + 1)
    png = page.request.get(image.evaluate("img => new URL(img.dataset.slice, location.href).href")).body()
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert ((pixels == (230, 159, 0)).all(axis=-1)).sum() > 50  # T1's outline on its key slice
    shot("key-slice-outlined")
    page.select_option("#viewer-window", "lung")
    page.wait_for_function("document.getElementById('viewer-img').dataset.slice.includes('window=lung')")
    assert "window=lung" in page.url
    assert axe_violations(page) == []  # the viewer passes the same accessibility check as every page
