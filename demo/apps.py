from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Synthetic demo data on top of every other app: the cohort, its imaging, and the local demo login."""

    name = "demo"
    verbose_name = "Demo data"
