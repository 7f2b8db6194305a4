"""A clinician logs in, filters the patient list (htmx swaps only the table) and opens a patient."""
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
    body = page.locator("main").inner_text()
    assert "nivolumab" in body and "Target sum" in body and "60 mm" in body
    assert external == []  # everything served locally: no CDN


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
    context.close()
