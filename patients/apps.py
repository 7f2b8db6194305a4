from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients and treatment"

    def ready(self):
        from . import receivers  # noqa: F401
