"""Tasks of the imaging app: fetch the job row by id, call the service."""
from celery import shared_task

from radimmuno.jobs import run_job

from .ingest.jobs import job_run_manifest
from .models import FeatureSet, IngestJob
from .services.radiomics import feature_set_compute


@shared_task(name="imaging.ingest_job_run", acks_late=True)
def ingest_job_run(job_id):
    """Ingest the inputs listed in an IngestJob's manifest (an upload, or a crashed run re-enqueued)."""
    return run_job(IngestJob, job_id, job_run_manifest)


@shared_task(name="imaging.extract_feature_set", acks_late=True)
def extract_feature_set(feature_set_id):
    """Extract one feature set (segment x profile version x region); idempotent."""
    return run_job(FeatureSet, feature_set_id, feature_set_compute)
