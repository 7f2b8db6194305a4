"""A curator corrects a measurement in the admin; the patient page's response panel and the worklist follow."""
import datetime as dt
from decimal import Decimal

import pytest

from imaging.models import LesionMeasurement
from tests.analytics.builders import patient_with_scans
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_edit_in_admin_updates_panel_and_worklist(live_server, page):
    UserFactory(username="curator", password="pw-for-tests", is_staff=True, is_superuser=True)
    start = dt.date.today() - dt.timedelta(days=60)
    patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 60)], start=start, study_id="E2E-RESP")
    measurement = LesionMeasurement.objects.get(lesion=lesions[0], timepoint=tps[1])

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "curator")
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    panel = page.locator("#response-panel")
    panel.wait_for()
    assert "iPR" in panel.inner_text()

    page.goto(f"{live_server.url}/admin/imaging/lesionmeasurement/{measurement.pk}/change/")
    page.fill("input[name=size_mm]", "90")  # T1 30 -> 90 mm: sum 120 (+20 % vs baseline nadir, +20 mm)
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/imaging/lesionmeasurement/")
    assert LesionMeasurement.objects.get(pk=measurement.pk).size_mm == Decimal("90")

    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.locator("#response-panel").wait_for()
    text = page.locator("#response-panel").inner_text()
    assert "iUPD" in text and "awaiting confirmation" in text
    page.goto(f"{live_server.url}/analytics/worklist/?kind=awaiting")
    assert "E2E-RESP" in page.locator("#worklist-table").inner_text()
