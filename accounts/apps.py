from django.apps import AppConfig, apps
from django.conf import settings
from django.db.models.signals import post_migrate, post_save


def _roles_after_migrate(sender, **kwargs):
    """Once every app has migrated (the last app's post_migrate, when all permissions exist): sync the roles."""
    if sender.label != list(apps.get_app_configs())[-1].label:
        return
    from .roles import roles_sync  # noqa: PLC0415 - needs the app registry

    roles_sync()


def _revoke_tokens_on_password_change(sender, instance, created, **kwargs):
    """``set_password`` then ``save`` (the password form, the admin, ``changepassword``, a reset): the user's API
    tokens are revoked. ``_password`` is the new raw password until ``AbstractBaseUser.save`` has finished."""
    if created or getattr(instance, "_password", None) is None:
        return
    from .services import api_tokens_revoke_all  # noqa: PLC0415 - needs the app registry

    api_tokens_revoke_all(user=instance, reason="revoked when the password changed")


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, site access and API tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(_roles_after_migrate, dispatch_uid="accounts-roles-sync")
        post_save.connect(_revoke_tokens_on_password_change, sender=settings.AUTH_USER_MODEL,
                          dispatch_uid="accounts-revoke-tokens-on-password-change")
