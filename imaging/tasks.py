"""Tasks of the imaging app: fetch the job row by id, call the service."""
from celery import shared_task

from radimmuno.jobs import run_job


@shared_task(name="imaging.ingest_job_run", acks_late=True)
def ingest_job_run(job_id):
    """Ingest the inputs listed in an IngestJob's manifest (an upload, or a crashed run re-enqueued)."""
    from .ingest import job_run_manifest
    from .models import IngestJob

    return run_job(IngestJob, job_id, job_run_manifest)
