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


def test_a_password_change_revokes_the_users_tokens(client, user):
    """Issue 15: tokens survived a password change. The password form, the admin and ``changepassword`` all end in
    set_password and save; a save that does not set the password (last_login, a name) leaves the tokens alone."""
    _, key = api_token_create(user=user, name="laptop", days=30)
    user.first_name = "Renamed"
    user.save()
    assert call(key).status_code == 200
    client.force_login(user)
    changed = client.post("/accounts/password/", {"old_password": "pw-for-tests", "new_password1": "a-New-pw-9931",
                                                         "new_password2": "a-New-pw-9931"})
    assert changed.status_code == 302, changed.content.decode()[:500]
    refused = call(key)
    assert refused.status_code == 401
    assert "revoked when the password changed" in refused.json()["detail"]
    _, fresh = api_token_create(user=user, name="after the change", days=30)
    assert call(fresh).status_code == 200


def test_a_site_admin_revokes_the_tokens_of_their_sites_users_only(client):
    from accounts.models import SiteMembership
    from tests.factories import SiteFactory

    site_a, site_b = SiteFactory(code="TOK-A"), SiteFactory(code="TOK-B")
    admin = UserFactory(username="site-admin-a", role="site admin", sites=[site_a], is_staff=True)
    ours = UserFactory(username="clinician-a", sites=[site_a])
    theirs = UserFactory(username="clinician-b", sites=[site_b])
    root = UserFactory(username="root-a", is_superuser=True, sites=[site_a])
    tokens = {u.username: api_token_create(user=u, name="script", days=30) for u in (ours, theirs, root)}
    assert SiteMembership.objects.filter(user=root, site=site_a).exists()
    client.force_login(admin)
    listing = client.get("/admin/accounts/apitoken/").content.decode()
    assert "clinician-a" in listing and "clinician-b" not in listing and "root-a" not in listing
    assert client.get(f"/admin/accounts/apitoken/{tokens['clinician-b'][0].pk}/change/").status_code == 302  # unknown
    done = client.post("/admin/accounts/apitoken/", {
        "action": "revoke", "_selected_action": [t.pk for t, _ in tokens.values()]}, follow=True)
    assert "1 token(s) revoked" in done.content.decode()
    assert call(tokens["clinician-a"][1]).json()["detail"].endswith("(revoked by a site administrator).")
    assert call(tokens["clinician-b"][1]).status_code == 200 and call(tokens["root-a"][1]).status_code == 200
    revoked = ApiToken.objects.get(user=ours)
    assert revoked.revoked_by == admin
