"""Issue 15: no browser or proxy stores patient data (Cache-Control: no-store), and sessions end after a spell of
inactivity and after a maximum length (radimmuno.middleware)."""
import time

import pytest
from rest_framework.test import APIClient

from radimmuno.middleware import SEEN, STARTED
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_every_page_fragment_and_api_response_is_no_store(client_logged_in, user, htmx_headers):
    patient = PatientFactory()
    for url, headers in (("/patients/", {}), (f"/patients/{patient.pk}/", {}), ("/patients/", htmx_headers),
                         ("/api/v1/patients/patients/", {}), ("/accounts/login/", {}), ("/no-such-page/", {})):
        response = client_logged_in.get(url, **headers)
        assert response["Cache-Control"] == "no-store", url
    api = APIClient()
    api.force_authenticate(user)
    assert api.get(f"/api/v1/patients/patients/{patient.pk}/")["Cache-Control"] == "no-store"


def _age(client, **seconds):
    session = client.session
    for key, ago in seconds.items():
        session[{"started": STARTED, "seen": SEEN}[key]] = int(time.time()) - ago
    session.save()


def test_a_login_starts_the_clocks_and_requests_keep_it_alive(client, user):
    assert client.login(username=user.username, password="pw-for-tests")
    started = client.session[STARTED]
    assert abs(started - time.time()) < 5 and client.session[SEEN] == started
    _age(client, seen=29 * 60)
    assert client.get("/patients/").status_code == 200
    assert abs(client.session[SEEN] - time.time()) < 5  # the activity was recorded


def test_an_idle_session_is_logged_out_and_told_why(client, user, settings):
    settings.RADIMMUNO_SESSION_IDLE_MINUTES = 30
    assert client.login(username=user.username, password="pw-for-tests")
    _age(client, seen=31 * 60)
    response = client.get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    login = client.get(response["Location"]).content.decode()
    assert "You were logged out after 30 minutes without activity." in login
    assert client.get("/api/v1/patients/patients/").status_code in (401, 403)


def test_a_session_ends_after_its_maximum_length_however_busy(client, user, settings):
    settings.RADIMMUNO_SESSION_MAX_HOURS = 12
    assert client.login(username=user.username, password="pw-for-tests")
    _age(client, started=12 * 3600 + 60, seen=10)
    response = client.get("/patients/")
    assert response.status_code == 302
    assert "a session lasts at most 12 hours" in client.get(response["Location"]).content.decode()


def test_the_cookie_age_is_the_maximum_length(settings):
    assert settings.SESSION_COOKIE_AGE == settings.RADIMMUNO_SESSION_MAX_HOURS * 3600
