"""Writes of the accounts app: creating and revoking API tokens."""
import datetime as dt
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import ApiToken, key_digest


@transaction.atomic
def api_token_create(*, user, name, days=None):
    """A new token for ``user`` valid ``days`` (default RADIMMUNO_API_TOKEN_DAYS, at most RADIMMUNO_API_TOKEN_MAX_DAYS).
    Returns (token, key): the key is not stored and cannot be shown again."""
    name = (name or "").strip()
    days = settings.RADIMMUNO_API_TOKEN_DAYS if days in (None, "") else days
    errors = {}
    if not name:
        errors["name"] = "Give the token a name that says what it is for."
    elif ApiToken.objects.filter(user=user, name=name).exists():
        errors["name"] = f"You already have a token named '{name}': choose another name or revoke that one."
    try:
        days = int(days)
    except (TypeError, ValueError):
        errors["days"] = "The validity is a whole number of days."
    else:
        if not 1 <= days <= settings.RADIMMUNO_API_TOKEN_MAX_DAYS:
            errors["days"] = f"A token is valid for 1 to {settings.RADIMMUNO_API_TOKEN_MAX_DAYS} days."
    if errors:
        raise ValidationError(errors)
    key = secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, prefix=key[:8], digest=key_digest(key),
                     expires_at=timezone.now() + dt.timedelta(days=days))
    token.full_clean()
    token.save()
    return token, key


def api_token_revoke(*, token, by, reason="revoked by its owner"):
    """Revoke ``token`` (a revoked token stays listed, with who revoked it and when). Returns True when it was usable."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by, revoked_reason=reason[:200])
    token.refresh_from_db()
    return bool(updated)


def api_tokens_revoke_all(*, user, by=None, reason):
    """Revoke every usable token of ``user`` (a password change does: a token must not outlive the secret it was
    created under). Returns how many were revoked."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by, revoked_reason=reason[:200])
