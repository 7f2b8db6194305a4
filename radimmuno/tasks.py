from celery import shared_task

from .jobs import reconcile


@shared_task(name="radimmuno.reconcile_jobs")
def reconcile_jobs():
    """Periodic (celery beat): re-enqueue background jobs stuck past their deadline."""
    return reconcile()
