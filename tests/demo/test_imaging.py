"""Demo imaging: a synthetic CT per assessment with lesions sized as measured, and a SEG of them, ingested."""
import io

import numpy as np
import pytest
from django.core.management import call_command

from imaging import selectors
from imaging.models import FeatureSet, IngestJob, LesionMeasurement, QuarantinedFile, Segment, Series, Timepoint
from patients.models import Patient

pytestmark = pytest.mark.django_db


def test_seed_demo_generates_imaging_for_the_first_patients():
    call_command("seed_demo", patients=6, seed=5, imaging_patients=1, stdout=io.StringIO())
    job = IngestJob.objects.get(source="demo")
    assert job.status == "done" and not QuarantinedFile.objects.exists()
    assert job.claim_token and job.claimed_generation == job.generation and job.attempts == 1  # a claimed run
    imaged = Patient.objects.filter(studies__isnull=False).distinct()
    assert imaged.count() == 1
    patient = imaged.get()
    # one CT per assessment, attached to that assessment
    timepoints = Timepoint.objects.filter(patient=patient)
    ct = Series.objects.filter(modality="CT", study__patient=patient)
    assert ct.count() == timepoints.count() and all(s.volume_status == "ok" for s in ct)
    assert {s.study.timepoint_id for s in ct} == set(timepoints.values_list("pk", flat=True))
    volume = selectors.series_volume(ct.first())
    assert volume.array.min() <= -900 and volume.array.max() >= 300  # air, lung, soft tissue, bone
    # a segment per measured lesion, mapped by its label, sized as the recorded measurement
    segments = Segment.objects.filter(segmentation__image_series__study__patient=patient).select_related("lesion")
    assert segments.exists() and all(s.lesion is not None and s.lesion_mapping == "label" for s in segments)
    for segment in segments:
        recorded = LesionMeasurement.objects.get(lesion=segment.lesion, timepoint=segment.timepoint)
        if recorded.size_mm and recorded.size_mm >= 10:
            # the mask is digitised on 3.5 mm pixels: within about one pixel of the size it was drawn with
            assert abs(float(segment.proposed_size_mm) - float(recorded.size_mm)) <= 3.5 * 1.5, (
                segment.label, segment.lesion.nodal, recorded.size_mm, segment.proposed_size_mm)
    assert np.isfinite([s.volume_mm3 for s in segments]).all()


def test_imaging_can_be_switched_off():
    call_command("seed_demo", patients=3, seed=5, imaging_patients=0, stdout=io.StringIO())
    assert not Series.objects.exists()


# -- the demo imaging's radiomics: now, or later (pending rows a command extracts) --------------------------------
SMALL = {"setting": {"binWidth": 25, "label": 1}, "imageType": {"Original": {}}, "featureClass": {"firstorder": []}}


@pytest.fixture
def small_profile(settings):
    from imaging.models import ExtractionProfile
    from imaging.services import profile_save

    settings.RADIMMUNO_AUTO_EXTRACT = True
    ExtractionProfile.objects.update(active=False)
    return profile_save(name="ct-small", modality="CT", params=SMALL)[0]


def test_radiomics_now_extracts_every_demo_mask_before_returning(small_profile):
    out = io.StringIO()
    call_command("seed_demo", patients=3, seed=5, imaging_patients=1, stdout=out)
    sets = FeatureSet.objects.all()
    n_segments = Segment.objects.count()
    assert n_segments and sets.count() == n_segments  # one region (the lesion) per mask
    done, failed = sets.filter(status="done").count(), sets.filter(status="failed").count()
    assert done and done + failed == n_segments  # finished, each one: none left pending
    # a mask of a couple of voxels (a lesion drawn at the slice's edge) fails with its reason, the others are done
    assert all(fs.error for fs in sets.filter(status="failed"))
    assert f"Radiomics: {done} feature sets extracted, {failed} failed" in out.getvalue()


def test_radiomics_later_leaves_pending_rows_and_names_the_command(small_profile):
    out = io.StringIO()
    call_command("seed_demo", patients=3, seed=5, imaging_patients=1, radiomics="later", stdout=out)
    n_segments = Segment.objects.count()
    assert set(FeatureSet.objects.values_list("status", flat=True)) == {"pending"}
    assert FeatureSet.objects.count() == n_segments
    assert f"Radiomics: {n_segments} feature sets pending (`manage.py extract_features --missing-only`" in (
        out.getvalue())
    call_command("extract_features", "--missing-only", stdout=io.StringIO(), stderr=io.StringIO())
    assert set(FeatureSet.objects.values_list("status", flat=True)) <= {"done", "failed"}
    assert FeatureSet.objects.filter(status="done").exists()
