"""The clinic's day in a real browser: a confirmation scan arrives for a patient awaiting confirmation — the
response panel keeps what was read and says the scan awaits reading, the worklist lists it under "scans to read",
and an acknowledged alert leaves the open list and enters the patient's history."""
import datetime as dt

import pytest

from analytics.models import ResponseAssessment
from tests.analytics.builders import patient_with_scans
from tests.e2e.conftest import login
from tests.factories import IdentityFactory, UserFactory
from tests.imaging.test_ingest_helpers import write_study

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_confirmation_scan_arrives_and_waits_for_its_reading(live_server, page, shot, tmp_path, settings):
    settings.RADIMMUNO_AUTO_EXTRACT = False
    UserFactory(username="nurse", password="pw-for-tests", is_staff=True, is_superuser=True)
    start = dt.date.today() - dt.timedelta(days=70)
    patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 130)], start=start, study_id="E2E-IUPD")
    IdentityFactory(patient=patient, mrn="MRN-E2E-IUPD")
    assessment = ResponseAssessment.objects.get(patient=patient)
    assert assessment.iupd_awaiting_confirmation
    scan_date = assessment.confirmation_earliest + dt.timedelta(days=2)

    login(page, live_server, "nurse")
    page.goto(f"{live_server.url}/patients/")  # flow 1: find the patient with the search box, read the status
    with page.expect_response(lambda r: "q=IUPD" in r.url and r.request.headers.get("hx-request")):
        page.get_by_role("searchbox", name="Study ID").fill("IUPD")
    row = page.locator("#patient-table tbody tr", has_text="E2E-IUPD")
    assert row.locator("[data-current-response]").get_attribute("data-current-response") == "iUPD"
    assert "confirm" in row.inner_text()
    page.goto(f"{live_server.url}/")
    worklist = page.locator("#worklist-table")
    assert "E2E-IUPD" in worklist.inner_text() and "Confirmation scan due" in worklist.inner_text()
    shot("worklist-confirmation-due")

    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    panel = page.locator("#response-panel")
    panel.wait_for()
    now = panel.locator(".now").inner_text()
    assert "Now: iUPD" in now and "Next scan:" in now and assessment.confirmation_earliest.isoformat() in now
    assert panel.locator(".now .resp-unconfirmed").count() >= 1  # iUPD does not look like PD or CR
    shot("patient-iupd")

    study = write_study(tmp_path / "study", mrn="MRN-E2E-IUPD", date=scan_date.strftime("%Y%m%d"))
    page.goto(f"{live_server.url}/imaging/upload/")
    page.set_input_files("input[name=files]", [str(p) for p in study.ct_paths])
    page.click("main form button[type=submit]")
    page.locator("#ingest-job").get_by_text("Done").first.wait_for(timeout=60_000)

    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    panel.wait_for()
    page.wait_for_function("!document.querySelector('#response-panel').innerText.includes('Recomputing')")
    text = panel.inner_text()
    assert f"Scan of {scan_date.isoformat()} awaiting reading" in text
    assert "confirmation scan of the iUPD" in text
    assert "Now: iUPD" in text and "130 mm" in text  # the read results are still there
    assert "Not assessable" not in text and "cannot be computed" not in text
    shot("patient-scan-awaiting-reading")

    page.goto(f"{live_server.url}/analytics/worklist/?section=to-read")
    row = page.locator("#worklist-table tbody tr", has_text="E2E-IUPD")
    assert f"Scan of {scan_date.isoformat()} to read" in row.inner_text() and "window" in row.inner_text()
    shot("worklist-scan-to-read")
    row.get_by_role("button", name="Acknowledge").click()
    page.wait_for_function("!document.querySelector('#worklist-table').innerText.includes('E2E-IUPD')")
    shot("worklist-acknowledged")

    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    history = page.locator("#history-panel")
    history.wait_for()
    assert "Worklist alert scan to read" in history.inner_text() and "Open → Acknowledged" in history.inner_text()
    assert "nurse" in history.inner_text()
    shot("patient-history")


PAGES = ["/analytics/worklist/", "/patients/", "/patients/{pk}/", "/analytics/cohort/", "/imaging/upload/",
         "/analytics/analyses/", "/patients/import/", "/imaging/import/measurements/"]


@pytest.mark.parametrize("width", [1280, 768])
def test_every_page_passes_axe_and_fits_a_tablet(live_server, browser, width, django_capture_on_commit_callbacks):
    from tests.e2e.conftest import axe_violations

    UserFactory(username="nurse", password="pw-for-tests", is_staff=True, is_superuser=True)
    start = dt.date.today() - dt.timedelta(days=70)
    patient, *_ = patient_with_scans([(-5, 100), (56, 130)], start=start, study_id="E2E-AXE")
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        login(page, live_server, "nurse")
        found = {}
        for url in PAGES:
            page.goto(live_server.url + url.format(pk=patient.pk))
            page.wait_for_load_state("networkidle")
            if page.locator("[data-lazy-panel]").count():
                page.wait_for_function("document.querySelectorAll('[data-lazy-panel]').length === 0")
            violations = axe_violations(page)
            if violations:
                found[url] = violations
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"{url} is {overflow} px wider than a {width} px window"
        assert found == {}
        page.keyboard.press("Tab")  # the first tab stop skips to the content
        assert page.evaluate("document.activeElement.textContent").strip() == "Skip to the content"
    finally:
        context.close()


def test_cohort_plots_render_and_download_as_svg(live_server, page, shot, django_capture_on_commit_callbacks):
    UserFactory(username="nurse", password="pw-for-tests")
    for k in range(4):
        patient_with_scans([(-5, 100), (56, 60 + 20 * k)], start=dt.date.today() - dt.timedelta(days=90 + k),
                           study_id=f"E2E-COH-{k}")
    login(page, live_server, "nurse")
    page.goto(f"{live_server.url}/analytics/cohort/")
    for figure in ("#waterfall svg", "#swimmer svg"):
        assert page.locator(figure).count() == 1
    assert page.locator("#waterfall svg rect[fill='#56B4E9']").count() >= 1  # an iPR bar
    assert "E2E-COH-3" in page.locator("#swimmer").inner_text()
    shot("cohort")
    with page.expect_download() as download:
        page.locator("#waterfall-card").get_by_role("link", name="Download SVG").click()
    path = download.value.path()
    assert download.value.suggested_filename == "radimmuno-waterfall.svg"
    assert open(path, encoding="utf-8").read().startswith("<svg")
    with page.expect_download() as png:
        page.locator("#waterfall-card").get_by_role("button", name="Download PNG").click()
    assert png.value.suggested_filename == "radimmuno-waterfall.png"
    assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    page.goto(f"{live_server.url}/patients/{patient_with_scans([(-5, 100), (56, 70)], study_id='E2E-SPIDER')[0].pk}/")
    page.locator("#response-panel figure svg").wait_for()  # the spider plot
    assert "day 56: −30.0 % (iPR)" in page.locator("#response-panel figure svg").inner_html()
