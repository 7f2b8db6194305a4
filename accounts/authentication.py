"""``Authorization: Token <key>`` for the API, with named, expiring, revocable tokens (accounts.ApiToken).

A refused token gets 401 and says why (unknown, expired on …, revoked on …), so a script's owner knows whether to
create a new token or ask why theirs was revoked. A key is looked up by its SHA-256 only.
"""
import datetime as dt

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken, key_digest

LAST_USED_RESOLUTION = dt.timedelta(minutes=5)  # write last_used_at at most this often per token


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key):
        token = ApiToken.objects.select_related("user").filter(digest=key_digest(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token: no such token. Create one under 'API tokens'.")
        now = timezone.now()
        if token.revoked_at:
            raise exceptions.AuthenticationFailed(
                f"Token '{token.name}' was revoked on {token.revoked_at:%Y-%m-%d} ({token.revoked_reason}).")
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(
                f"Token '{token.name}' expired on {token.expires_at:%Y-%m-%d}. Create a new one under 'API tokens'.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user account is inactive.")
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
