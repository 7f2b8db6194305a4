import pytest
from django.contrib.auth.models import Permission

from tests.factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory(username="clinician")


@pytest.fixture
def reader(db):
    """A user who reads clinical data (every site) and may record nothing."""
    from accounts.roles import CLINICAL_READ, role_permissions  # noqa: PLC0415

    reader = UserFactory(username="reader", role="")
    reader.user_permissions.set(role_permissions(Permission, CLINICAL_READ))
    return reader


@pytest.fixture
def client_logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def curator(db):
    curator = UserFactory(username="curator", is_staff=True, role="curator")
    curator.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["patients", "imaging"]))
    return curator


def _api_client(user):
    from rest_framework.test import APIClient  # noqa: PLC0415

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api_user(user):
    """The API as ``user`` (a clinician of every site)."""
    return _api_client(user)


@pytest.fixture
def api_reader(reader):
    """The API as ``reader`` (reads clinical data, records nothing)."""
    return _api_client(reader)


@pytest.fixture
def api_curator(curator):
    """The API as ``curator`` (writes patients' and imaging records)."""
    return _api_client(curator)


@pytest.fixture
def admin_client_logged_in(client, db):
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.fixture
def htmx_headers():
    return {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def vocabularies(transactional_db):
    """Transactional tests flush the database, data migrations included: reload the shipped vocabularies."""
    from patients.models import BiomarkerKind, Drug
    from patients.vocabulary import load_vocabularies

    load_vocabularies(Drug, BiomarkerKind)


@pytest.fixture(scope="session", autouse=True)
def shared_data_present_under_ci():
    """Locally, tests needing ../shared/data skip with a message saying what is missing; under CI that data
    is part of the checkout's surroundings, so its absence fails the run instead of skipping silently."""
    import os
    from pathlib import Path

    from django.conf import settings

    if os.environ.get("CI"):
        data = Path(settings.RADIMMUNO_SHARED_DATA) / "pyradiomics" / "baseline"
        assert data.is_dir(), f"CI: the pyradiomics reference data is missing at {data} (RADIMMUNO_SHARED_DATA)"
