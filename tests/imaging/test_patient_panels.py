"""The imaging panels of the patient page: the measurement grid and the scans, each a page of its own and the htmx
fragment the patient page loads, in a fixed number of queries whatever the patient's size."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imaging.models import ExtractionProfile, FeatureSet, Segment, Segmentation, Series, Study
from tests.factories import LesionFactory, MeasurementFactory, PatientFactory, TimepointFactory

pytestmark = pytest.mark.django_db
ORGANS = ["lung", "liver", "adrenal", "kidney", "bone", "brain"]


def queries(client, url, **headers):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, **headers).status_code == 200
    return len(ctx.captured_queries)


def measured(n_timepoints, n_lesions):
    patient = PatientFactory()
    lesions = [LesionFactory(patient=patient, label=f"T{k + 1}", organ=ORGANS[k]) for k in range(n_lesions)]
    for t in range(n_timepoints):
        tp = TimepointFactory(patient=patient, date=dt.date(2023, 1, 25) + dt.timedelta(days=56 * t),
                              kind="baseline" if t == 0 else "follow-up")
        for k, lesion in enumerate(lesions):
            MeasurementFactory(lesion=lesion, timepoint=tp, size_mm=Decimal(30 - t - k))
    return patient


def scanned(n_studies, *, status="done"):
    """Rows only (no files): a CT study per assessment with a label map of one lesion and its feature set."""
    patient = PatientFactory()
    profile = ExtractionProfile.objects.filter(active=True).first()
    for i in range(n_studies):
        tp = TimepointFactory(patient=patient, date=dt.date(2023, 1, 25) + dt.timedelta(days=56 * i))
        uid = f"1.2.826.0.1.{patient.pk}.{i}"
        study = Study.objects.create(patient=patient, timepoint=tp, study_instance_uid=uid, study_date=tp.date,
                                     study_description="CT chest")
        series = Series.objects.create(study=study, series_instance_uid=f"{uid}.1", modality="CT",
                                       sop_class_uid="1.2.840.10008.5.1.4.1.1.2", instance_count=16,
                                       volume_status="ok", series_description="Chest CT")
        segmentation = Segmentation.objects.create(kind="labelmap", image_series=series, file=f"seg-{uid}.nrrd",
                                                   sha256="0" * 64, label="Lesions")
        lesion = LesionFactory(patient=patient, label=f"L{i + 1}", role="non-target")
        segment = Segment.objects.create(segmentation=segmentation, number=1, label=lesion.label, lesion=lesion,
                                         lesion_mapping="label", mask_file=f"mask-{uid}.nrrd", mask_sha256="0" * 64,
                                         voxel_count=40, volume_mm3=310.0, long_axis_mm=12.34)
        FeatureSet.objects.create(segment=segment, profile=profile, status=status)
    return patient


def test_measurement_grid_full_page_and_fragment(client_logged_in, htmx_headers):
    patient = measured(2, 2)
    url = f"/imaging/patients/{patient.pk}/measurements/"
    full = client_logged_in.get(url).content.decode()
    fragment = client_logged_in.get(url, **htmx_headers).content.decode()
    assert "<html" in full and 'id="measurement-grid"' in full and patient.study_id in full
    assert "<html" not in fragment and 'id="measurement-grid"' in fragment
    for text in ("2023-01-25", "Baseline", "T1", "T2", "30 mm", "29 mm", "28 mm"):
        assert text in fragment, text
    assert "Target sum" not in fragment  # the response engine's result, in the analytics panel


def test_measurement_grid_query_count_does_not_grow(client_logged_in, htmx_headers):
    small, big = measured(2, 1), measured(7, 5)
    n = queries(client_logged_in, f"/imaging/patients/{small.pk}/measurements/", **htmx_headers)
    assert queries(client_logged_in, f"/imaging/patients/{big.pk}/measurements/", **htmx_headers) == n
    assert n <= 11  # session, user, sites, permissions, patient, timepoints, lesions, measurements


def test_scans_full_page_and_fragment(client_logged_in, htmx_headers):
    patient = scanned(2)
    url = f"/imaging/patients/{patient.pk}/scans/"
    full = client_logged_in.get(url).content.decode()
    fragment = client_logged_in.get(url, **htmx_headers).content.decode()
    assert "<html" in full and "<html" not in fragment and 'id="patient-scans"' in fragment
    for text in ("2023-01-25", "CT chest", "Chest CT", "Label map", "L1", "L2", "2 of 2 feature sets extracted",
                 f"/imaging/patients/{patient.pk}/radiomics/"):
        assert text in fragment, text
    assert 'hx-trigger="every 2s"' not in fragment  # nothing extracting: no polling


def test_scans_poll_while_radiomics_are_extracted(client_logged_in, htmx_headers):
    patient = scanned(1, status="pending")
    fragment = client_logged_in.get(f"/imaging/patients/{patient.pk}/scans/", **htmx_headers).content.decode()
    assert 'hx-trigger="every 2s"' in fragment and "extracting 1" in fragment


def test_scans_query_count_does_not_grow(client_logged_in, htmx_headers):
    small, big = scanned(1), scanned(6)
    n = queries(client_logged_in, f"/imaging/patients/{small.pk}/scans/", **htmx_headers)
    assert queries(client_logged_in, f"/imaging/patients/{big.pk}/scans/", **htmx_headers) == n
    assert n <= 11


def test_no_scans_and_no_patient(client_logged_in, htmx_headers):
    patient = PatientFactory()
    assert "No scans stored" in client_logged_in.get(f"/imaging/patients/{patient.pk}/scans/").content.decode()
    assert "No imaging assessments" in client_logged_in.get(
        f"/imaging/patients/{patient.pk}/measurements/").content.decode()
    for panel in ("measurements", "scans"):
        assert client_logged_in.get(f"/imaging/patients/999999/{panel}/", **htmx_headers).status_code == 404


def test_panels_need_a_login(client):
    patient = PatientFactory()
    for panel in ("measurements", "scans"):
        response = client.get(f"/imaging/patients/{patient.pk}/{panel}/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_radiomics_grid_per_lesion_and_scan(client_logged_in, htmx_headers):
    patient = scanned(2, status="failed")
    fragment = client_logged_in.get(f"/imaging/patients/{patient.pk}/radiomics/", **htmx_headers).content.decode()
    assert "<html" not in fragment and 'class="data radiomics-grid"' in fragment
    assert fragment.count("1 failed") == 2 and "2023-01-25" in fragment and "2023-03-22" in fragment
    assert "<details open>" in fragment  # the failures' detail (and retry, for curators) is shown
