"""Response recomputation through a real Celery worker process and Redis (multi-machine mode)."""
import pytest
from django.db import transaction

from analytics.models import ResponseAssessment
from tests.analytics.builders import patient_with_scans
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("vocabularies")]




def test_a_real_worker_computes_the_response(tmp_path):
    with celery_worker(tmp_path) as worker:
        with transaction.atomic():  # one commit: the several change signals collapse into one computation
            patient, *_ = patient_with_scans([(-5, 100), (56, 60)])
        assessment = ResponseAssessment.objects.get(patient=patient)
        done = wait_for(lambda: ResponseAssessment.objects.filter(pk=assessment.pk, status="done").first(),
                        timeout=60, what=f"the worker to finish (log:\n{worker.output()})")
    assert done.recist_bor == "PR" and done.attempts == 1
    assert "analytics.recompute_response" in worker.output() and "succeeded" in worker.output()
