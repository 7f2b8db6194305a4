"""Patient list and page: full page and htmx fragment, filters, and query counts that do not grow."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    AdverseEventFactory,
    BiomarkerFactory,
    LesionFactory,
    MeasurementFactory,
    OutcomeFactory,
    PatientFactory,
    RegimenFactory,
    TimepointFactory,
)

pytestmark = pytest.mark.django_db


def full_patient(study_id, tumour_type="nsclc", agents=("pembrolizumab",)):
    """A patient with every kind of clinical row and two target lesions: 30 + 30 mm at baseline, 21 + 21 after."""
    patient = PatientFactory(study_id=study_id, tumour_type=tumour_type)
    regimen = RegimenFactory(patient=patient, agents=list(agents))
    BiomarkerFactory(patient=patient)
    AdverseEventFactory(patient=patient)
    OutcomeFactory(patient=patient)
    baseline = TimepointFactory(patient=patient, kind="baseline", date=dt.date(2023, 1, 25), regimen=regimen)
    follow_up = TimepointFactory(patient=patient, kind="follow-up", date=dt.date(2023, 3, 20), regimen=regimen)
    for i in range(2):
        lesion = LesionFactory(patient=patient, label=f"T{i + 1}", organ=["lung", "liver"][i])
        MeasurementFactory(lesion=lesion, timepoint=baseline, size_mm=Decimal("30"))
        MeasurementFactory(lesion=lesion, timepoint=follow_up, size_mm=Decimal("21"))
    return patient


def test_login_required(client):
    response = client.get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_login_page_and_login(client, user):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post("/accounts/login/", {"username": "clinician", "password": "pw-for-tests"})
    assert response.status_code == 302 and response["Location"] == "/"  # home: the worklist


def test_list_full_page_and_htmx_fragment(client_logged_in, htmx_headers):
    full_patient("LIST-1")
    page = client_logged_in.get("/patients/")
    assert page.status_code == 200
    assert b"<html" in page.content and b'id="patient-table"' in page.content and b"LIST-1" in page.content
    assert b"<td>2</td>" in page.content and b"2023-03-20" in page.content  # scans, last scan (imaging's rows)
    assert b"/static/vendor/htmx.min.js" in page.content and b"cdn" not in page.content.lower()
    fragment = client_logged_in.get("/patients/", **htmx_headers)
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content and b"LIST-1" in fragment.content


def test_list_filters(client_logged_in, htmx_headers):
    full_patient("NSCLC-ICI", "nsclc", ["pembrolizumab"])
    full_patient("MEL-CTLA", "melanoma", ["nivolumab", "ipilimumab"])
    full_patient("RCC-TKI", "rcc", ["axitinib"])

    def ids(query):
        content = client_logged_in.get(f"/patients/?{query}", **htmx_headers).content.decode()
        return {s for s in ("NSCLC-ICI", "MEL-CTLA", "RCC-TKI") if s in content}

    assert ids("tumour_type=melanoma") == {"MEL-CTLA"}
    assert ids("drug_class=anti_ctla4") == {"MEL-CTLA"}
    assert ids("drug_class=anti_pd1") == {"NSCLC-ICI", "MEL-CTLA"}
    assert ids("q=rcc") == {"RCC-TKI"}
    assert ids("tumour_type=nope") == set()  # invalid filter: an empty list with a message, not a 500


def test_list_paginates(client_logged_in):
    site = PatientFactory(study_id="PAGE-00").site
    for i in range(1, 30):
        PatientFactory(study_id=f"PAGE-{i:02d}", site=site)
    first = client_logged_in.get("/patients/").content.decode()
    second = client_logged_in.get("/patients/?page=2").content.decode()
    assert "Page 1 of 2" in first and "PAGE-00" in first and "PAGE-29" not in first
    assert "PAGE-29" in second


def queries(client, url, **headers):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, **headers).status_code == 200
    return len(ctx.captured_queries)


def test_list_query_count_does_not_grow_with_the_cohort(client_logged_in, htmx_headers):
    for i in range(3):
        full_patient(f"Q-{i}")
    small = queries(client_logged_in, "/patients/", **htmx_headers)
    for i in range(3, 20):
        full_patient(f"Q-{i}", agents=["nivolumab", "ipilimumab"])
    large = queries(client_logged_in, "/patients/", **htmx_headers)
    assert large == small
    assert large <= 10  # + the role's permissions and the user's sites (accounts.access), once per request


PANELS = ("/imaging/patients/{pk}/measurements/", "/imaging/patients/{pk}/scans/",
          "/analytics/patients/{pk}/response/", "/analytics/patients/{pk}/deltas/", "/analytics/patients/{pk}/models/",
          "/analytics/patients/{pk}/history/", "/analytics/patients/{pk}/timeline/", "/imaging/patients/{pk}/radiomics/")


def test_patient_page_shows_everything(client_logged_in, htmx_headers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the response engine runs after commit
        patient = full_patient("DETAIL-1")
    content = client_logged_in.get(f"/patients/{patient.pk}/").content.decode()
    for text in ("DETAIL-1", "pembrolizumab", "PD-L1 TPS", "50 %", "Colitis"):
        assert text in content, text
    # imaging and response are those apps' panels, loaded once the page is shown, with a loading and an error state
    for url in PANELS:
        url = url.format(pk=patient.pk)
        assert f'hx-get="{url}" hx-trigger="load"' in content, url
        assert f'<a href="{url}">' in content  # without JavaScript: a link to the panel's own page
    assert content.count(" data-loading ") == content.count(" data-error ") == len(PANELS)
    assert "/static/js/panels.js" in content
    grid = client_logged_in.get(PANELS[0].format(pk=patient.pk), **htmx_headers).content.decode()
    for text in ("Baseline", "T1", "T2", "30 mm", "21 mm"):
        assert text in grid, text
    response = client_logged_in.get(PANELS[2].format(pk=patient.pk), **htmx_headers).content.decode()
    for text in ("Target sum", "60 mm", "42 mm", "-30.00 %", "PR"):
        assert text in response, text


def test_target_sums_shown_are_the_engines_stored_results(client_logged_in, htmx_headers,
                                                           django_capture_on_commit_callbacks):
    """The page never re-adds measurements: what it shows is the stored TimepointResponse."""
    from analytics.models import TimepointResponse

    with django_capture_on_commit_callbacks(execute=True):
        patient = full_patient("STORED-1")
    TimepointResponse.objects.filter(assessment__patient=patient, timepoint__kind="follow-up").update(
        target_sum_mm=Decimal("43.5"))
    grid, scans, response, deltas, models, history, course, radiomics = (
        client_logged_in.get(url.format(pk=patient.pk), **htmx_headers).content.decode() for url in PANELS)
    page = client_logged_in.get(f"/patients/{patient.pk}/").content.decode()
    assert '"nowrap">43.5 mm</td>' in response and ">42 mm</td>" not in response
    assert all('class="sum"' not in text for text in (grid, scans, deltas, models, page))  # no target-sum row added up elsewhere


def grown(patient):
    """Four more assessments with every lesion measured, more biomarkers and adverse events."""
    regimen = patient.regimens.get()
    for i in range(4):
        tp = TimepointFactory(patient=patient, date=dt.date(2023, 5, 1) + dt.timedelta(days=50 * i), regimen=regimen)
        for lesion in patient.lesions.all():
            MeasurementFactory(lesion=lesion, timepoint=tp, size_mm=Decimal(20 + i))
        BiomarkerFactory(patient=patient, measured_on=dt.date(2023, 5, 1) + dt.timedelta(days=i))
        AdverseEventFactory(patient=patient, onset_date=dt.date(2023, 6, 1) + dt.timedelta(days=i))
    return patient


def test_patient_page_and_its_panels_query_counts_do_not_grow(client_logged_in, htmx_headers,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        small = full_patient("SMALL")
        big = grown(full_patient("BIG"))
    assert queries(client_logged_in, f"/patients/{big.pk}/") == queries(client_logged_in, f"/patients/{small.pk}/")
    for url in PANELS:
        n_small = queries(client_logged_in, url.format(pk=small.pk), **htmx_headers)
        assert queries(client_logged_in, url.format(pk=big.pk), **htmx_headers) == n_small, url


def test_patient_page_404_is_a_page_not_a_crash(client_logged_in):
    assert client_logged_in.get("/patients/999999/").status_code == 404


def test_patient_page_never_shows_identity(client_logged_in):
    from tests.factories import IdentityFactory

    identity = IdentityFactory(family_name="Zyxwvut", mrn="MRN-HIDDEN")
    for url in ("/patients/{pk}/", *PANELS):
        content = client_logged_in.get(url.format(pk=identity.patient.pk)).content.decode()
        assert "Zyxwvut" not in content and "MRN-HIDDEN" not in content, url


def test_patient_list_shows_and_filters_the_current_response(client_logged_in, htmx_headers,
                                                             django_capture_on_commit_callbacks,
                                                             django_assert_max_num_queries):
    import datetime as dt

    from imaging.services import timepoint_upsert
    from tests.analytics.builders import patient_with_scans

    with django_capture_on_commit_callbacks(execute=True):
        responder, *_ = patient_with_scans([(-5, 100), (56, 60)], study_id="NOW-PR")
        progressor, *_ = patient_with_scans([(-5, 100), (56, 130)], study_id="NOW-UPD")
        timepoint_upsert(patient=progressor, date=dt.date(2024, 4, 20), kind="follow-up")  # not read yet
    with django_assert_max_num_queries(11):  # sites, session, user, count, rows (+ current response), regimens, agents, ...
        page = client_logged_in.get("/patients/").content.decode()
    assert 'data-current-response="iPR"' in page and 'data-current-response="iUPD"' in page
    assert "to read" in page and "confirm" in page
    rows = client_logged_in.get("/patients/?response=iUPD", **htmx_headers).content.decode()
    assert "NOW-UPD" in rows and "NOW-PR" not in rows
    rows = client_logged_in.get("/patients/?flag=scan-to-read", **htmx_headers).content.decode()
    assert "NOW-UPD" in rows and "NOW-PR" not in rows
    ordered = client_logged_in.get("/patients/?o=-response", **htmx_headers).content.decode()
    assert ordered.index("NOW-UPD") < ordered.index("NOW-PR")  # "iUPD" > "iPR": descending puts it first
    api = client_logged_in.get("/api/v1/patients/patients/?response=iPR&o=study_id").json()
    assert [p["study_id"] for p in api["results"]] == ["NOW-PR"]
