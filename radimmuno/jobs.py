"""Background-job status rows shared by every app.

The hand-off (STYLE.md): a receiver announces, ``transaction.on_commit`` enqueues, the task re-fetches its
status row by id and calls an idempotent service. Each kind of job is a concrete model inheriting
``BackgroundJob``; the status row is what pages poll and what ``reconcile_jobs`` scans for rows stuck in
pending/running past a deadline (lost between commit and broker, or a worker that died), re-enqueuing them.
"""
import logging
import traceback
from datetime import timedelta

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BackgroundJob(models.Model):
    """Abstract status row of one unit of background work.

    Subclasses set ``task_path`` (dotted path of the Celery task taking the row's pk) and may override
    ``stale_after`` (how long a pending/running row may wait before the reconciler re-enqueues it).
    """

    task_path = ""
    stale_after = timedelta(minutes=15)
    max_attempts = 5

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self):
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    @property
    def duration_s(self):
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    # -- transitions ---------------------------------------------------------------------------------------
    def enqueue(self):
        """Mark pending and send the task once the surrounding transaction commits."""
        type(self).objects.filter(pk=self.pk).update(
            status=JobStatus.PENDING, enqueued_at=timezone.now(), error="", finished_at=None
        )
        pk, task_path = self.pk, self.task_path
        transaction.on_commit(lambda: send_task(task_path, pk))

    def claim(self):
        """Atomically move pending/running → running for this worker; False when already finished."""
        updated = type(self).objects.filter(pk=self.pk, status__in=[JobStatus.PENDING, JobStatus.RUNNING]).update(
            status=JobStatus.RUNNING, started_at=timezone.now(), attempts=models.F("attempts") + 1
        )
        self.refresh_from_db()
        return bool(updated)

    def finish(self, **fields):
        fields.update(status=JobStatus.DONE, finished_at=timezone.now(), error="")
        type(self).objects.filter(pk=self.pk).update(**fields)
        self.refresh_from_db()

    def fail(self, reason):
        type(self).objects.filter(pk=self.pk).update(
            status=JobStatus.FAILED, finished_at=timezone.now(), error=str(reason)[:4000]
        )
        self.refresh_from_db()


def send_task(task_path, pk):
    """Send a task by dotted path. In embedded mode (no broker) Celery runs it in-process."""
    module_path, name = task_path.rsplit(".", 1)
    module = __import__(module_path, fromlist=[name])
    result = getattr(module, name).delay(pk)
    return result.id


def run_job(model, pk, work):
    """The body every job task shares: claim the row, run ``work(job)``, record done/failed.

    Idempotent: a finished row is left alone, so a redelivered message does nothing twice. ``work`` may
    return a dict of fields to store on the row with the done status.
    """
    job = model.objects.filter(pk=pk).first()
    if job is None or not job.claim():
        return "skipped"
    try:
        fields = work(job) or {}
    except JobFailed as exc:
        job.fail(str(exc))
        return "failed"
    except Exception as exc:  # a bug or bad data: recorded on the row, never a stuck job
        logger.exception("%s %s failed", model.__name__, pk)
        job.fail(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
        return "failed"
    job.finish(**fields)
    return "done"


class JobFailed(Exception):
    """A job failed for a reason the user can act on; the message is shown as is."""


def job_models():
    return [m for m in apps.get_models() if issubclass(m, BackgroundJob) and m.task_path]


def reconcile(*, now=None):
    """Re-enqueue rows stuck in pending/running past their deadline. Returns {model label: count}."""
    now = now or timezone.now()
    counts = {}
    for model in job_models():
        cutoff = now - model.stale_after
        stuck = model.objects.filter(
            models.Q(status=JobStatus.PENDING, enqueued_at__lt=cutoff)
            | models.Q(status=JobStatus.PENDING, enqueued_at__isnull=True, updated_at__lt=cutoff)
            | models.Q(status=JobStatus.RUNNING, started_at__lt=cutoff)
        )
        n = 0
        for job in stuck.iterator():
            if job.attempts >= model.max_attempts:
                job.fail(f"Gave up after {job.attempts} attempts (the job kept stalling or its worker died).")
                continue
            with transaction.atomic():
                job.enqueue()
            n += 1
        counts[model._meta.label] = n
    return counts
