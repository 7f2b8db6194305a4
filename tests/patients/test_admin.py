"""The curation admin: every model's list, add and change pages work, inlines are there, history shows diffs."""
import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from imaging.models import LesionMeasurement
from tests.factories import (
    AdverseEventFactory,
    BiomarkerFactory,
    IdentityFactory,
    MeasurementFactory,
    OutcomeFactory,
    RegimenFactory,
)

pytestmark = pytest.mark.django_db
APP_MODELS = [m for m in admin.site._registry if m._meta.app_label in ("patients", "imaging")]


@pytest.fixture
def data(db):
    identity = IdentityFactory()
    patient = identity.patient
    RegimenFactory(patient=patient)
    BiomarkerFactory(patient=patient)
    AdverseEventFactory(patient=patient)
    OutcomeFactory(patient=patient)
    MeasurementFactory(lesion__patient=patient)
    return patient


def test_every_model_is_registered():
    names = {m.__name__ for m in APP_MODELS}
    assert {"Site", "Patient", "PatientIdentity", "Drug", "TreatmentRegimen", "BiomarkerKind", "Biomarker",
            "AdverseEvent", "Outcome", "Timepoint", "Lesion", "LesionMeasurement"} <= names


@pytest.mark.parametrize("model", APP_MODELS, ids=lambda m: m.__name__)
def test_changelist_search_filter_add_and_change_pages(admin_client_logged_in, data, model):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert admin_client_logged_in.get(changelist).status_code == 200
    if admin.site._registry[model].search_fields:
        assert admin_client_logged_in.get(changelist, {"q": "x"}).status_code == 200
    add = admin_client_logged_in.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    assert add.status_code in (200, 403)
    obj = model.objects.first()
    if obj is not None:
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        assert admin_client_logged_in.get(change).status_code == 200


def test_patient_change_page_has_the_inlines(admin_client_logged_in, data):
    content = admin_client_logged_in.get(reverse("admin:patients_patient_change", args=[data.pk])).content.decode()
    for prefix in ("identity", "outcome", "regimens", "biomarkers", "adverse_events", "timepoints"):
        assert f'id="{prefix}-group"' in content, prefix


def test_timepoint_change_page_has_measurements_inline(admin_client_logged_in, data):
    timepoint = data.timepoints.first()
    content = admin_client_logged_in.get(reverse("admin:imaging_timepoint_change", args=[timepoint.pk])).content
    assert b'id="measurements-group"' in content


def test_history_shows_who_changed_what_before_and_after(admin_client_logged_in, data):
    measurement = LesionMeasurement.objects.get()
    url = reverse("admin:imaging_lesionmeasurement_change", args=[measurement.pk])
    response = admin_client_logged_in.post(url, {
        "lesion": measurement.lesion_id, "timepoint": measurement.timepoint_id, "size_mm": "27.5",
        "status": "present", "non_target_status": "", "source": "manual",
    })
    assert response.status_code == 302, response.content[:2000]
    measurement.refresh_from_db()
    assert measurement.size_mm == Decimal("27.5") and measurement.recorded_by.username == "admin"
    latest = measurement.history.first()
    assert latest.history_user.username == "admin"
    history = admin_client_logged_in.get(
        reverse("admin:imaging_lesionmeasurement_history", args=[measurement.pk])).content.decode()
    assert "admin" in history and "20.00" in history and "27.50" in history


def test_admin_validation_error_is_shown_not_raised(admin_client_logged_in, data):
    regimen = data.regimens.first()
    url = reverse("admin:patients_treatmentregimen_change", args=[regimen.pk])
    response = admin_client_logged_in.post(url, {
        "patient": data.pk, "agents": [a.pk for a in regimen.agents.all()], "line_of_therapy": 1,
        "start_date": "2023-05-01", "end_date": "2023-04-01", "end_reason": "", "notes": "",
    })
    assert response.status_code == 200
    assert "End date 2023-04-01 is before the start date 2023-05-01." in response.content.decode()
    regimen.refresh_from_db()
    assert regimen.end_date is None and regimen.start_date == dt.date(2023, 2, 1)
