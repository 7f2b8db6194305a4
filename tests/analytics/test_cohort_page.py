"""The cohort page: waterfall of every assessed regimen, the swimmer plot page by page (lanes end at the last
contact, not today), SVG downloads, text alternatives, and a query count that does not grow with the cohort."""
import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.compute.svgplots import spider_svg, swimmer_svg, waterfall_svg
from tests.analytics.builders import patient_with_scans
from tests.factories import OutcomeFactory, PatientFactory, RegimenFactory

pytestmark = pytest.mark.django_db


def test_svg_plots_are_deterministic_and_described():
    bars = [("P1", -40.0, "iPR"), ("P2", 25.0, "iCPD"), ("P3", None, "NE"), ("P4", 250.0, "iUPD")]
    svg = waterfall_svg(bars)
    assert svg == waterfall_svg(list(reversed(bars)))  # same bars, same bytes
    assert svg.count("<rect x=") == 3 + 3  # three bars (P3 has no change) + the legend's three squares
    assert "n = 3 of 4 assessed; 1 without a measurable change" in svg
    assert '<title id="waterfall-title">' in svg and "1 patients with a decrease of 30 % or more" in svg
    assert "P4: +250.0 % (iUPD)" in svg and ">^</text>" in svg  # clipped at +100 %, marked
    assert not re.search(r'font-size="([0-9]|1[01])"', svg)  # no text under 12 px
    lanes = [{"label": "P1", "end_day": 400, "ongoing": True, "responses": [(56, "iPR"), (112, "NE")],
              "events": [(30, "irAE"), (56, "HPD"), (200, "pseudoprogression")]},
             {"label": "P2", "end_day": 90, "ongoing": False, "responses": [], "events": [(90, "death")]}]
    swim = swimmer_svg(lanes)
    assert "day 112: NE" in swim and "day 90: death" in swim and "P1: 400 days, ongoing at last contact" in swim
    assert "immune-related adverse event" in swim and ">NE</text>" in swim  # every mark is in the legend
    spider = spider_svg([{"label": "P1", "points": [(0, 0.0, ""), (56, 30.0, "iUPD"), (112, 45.0, "iCPD")]}])
    assert "day 56: +30.0 % (iUPD)" in spider and "stroke-dasharray" in spider


def test_a_lane_ends_at_the_last_contact_not_today(client_logged_in, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        seen_long_ago, *_ = patient_with_scans([(-5, 100), (56, 60)], start=dt.date(2019, 1, 10), study_id="OLD-1")
        OutcomeFactory(patient=seen_long_ago, last_contact_date=dt.date(2019, 6, 1))
    page = client_logged_in.get("/analytics/cohort/").content.decode()
    assert "OLD-1: 142 days, ongoing at last contact" in page  # 2019-01-10 -> 2019-06-01, not to 2026


def test_swimmer_pages_and_downloads(client_logged_in, htmx_headers, django_capture_on_commit_callbacks, settings):
    from analytics import views

    views.SWIMMER_LANES_PER_PAGE = 2
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for k in range(5):
                patient_with_scans([(-5, 100), (56, 60 + k)], start=dt.date(2024, 1, 10 + k), study_id=f"SW-{k}")
            RegimenFactory(patient=PatientFactory(study_id="NOSCAN"), agents=["nivolumab"])
        page = client_logged_in.get("/analytics/cohort/").content.decode()
        assert "6 assessed regimens, 5 with a measurable change" in page
        assert "Patients 1–2 of 6" in page and re.search("SW-0: [0-9]+ days", page)
        assert not re.search("SW-2: [0-9]+ days", page)
        fragment = client_logged_in.get("/analytics/cohort/?lanes=2", **htmx_headers).content.decode()
        assert "<html" not in fragment and "Patients 3–4 of 6" in fragment and re.search("SW-2: [0-9]+ days", fragment)
        svg = client_logged_in.get("/analytics/cohort/?download=waterfall")
        assert svg["Content-Type"] == "image/svg+xml" and "attachment" in svg["Content-Disposition"]
        assert svg.content.startswith(b"<svg") and b"n = 5 of 6 assessed" in svg.content
    finally:
        views.SWIMMER_LANES_PER_PAGE = 50


def test_cohort_query_count_does_not_grow(client_logged_in, django_capture_on_commit_callbacks):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client_logged_in.get("/analytics/cohort/").status_code == 200
        return len(ctx.captured_queries)

    with django_capture_on_commit_callbacks(execute=True):
        patient_with_scans([(-5, 100), (56, 60)], study_id="Q-0")
    small = count()
    with django_capture_on_commit_callbacks(execute=True):
        for k in range(1, 6):
            patient_with_scans([(-5, 100), (56, 60)], study_id=f"Q-{k}")
    assert count() == small <= 12


def test_kaplan_meier_under_the_cohort_filters(client_logged_in, htmx_headers, django_capture_on_commit_callbacks):
    from tests.factories import OutcomeFactory

    with django_capture_on_commit_callbacks(execute=True):
        for k in range(6):
            patient, *_ = patient_with_scans([(-5, 100), (56, 60)], start=dt.date(2024, 1, 10), study_id=f"KM-{k}")
            OutcomeFactory(patient=patient, last_contact_date=dt.date(2024, 3, 1) + dt.timedelta(days=40 * k),
                           vital_status="dead" if k % 2 else "alive",
                           death_date=dt.date(2024, 3, 1) + dt.timedelta(days=40 * k) if k % 2 else None)
    page = client_logged_in.get("/analytics/cohort/").content.decode()
    assert 'hx-get="/analytics/cohort/km/?' in page  # loaded after the page
    fragment = client_logged_in.get("/analytics/cohort/km/?km_endpoint=os", **htmx_headers)
    body = fragment.content.decode()
    assert "<!doctype" not in body and "<svg" in body and "6 patients, 3 events" in body
    one_sex = client_logged_in.get("/analytics/cohort/km/?km_group=sex", **htmx_headers).content.decode()
    assert "No Kaplan–Meier curve" in one_sex and "single level" in one_sex  # the analysis's own reason
    again = client_logged_in.get("/analytics/cohort/km/?km_endpoint=os", **htmx_headers)
    assert again.content == fragment.content  # cached until an assessment is recomputed
    bad = client_logged_in.get("/analytics/cohort/km/?km_endpoint=nope&km_group=nope", **htmx_headers)
    assert bad.status_code == 200 and "overall survival" in bad.content.decode()  # unknown choices fall back
    nobody = client_logged_in.get("/analytics/cohort/km/?site=NOWHERE", **htmx_headers).content.decode()
    assert "No Kaplan–Meier curve for this selection" in nobody


def test_cohort_filters_by_drug_class(client_logged_in, django_capture_on_commit_callbacks):
    from patients.models import Drug

    with django_capture_on_commit_callbacks(execute=True):
        patient_with_scans([(-5, 100), (56, 60)], study_id="PD1-1")  # pembrolizumab
        ctla4, *_ = patient_with_scans([(-5, 100), (56, 70)], study_id="CTLA4-1")
        ctla4.regimens.get().agents.set(Drug.objects.filter(name="ipilimumab"))
    page = client_logged_in.get("/analytics/cohort/?drug_class=anti_ctla4").content.decode()
    assert "CTLA4-1: " in page and "PD1-1: " not in page and "1 assessed regimen" in page
    assert 'hx-get="/analytics/cohort/km/?drug_class=anti_ctla4"' in page
