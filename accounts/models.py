"""Who may call the API: named API tokens that expire and can be revoked.

Only a SHA-256 of the key is stored: the key itself is shown once, when the token is created, so a copy of the
database does not hand out working credentials. The eight-character prefix is what lists show to tell tokens apart.
"""
import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


def key_digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, now=None):
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'R scripts on my laptop'.")
    prefix = models.CharField(max_length=8, editable=False, help_text="The key's first characters, to tell it apart.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    revoked_reason = models.CharField(max_length=200, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="api_token_unique_name_per_user")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def state(self):
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "active"


class SiteMembership(models.Model):
    """A user's access to one site's patients (``site`` empty: every site — a network-wide role, granted by a
    superuser). What they may do there is their role (a group: clinician, curator, researcher, site admin)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_memberships")
    site = models.ForeignKey("patients.Site", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="memberships", help_text="Empty: every site.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    history = HistoricalRecords()  # who was given access to which site, and who took it away

    class Meta:
        ordering = ["user", "site"]
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="site_membership_unique"),
            models.UniqueConstraint(fields=["user"], condition=models.Q(site__isnull=True),
                                    name="site_membership_one_all_sites"),
        ]

    def __str__(self):
        return f"{self.user} at {self.site or 'every site'}"
