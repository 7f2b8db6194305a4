"""The API against its own OpenAPI schema (issue 14): schemathesis generates requests for every operation from
``/api/schema/`` and sends them, authenticated with an API token, to the app in process. No answer may be a server
error (5xx) or differ from the schema (status codes the schema names, content types, bodies).

Bounded: a few examples per operation, on a small demo cohort (two patients with scans, measurements, a response
and feature sets), so that ids in paths often name real rows."""
import datetime as dt
import json
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)
from schemathesis.checks import not_a_server_error

from accounts.services import api_token_create
from imaging.models import ExtractionProfile, FeatureSet
from tests.analytics.builders import patient_with_scans
from tests.factories import UserFactory
from tests.imaging.test_api_filtersets import _segment, _series

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = 6


def _load_schema():
    """The schema /api/schema/ serves, generated in process (as JSON), with the app to call."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(generated)))
    loaded.app = get_wsgi_application()
    return loaded


schema = _load_schema()


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """As Django's test client does: a request must not close the test's database connection (its transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def settings_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.RADIMMUNO_AUTO_EXTRACT = False
    return settings


@pytest.fixture
def token(db, settings_media, django_capture_on_commit_callbacks):
    user = UserFactory(username="fuzzer", is_staff=True, is_superuser=True)  # every write and every list
    with django_capture_on_commit_callbacks(execute=True):
        for i, start in enumerate((dt.date(2024, 1, 10), dt.date(2024, 2, 1))):
            patient, regimen, lesions, timepoints = patient_with_scans([(-5, 100), (56, 130), (100, 60)], start=start,
                                                                      study_id=f"FUZZ-{i}")
    profile = ExtractionProfile.objects.create(name="fuzz", version=1, params={}, params_hash="f" * 64)
    series = _series(patient, 9001, modality="CT", volume_status="ok")
    series.study.timepoint = timepoints[0]
    series.study.save()
    segment = _segment(series, lesion=lesions[0], proposal_status="proposed")
    FeatureSet.objects.create(segment=segment, profile=profile, status="done", feature_count=1,
                              features={"original_firstorder_Mean": 1.5})
    assert lesions[0].measurements.filter(size_mm__gt=Decimal(0)).exists()
    return api_token_create(user=user, name="schemathesis")[1]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_schema_says(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)


def test_the_checks_are_the_issues():
    """No 5xx and no answer that violates the schema: the negative-data check (refusing every invalid request) is
    not asked for, as DRF accepts e.g. unknown query parameters by design."""
    assert not_a_server_error in CHECKS and response_schema_conformance in CHECKS
    assert negative_data_rejection not in CHECKS
