"""A researcher fills in the new-analysis form in a real browser and reads the report of the run it starts."""
import datetime as dt
from decimal import Decimal

import pytest

from analytics.models import AnalysisRun
from tests.factories import BiomarkerFactory, OutcomeFactory, PatientFactory, RegimenFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_submit_the_form_and_read_the_report(live_server, page):
    UserFactory(username="researcher", password="pw-for-tests")
    site = SiteFactory(code="A")
    start = dt.date(2022, 1, 1)
    for i in range(30):
        tps = (i * 37) % 100
        patient = PatientFactory(site=site, sex="M" if i % 2 else "F")
        RegimenFactory(patient=patient, start_date=start)
        BiomarkerFactory(patient=patient, value_numeric=Decimal(tps), measured_on=start - dt.timedelta(days=20))
        end = start + dt.timedelta(days=60 + 8 * tps + (i % 7) * 20)
        dies = i % 3 != 0
        OutcomeFactory(patient=patient, last_contact_date=end, vital_status="dead" if dies else "alive",
                       death_date=end if dies else None)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "researcher")
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit]")
    page.click("nav >> text=Analyses")
    page.wait_for_url("**/analytics/analyses/")

    form = page.locator("#analysis-form")
    form.locator("select[name=site]").select_option("A")
    form.locator("select[name=kind]").select_option("km")
    form.locator("select[name=endpoint]").select_option("os")
    form.locator("select[name=group_by]").select_option("pdl1_tps")
    form.locator("input[name=cut]").fill("50")
    form.locator("button[type=submit]").click()

    page.locator("#km-groups").wait_for()  # the run page, polling until the report is there
    run = AnalysisRun.objects.get()
    assert page.url.endswith(f"/analytics/analyses/{run.pk}/") and run.status == "done"
    text = page.locator("#analysis-run").inner_text()
    assert "pdl1_tps <50" in text and "pdl1_tps ≥50" in text and "Log-rank" in text and run.input_sha256 in text
    assert page.locator("#km-report svg").count() == 1

    page.click("text=Re-run")
    page.locator("#km-groups").wait_for()
    rerun = AnalysisRun.objects.get(rerun_of=run)
    assert page.url.endswith(f"/analytics/analyses/{rerun.pk}/") and f"re-run of #{run.pk}" in page.inner_text(
        "#analysis-status")
