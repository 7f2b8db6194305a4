"""Tasks of the imaging app: fetch the job row by id, call the service."""
from celery import shared_task

from radimmuno.jobs import run_job

from radimmuno.lazy import lazy_import

from .models import FeatureSet, IngestJob
from .services.radiomics import feature_set_compute
from .signals import feature_sets_done

ingest = lazy_import("imaging.ingest")  # pydicom, highdicom, scipy: loaded by the first ingest job


@shared_task(name="imaging.ingest_job_run", acks_late=True)
def ingest_job_run(job_id):
    """Ingest the inputs listed in an IngestJob's manifest (an upload, or a crashed run re-enqueued)."""
    return run_job(IngestJob, job_id, ingest.job_run_manifest)


@shared_task(name="imaging.extract_feature_set", acks_late=True)
def extract_feature_set(feature_set_id):
    """Extract one feature set (segment x profile version x region); idempotent."""
    outcome = run_job(FeatureSet, feature_set_id, feature_set_compute)
    if outcome == "done":
        patient_id = (FeatureSet.objects.filter(pk=feature_set_id)
                      .values_list("segment__segmentation__image_series__study__patient_id", flat=True).first())
        if patient_id is not None:
            feature_sets_done.send(sender=FeatureSet, patient_ids={patient_id})
    return outcome
