from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _roles_after_migrate(sender, **kwargs):
    """Once every app has migrated (the last app's post_migrate, when all permissions exist): sync the roles."""
    if sender.label != list(apps.get_app_configs())[-1].label:
        return
    from .roles import roles_sync  # noqa: PLC0415 - needs the app registry

    roles_sync()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, site access and API tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(_roles_after_migrate, dispatch_uid="accounts-roles-sync")
