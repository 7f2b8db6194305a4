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
    patient = PatientFactory(study_id=study_id, tumour_type=tumour_type)
    RegimenFactory(patient=patient, agents=list(agents))
    BiomarkerFactory(patient=patient)
    AdverseEventFactory(patient=patient)
    OutcomeFactory(patient=patient)
    baseline = TimepointFactory(patient=patient, kind="baseline", date=dt.date(2023, 1, 25))
    follow_up = TimepointFactory(patient=patient, kind="follow-up", date=dt.date(2023, 3, 20))
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
    assert response.status_code == 302 and response["Location"] == "/patients/"


def test_list_full_page_and_htmx_fragment(client_logged_in, htmx_headers):
    full_patient("LIST-1")
    page = client_logged_in.get("/patients/")
    assert page.status_code == 200
    assert b"<html" in page.content and b'id="patient-table"' in page.content and b"LIST-1" in page.content
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
    assert large <= 8


def test_patient_page_shows_everything(client_logged_in):
    patient = full_patient("DETAIL-1")
    content = client_logged_in.get(f"/patients/{patient.pk}/").content.decode()
    for text in ("DETAIL-1", "pembrolizumab", "PD-L1 TPS", "50 %", "Colitis", "Baseline", "T1", "T2",
                 "30 mm", "21 mm", "60 mm", "42 mm"):
        assert text in content, text


def test_patient_page_query_count_does_not_grow(client_logged_in):
    small = full_patient("SMALL")
    n_small = queries(client_logged_in, f"/patients/{small.pk}/")
    big = full_patient("BIG")
    for i in range(4):
        tp = TimepointFactory(patient=big, date=dt.date(2023, 5, 1) + dt.timedelta(days=50 * i))
        for lesion in big.lesions.all():
            MeasurementFactory(lesion=lesion, timepoint=tp, size_mm=Decimal(20 + i))
        BiomarkerFactory(patient=big, measured_on=dt.date(2023, 5, 1) + dt.timedelta(days=i))
        AdverseEventFactory(patient=big, onset_date=dt.date(2023, 6, 1) + dt.timedelta(days=i))
    assert queries(client_logged_in, f"/patients/{big.pk}/") == n_small


def test_patient_page_404_is_a_page_not_a_crash(client_logged_in):
    assert client_logged_in.get("/patients/999999/").status_code == 404


def test_patient_page_never_shows_identity(client_logged_in):
    from tests.factories import IdentityFactory

    identity = IdentityFactory(family_name="Zyxwvut", mrn="MRN-HIDDEN")
    content = client_logged_in.get(f"/patients/{identity.patient.pk}/").content.decode()
    assert "Zyxwvut" not in content and "MRN-HIDDEN" not in content
