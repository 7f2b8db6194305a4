"""API tokens: named, expiring, revocable by their owner; a refused token says why; only a hash is stored."""
import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, key_digest
from accounts.services import api_token_create, api_token_revoke
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PATIENTS = "/api/v1/patients/patients/"


def call(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(PATIENTS)


def test_a_token_works_until_revoked_and_then_says_so(user):
    token, key = api_token_create(user=user, name="R scripts", days=30)
    assert ApiToken.objects.get().digest == key_digest(key) and key not in str(ApiToken.objects.values().get())
    assert call(key).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None and token.state == "active"
    assert api_token_revoke(token=token, by=user)
    refused = call(key)
    assert refused.status_code == 401 and "was revoked on" in refused.json()["detail"]
    assert refused["WWW-Authenticate"] == "Token"
    assert not api_token_revoke(token=token, by=user)  # once is enough


def test_an_expired_token_and_an_unknown_one_are_refused_with_the_reason(user):
    token, key = api_token_create(user=user, name="old", days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert "expired on" in call(key).json()["detail"]
    assert "no such token" in call("not-a-token").json()["detail"]
    user.is_active = False
    user.save()
    fresh_key = api_token_create(user=user, name="fresh")[1]
    assert call(fresh_key).status_code == 401


def test_creating_validates_the_name_and_the_validity(user, settings):
    api_token_create(user=user, name="laptop")
    with pytest.raises(Exception) as exc:
        api_token_create(user=user, name="laptop")
    assert "already have a token named 'laptop'" in str(exc.value)
    with pytest.raises(Exception) as exc:
        api_token_create(user=user, name="forever", days=settings.RADIMMUNO_API_TOKEN_MAX_DAYS + 1)
    assert "valid for 1 to 365 days" in str(exc.value)
    default, _ = api_token_create(user=user, name="default")
    validity = default.expires_at - default.created_at
    assert abs(validity - dt.timedelta(days=settings.RADIMMUNO_API_TOKEN_DAYS)) < dt.timedelta(seconds=5)


def test_the_api_endpoint_creates_a_token_from_a_password(user):
    client = APIClient()
    wrong = client.post("/api/v1/auth/token/", {"username": "clinician", "password": "nope", "name": "x"})
    assert wrong.status_code == 400 and wrong.json()["non_field_errors"] == ["Wrong username or password."]
    missing = client.post("/api/v1/auth/token/", {"username": "clinician", "password": "pw-for-tests"})
    assert missing.status_code == 400 and "name" in missing.json()
    made = client.post("/api/v1/auth/token/", {"username": "clinician", "password": "pw-for-tests",
                                               "name": "pandas", "days": 7})
    assert made.status_code == 201 and call(made.json()["token"]).status_code == 200
    again = client.post("/api/v1/auth/token/", {"username": "clinician", "password": "pw-for-tests", "name": "pandas"})
    assert again.status_code == 400 and "already have a token" in again.json()["name"][0]


def test_the_tokens_page_creates_shows_the_key_once_lists_and_revokes(client_logged_in, user, htmx_headers):
    page = client_logged_in.get("/accounts/tokens/")
    assert page.status_code == 200 and "No tokens yet" in page.content.decode()
    made = client_logged_in.post("/accounts/tokens/", {"name": "notebook", "days": 14}, **htmx_headers)
    body = made.content.decode()
    assert made.status_code == 200 and "<html" not in body and made["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=user)
    key = body.split('id="new-token-key"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert key_digest(key) == token.digest and call(key).status_code == 200
    listed = client_logged_in.get("/accounts/tokens/").content.decode()
    assert "notebook" in listed and token.prefix in listed and key not in listed  # shown once
    bad = client_logged_in.post("/accounts/tokens/", {"name": "notebook", "days": 14}).content.decode()
    assert "already have a token named" in bad
    other = UserFactory(username="someone-else")
    theirs, _ = api_token_create(user=other, name="theirs")
    assert client_logged_in.post(f"/accounts/tokens/{theirs.pk}/revoke/").status_code == 404
    revoked = client_logged_in.post(f"/accounts/tokens/{token.pk}/revoke/", **htmx_headers).content.decode()
    assert "revoked" in revoked and call(key).status_code == 401
    assert client_logged_in.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
