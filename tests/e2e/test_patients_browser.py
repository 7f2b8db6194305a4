"""A clinician logs in, filters the patient list (htmx swaps only the table) and opens a patient, whose imaging and
response panels (the imaging and analytics apps' own fragments) load after the page."""
import pytest

from tests.factories import UserFactory
from tests.patients.test_views import full_patient

pytestmark = pytest.mark.django_db(transaction=True)


def test_login_filter_and_open_a_patient(live_server, page):
    UserFactory(username="browser", password="pw-for-tests")
    full_patient("E2E-MEL", "melanoma", ["nivolumab", "ipilimumab"])
    full_patient("E2E-LUNG", "nsclc", ["pembrolizumab"])
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)

    page.goto(f"{live_server.url}/patients/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "browser")
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url("**/patients/")
    assert page.locator("#patient-table").inner_text().count("E2E-") == 2

    page.evaluate("window.__marker = 'still the same page'")
    with page.expect_response(lambda r: "tumour_type=melanoma" in r.url and r.request.headers.get("hx-request")):
        page.select_option("select[name=tumour_type]", "melanoma")
    page.wait_for_function("!document.querySelector('#patient-table').innerText.includes('E2E-LUNG')")
    table = page.locator("#patient-table").inner_text()
    assert "E2E-MEL" in table and "E2E-LUNG" not in table
    assert page.evaluate("window.__marker") == "still the same page"  # only the table was swapped
    assert "tumour_type=melanoma" in page.url  # hx-push-url keeps the filter in the address bar

    page.click("text=E2E-MEL")
    page.wait_for_url("**/patients/*/")
    for panel in ("#response-panel", "#measurement-grid", "#patient-scans", "#timeline-panel", "#history-panel"):
        page.locator(panel).wait_for()  # swapped in place of "Loading…"
    page.wait_for_function("document.querySelectorAll('[data-lazy-panel]').length === 0")
    assert "30 mm" in page.locator("#measurement-grid").inner_text()
    response = page.locator("#response-panel").inner_text()
    assert "Target sum" in response and "60 mm" in response and "42 mm" in response  # the engine's stored sums
    assert "nivolumab" in page.locator("main").inner_text()
    assert external == []  # everything served locally: no CDN


def test_a_panel_that_fails_to_load_says_so(live_server, page):
    UserFactory(username="browser", password="pw-for-tests")
    patient = full_patient("E2E-FAIL")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "browser")
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url("**/analytics/worklist/")
    page.route("**/imaging/patients/*/scans/", lambda route: route.fulfill(status=500, body="boom"))
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    error = page.locator("#scans [data-error]")
    error.wait_for()
    assert "The scans could not be loaded (the server answered 500)" in error.inner_text()
    assert page.locator("#scans [data-loading]").is_hidden()
    page.locator("#measurement-grid").wait_for()  # the other panels are not affected
    page.locator("#response-panel").wait_for()


def test_list_reads_without_javascript(live_server, browser):
    UserFactory(username="nojs", password="pw-for-tests")
    full_patient("NOJS-1")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "nojs")
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/patients/?q=NOJS")
    assert "NOJS-1" in page.locator("#patient-table").inner_text()
    page.click("text=NOJS-1")  # the panels are links to their own pages
    assert "Loading the lesion measurements" in page.locator("#imaging").inner_text()
    page.click("#imaging [data-loading] a")
    assert "30 mm" in page.locator("#measurement-grid").inner_text()
    context.close()
