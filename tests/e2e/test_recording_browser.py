"""Recording a follow-up on the patient page in a real browser: the lesion table's cells, the response panel and the
worklist follow at once — iUPD, then iCPD on one patient, iSD with pseudoprogression on another — and an invalid
value shows its field error and saves nothing."""
import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from imaging.models import LesionMeasurement
from tests.analytics.builders import patient_with_scans
from tests.e2e.conftest import login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def recorder():
    user = UserFactory(username="nurse", password="pw-for-tests")
    user.user_permissions.set(Permission.objects.filter(codename__in=["add_lesionmeasurement", "add_lesion"]))
    return user


def add_assessment(page, date):
    page.locator("#measurement-grid summary", has_text="Add an assessment").click()
    page.fill("#id_timepoint-date", date.isoformat())
    page.select_option("#id_timepoint-kind", "follow-up")
    page.get_by_role("button", name="Add assessment").click()
    page.get_by_role("button", name=f"Record T1 at {date.isoformat()}").wait_for()


def record(page, label, date, size, *, expect_saved=True):
    page.get_by_role("button", name=f"Record {label} at {date.isoformat()}").click()
    form = page.get_by_role("form", name=f"Record {label} at {date.isoformat()}")
    form.get_by_label("Size (mm)").fill(str(size))
    form.get_by_role("button", name="Save").click()
    if expect_saved:
        page.get_by_role("button", name=f"Correct {label} at {date.isoformat()}").wait_for()
    return form


def wait_for_panel(page, text):
    page.wait_for_function("t => document.querySelector('#response-panel .now') &&"
                           " document.querySelector('#response-panel .now').innerText.includes(t)", arg=text)


def test_record_iupd_then_icpd_on_the_page(live_server, page, shot):
    recorder()
    start = dt.date.today() - dt.timedelta(days=60)
    patient, regimen, lesions, tps = patient_with_scans([(-5, 100)], start=start, study_id="E2E-REC")
    first, second = start + dt.timedelta(days=56), start + dt.timedelta(days=56 + 35)
    login(page, live_server, "nurse")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.locator("#measurement-grid").wait_for()

    add_assessment(page, first)
    page.wait_for_function("document.querySelector('#response-panel').innerText.includes('awaiting reading')")
    form = record(page, "T1", first, -4, expect_saved=False)  # negative: the browser refuses it before sending
    assert form.get_by_label("Size (mm)").evaluate("input => input.validity.rangeUnderflow")
    form.get_by_label("Size (mm)").fill("12")
    form.get_by_label("Status").select_option("not-assessed")  # a size with "not assessed": the model refuses it
    form.get_by_role("button", name="Save").click()
    form.locator('[data-field="size_mm"]').wait_for()
    assert "has no size" in form.inner_text()
    assert not LesionMeasurement.objects.filter(timepoint__date=first).exists()
    shot("field-error")
    form.get_by_label("Status").select_option("present")
    form.get_by_label("Size (mm)").fill("65")
    form.get_by_role("button", name="Save").click()
    page.get_by_role("button", name=f"Correct T1 at {first.isoformat()}").wait_for()
    record(page, "T2", first, 65)  # sum 130 mm: +30 % -> iUPD
    wait_for_panel(page, "Now: iUPD")
    shot("iupd-recorded")
    page.goto(f"{live_server.url}/analytics/worklist/?section=confirmations")
    row = page.locator("#worklist-table tbody tr", has_text="E2E-REC")
    assert "Confirmation scan due" in row.inner_text() and "window" in row.inner_text()

    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.locator("#measurement-grid").wait_for()
    add_assessment(page, second)
    record(page, "T1", second, 80)
    record(page, "T2", second, 80)  # sum 160 mm: confirmed -> iCPD
    wait_for_panel(page, "Now: iCPD")
    assert "none scheduled (progression confirmed)" in page.locator("#response-panel .now").inner_text()
    assert "80 mm" in page.locator("#measurement-grid").inner_text()
    shot("icpd-recorded")


def test_record_the_other_branch_pseudoprogression(live_server, page, shot):
    recorder()
    start = dt.date.today() - dt.timedelta(days=100)
    patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 130)], start=start, study_id="E2E-PSEUDO",
                                                        organs=("lung", "lung"))
    confirmation = start + dt.timedelta(days=56 + 35)
    login(page, live_server, "nurse")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.locator("#measurement-grid").wait_for()
    wait_for_panel(page, "Now: iUPD")
    add_assessment(page, confirmation)
    record(page, "T1", confirmation, 45)
    record(page, "T2", confirmation, 45)  # sum 90 mm: the iUPD is not confirmed -> iSD, pseudoprogression
    wait_for_panel(page, "Now: iSD")
    assert "Pseudoprogression" in page.locator("#response-panel").inner_text()
    assert LesionMeasurement.objects.get(lesion=lesions[0], timepoint__date=confirmation).size_mm == Decimal(45)
    shot("pseudoprogression")

    page.locator("#measurement-grid summary", has_text="Add a lesion").click()  # a third target in the lungs
    page.fill("#id_lesion-label", "T3")
    page.select_option("#id_lesion-role", "target")
    page.select_option("#id_lesion-organ", "lung")
    page.get_by_role("button", name="Add lesion").click()
    error = page.locator('#measurement-grid [data-field="role"]')
    error.wait_for()
    assert "at most 2 target lesions per organ" in error.inner_text()
    assert not patient.lesions.filter(label="T3").exists()
    shot("lesion-refused")
