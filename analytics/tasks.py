from celery import shared_task

from radimmuno.jobs import run_job

from .models import ResponseAssessment
from .services import response_recompute


@shared_task(name="analytics.recompute_response", acks_late=True)
def recompute_response(assessment_id):
    """Recompute one response assessment (fetch by id, idempotent service)."""
    return run_job(ResponseAssessment, assessment_id, response_recompute)
