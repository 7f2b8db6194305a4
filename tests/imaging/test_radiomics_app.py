"""Radiomics pages and admin, and extraction by a real Celery worker process through Redis."""
import io
import time

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from imaging.models import ExtractionProfile, FeatureSet, Segment
from imaging.services.radiomics import profile_save
from radimmuno.jobs import reconcile
from tests.imaging.test_ingest_helpers import patient_with_mrn, write_study
from tests.worker import celery_worker, wait_for

SMALL = {"setting": {"binWidth": 25, "label": 1}, "imageType": {"Original": {}},
         "featureClass": {"firstorder": [], "shape": []}}
# Slow enough (resampling to 0.5 mm, LoG and wavelet) that a worker can be killed in the middle of it.
SLOW = {"setting": {"binWidth": 25, "label": 1, "resampledPixelSpacing": [0.5, 0.5, 0.5], "padDistance": 10},
        "imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0, 3.0]}, "Wavelet": {}},
        "featureClass": {"firstorder": [], "glcm": [], "glrlm": []}}


def import_study(tmp_path, **options):
    study = write_study(tmp_path / "study")
    patient = patient_with_mrn()
    call_command("import_dicom", str(study.ct_dir), str(study.seg), no_progress=True, stdout=io.StringIO(), **options)
    return patient


@pytest.fixture
def extracting(settings, db):
    settings.RADIMMUNO_AUTO_EXTRACT = True
    ExtractionProfile.objects.update(active=False)


@pytest.mark.django_db
def test_status_page_full_and_htmx_and_retry(client, curator, htmx_headers, tmp_path, extracting,
                                             django_capture_on_commit_callbacks):
    profile_save(name="ct-small", params=SMALL, modality="CT", rings_mm=[[0, 2]])  # 2 mm < 4 mm voxels: fails
    with django_capture_on_commit_callbacks(execute=True):
        patient = import_study(tmp_path)
    client.force_login(curator)
    url = reverse("imaging:patient-radiomics", args=[patient.pk])
    full = client.get(url).content.decode()
    fragment = client.get(url, **htmx_headers).content.decode()
    assert "<html" in full and "<html" not in fragment
    assert "T1" in fragment and "ct-small v1" in fragment and "Done" in fragment and "Failed" in fragment
    assert "mask has no voxels" in fragment and 'hx-trigger="every 2s"' not in fragment
    failed = FeatureSet.objects.filter(status="failed").first()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"feature_set": failed.pk}, **htmx_headers)
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.status == "failed" and failed.attempts == 2  # ran again, same readable reason
    FeatureSet.objects.filter(pk=failed.pk).update(status="pending")
    assert 'hx-trigger="every 2s"' in client.get(url, **htmx_headers).content.decode()


@pytest.mark.django_db
def test_profile_admin_edit_creates_a_new_version(admin_client_logged_in):
    profile, _ = profile_save(name="ct-small", params=SMALL, modality="CT")
    url = reverse("admin:imaging_extractionprofile_change", args=[profile.pk])
    page = admin_client_logged_in.get(url).content.decode()
    assert "binWidth: 25" in page
    response = admin_client_logged_in.post(url, {
        "name": "ct-small", "modality": "CT", "rings_mm": "[]", "description": "", "active": "on",
        "yaml": "setting:\n  binWidth: 10\nimageType:\n  Original: {}\nfeatureClass:\n  firstorder: []\n"})
    assert response.status_code == 302
    assert list(ExtractionProfile.objects.filter(name="ct-small").values_list("version", "active")) == [
        (2, True), (1, False)]
    bad = admin_client_logged_in.post(url, {"name": "ct-small", "modality": "CT", "rings_mm": "[]",
                                            "yaml": "setting:\n  binWidth: -3\n"})
    assert bad.status_code == 200 and "binWidth" in bad.content.decode()
    assert admin_client_logged_in.get(reverse("admin:imaging_featureset_changelist")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_real_worker_extracts_and_survives_being_killed_mid_task(tmp_path, settings, vocabularies):
    settings.RADIMMUNO_AUTO_EXTRACT = True
    ExtractionProfile.objects.update(active=False)
    profile, _ = profile_save(name="ct-slow", params=SLOW, modality="CT")
    settings.RADIMMUNO_JOB_HEARTBEAT_SECONDS = 0.5  # the test's reconciler judges by the same clock
    with celery_worker(tmp_path, visibility_timeout=2, heartbeat_s=0.5) as worker:
        with transaction.atomic():
            import_study(tmp_path)  # a segmentation saved: nothing else is asked for
        first = wait_for(lambda: FeatureSet.objects.filter(profile=profile, status="running").first(),
                         timeout=60, interval=0.05, what=f"a running extraction\n{worker.output()}")
        worker.kill()  # the machine dies in the middle of the extraction
        assert FeatureSet.objects.get(pk=first.pk).status == "running"
        time.sleep(3)  # longer than the visibility timeout: the broker gives the message back ...
        worker.start()  # ... which a new worker takes up once the dead run's heartbeat is 3 s old (6 beats)

        def all_done():
            reconcile()  # the periodic reconciler: re-sends a row whose message the new worker skipped early
            return not FeatureSet.objects.filter(profile=profile).exclude(status="done").exists()

        wait_for(all_done, timeout=120, interval=1, what=f"all extractions done\n{worker.output()}")
    sets = FeatureSet.objects.filter(profile=profile)
    assert sets.count() == 2  # T1 and N1, one row each: the retry replaced, never duplicated
    again = sets.get(pk=first.pk)
    assert again.attempts == 2 and again.feature_count > 100 and again.error == ""
    assert again.provenance["params_hash"] == profile.params_hash


@pytest.mark.django_db
def test_extract_features_command_batches_with_progress(tmp_path, settings, capsys):
    settings.RADIMMUNO_AUTO_EXTRACT = False  # masks stored without extraction, then one batch command
    ExtractionProfile.objects.update(active=False)
    profile_save(name="ct-small", params=SMALL, modality="CT", rings_mm=[[0, 5]])
    patient = import_study(tmp_path)
    assert not FeatureSet.objects.exists()
    out = io.StringIO()
    call_command("extract_features", "--profile", "ct-small", "--patient", patient.study_id, "--workers", "2",
                 stdout=out)
    assert "4 feature sets done, 0 failed." in out.getvalue()  # 2 lesions x (lesion, ring 0-5 mm)
    assert "extracting" in capsys.readouterr().err  # the progress bar
    assert set(FeatureSet.objects.values_list("status", flat=True)) == {"done"}
    out = io.StringIO()
    call_command("extract_features", "--profile", "ct-small", "--missing-only", stdout=out)
    assert "Nothing to extract." in out.getvalue()
    with pytest.raises(Exception, match="No extraction profile named 'nope'"):
        call_command("extract_features", "--profile", "nope", stdout=io.StringIO())
    from imaging.services import external_profile_for_import

    external_profile_for_import(name="lifex-import", description="LIFEx")
    with pytest.raises(Exception, match="'lifex-import' is an external profile: its features are imported"):
        call_command("extract_features", "--profile", "lifex-import", stdout=io.StringIO())


@pytest.mark.django_db
def test_import_without_extraction_then_extract_one_segment_or_series(tmp_path, settings, capsys):
    settings.RADIMMUNO_AUTO_EXTRACT = True  # on, but this import asks to leave extraction for later
    ExtractionProfile.objects.update(active=False)
    profile_save(name="ct-small", params=SMALL, modality="CT")
    import_study(tmp_path, no_extract=True)
    assert not FeatureSet.objects.exists()
    first, second = Segment.objects.order_by("number")
    out = io.StringIO()
    call_command("extract_features", "--profile", "ct-small", "--segment", str(first.pk), stdout=out)
    assert "1 feature sets done, 0 failed." in out.getvalue()
    assert list(FeatureSet.objects.values_list("segment", flat=True)) == [first.pk]
    uid = first.segmentation.image_series.series_instance_uid
    out = io.StringIO()
    call_command("extract_features", "--profile", "ct-small", "--series", uid, "--missing-only", stdout=out)
    assert "1 feature sets done, 0 failed." in out.getvalue()  # the other segment of that series
    assert FeatureSet.objects.filter(segment=second, status="done").exists()
    with pytest.raises(Exception, match="No segment with id 999999"):
        call_command("extract_features", "--segment", "999999", stdout=io.StringIO())
    with pytest.raises(Exception, match="No segmentations of series 1.2.3"):
        call_command("extract_features", "--series", "1.2.3", stdout=io.StringIO())
