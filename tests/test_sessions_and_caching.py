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


def _login(client, user):
    """Through the login form, as a person logs in (django-axes needs the request; client.login gives none)."""
    response = client.post("/accounts/login/", {"username": user.username, "password": "pw-for-tests"})
    assert response.status_code == 302, response.content.decode()[:300]
    return True


def _age(client, **seconds):
    session = client.session
    for key, ago in seconds.items():
        session[{"started": STARTED, "seen": SEEN}[key]] = int(time.time()) - ago
    session.save()


def test_a_login_starts_the_clocks_and_requests_keep_it_alive(client, user):
    assert _login(client, user)
    started = client.session[STARTED]
    assert abs(started - time.time()) < 5 and client.session[SEEN] == started
    _age(client, seen=29 * 60)
    assert client.get("/patients/").status_code == 200
    assert abs(client.session[SEEN] - time.time()) < 5  # the activity was recorded


def test_an_idle_session_is_logged_out_and_told_why(client, user, settings):
    settings.RADIMMUNO_SESSION_IDLE_MINUTES = 30
    assert _login(client, user)
    _age(client, seen=31 * 60)
    response = client.get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    login = client.get(response["Location"]).content.decode()
    assert "You were logged out after 30 minutes without activity." in login
    assert client.get("/api/v1/patients/patients/").status_code in (401, 403)


def test_a_session_ends_after_its_maximum_length_however_busy(client, user, settings):
    settings.RADIMMUNO_SESSION_MAX_HOURS = 12
    assert _login(client, user)
    _age(client, started=12 * 3600 + 60, seen=10)
    response = client.get("/patients/")
    assert response.status_code == 302
    assert "a session lasts at most 12 hours" in client.get(response["Location"]).content.decode()


def test_the_cookie_age_is_the_maximum_length(settings):
    assert settings.SESSION_COOKIE_AGE == settings.RADIMMUNO_SESSION_MAX_HOURS * 3600


def test_repeated_wrong_passwords_lock_the_login_and_the_token_endpoint(client, user, settings):
    """Issue 15: 140 wrong attempts, none slowed. Now the fifth wrong password locks that username from that
    address (django-axes), on the login page and on the API's token endpoint alike, with a sentence saying so."""
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        assert client.post("/accounts/login/", {"username": user.username, "password": "guess"}).status_code == 200
    locked = client.post("/accounts/login/", {"username": user.username, "password": "guess"})
    assert locked.status_code == 429
    assert "logging in is locked for 15 minutes" in locked.content.decode()
    right = client.post("/accounts/login/", {"username": user.username, "password": "pw-for-tests"})
    assert right.status_code == 429  # even the right password, until the lock expires
    api = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": "pw-for-tests",
                                                   "name": "x"})
    assert api.status_code == 429 and "locked" in api.json()["detail"]
    from axes.utils import reset

    reset(username=user.username)  # what a site admin's "unlock" does (the admin's access attempts page)
    assert client.post("/accounts/login/", {"username": user.username, "password": "pw-for-tests"}).status_code == 302


def test_the_token_endpoint_counts_wrong_passwords_too(user):
    api = APIClient()
    for _ in range(4):
        wrong = api.post("/api/v1/auth/token/", {"username": user.username, "password": "guess", "name": "x"})
        assert wrong.status_code == 400
    assert api.post("/api/v1/auth/token/", {"username": user.username, "password": "guess",
                                            "name": "x"}).status_code == 429
