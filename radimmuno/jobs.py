"""Background-job status rows shared by every app, and the one state machine every job goes through.

The hand-off (docs/style.md): a receiver announces, ``transaction.on_commit`` enqueues, the task re-fetches its
status row by id and calls an idempotent service. Each kind of job is a concrete model inheriting
``BackgroundJob``; the status row is what pages poll and what ``reconcile_jobs`` scans.

The state machine (pending → running → done/failed) is guarded by two counters so that no request is lost:

- ``generation`` counts requests. ``enqueue`` bumps it; a run records the generation it started from
  (``claimed_generation``). When the run ends and a newer request arrived meanwhile, the row goes back to
  pending and is sent again instead of being marked done with a result computed from old data.
- ``claim_token`` identifies one run. ``finish``, ``fail`` and ``beat`` only write while the row still holds
  the token they claimed, so a run the reconciler has given up on (its worker thought dead) cannot overwrite
  the run that replaced it.

A running job proves it is alive with ``heartbeat_at`` (``run_job`` beats from a side thread; the listener
beats for its association). The reconciler re-enqueues a running job only once its heartbeat is older than
``heartbeat_timeout``, never because it started long ago, and a pending job once it waited ``stale_after``
(a message lost between commit and broker). Every transition is one conditional UPDATE, so two reconcilers
or two deliveries of the same message at once do the work once.
"""
import logging
import threading
import uuid
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class BackgroundJob(models.Model):
    """Abstract status row of one unit of background work.

    Subclasses set ``task_name`` (the registered name of the Celery task taking the row's pk) and may override
    ``stale_after`` (how long a pending row may wait for its message), ``heartbeat_every`` and
    ``heartbeat_timeout`` (a running row whose heartbeat is older than this is taken as dead; by default six
    beats of ``RADIMMUNO_JOB_HEARTBEAT_SECONDS``).
    """

    task_name = ""
    stale_after = timedelta(minutes=15)
    retry_after = timedelta(minutes=2)  # a run that asked to be re-run (JobRetry) waits this long
    heartbeat_every = None  # None: settings.RADIMMUNO_JOB_HEARTBEAT_SECONDS
    heartbeat_timeout = None  # None: six missed beats
    max_attempts = 5

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    generation = models.PositiveIntegerField(default=0, help_text="Requests so far (bumped by every enqueue).")
    claimed_generation = models.PositiveIntegerField(default=0, help_text="The request the last run started from.")
    claim_token = models.CharField(max_length=32, blank=True, help_text="Identifies the run holding the row.")
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @classmethod
    def heartbeat_interval(cls):
        return cls.heartbeat_every or timedelta(seconds=settings.RADIMMUNO_JOB_HEARTBEAT_SECONDS)

    @classmethod
    def heartbeat_deadline(cls):
        """How long a running row may go without a beat before it is taken as dead."""
        return cls.heartbeat_timeout or 6 * cls.heartbeat_interval()

    @property
    def is_finished(self):
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    @property
    def duration_s(self):
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def _rows(self, **conditions):
        return type(self).objects.filter(pk=self.pk, **conditions)

    def _held(self):
        """This row while this run still holds it."""
        return self._rows(status=JobStatus.RUNNING, claim_token=self.claim_token)

    # -- transitions ---------------------------------------------------------------------------------------
    def enqueue(self):
        """Request a (re)run: bump the generation and send the task once the surrounding transaction commits.

        A row that is running stays running (its run goes on); its ``finish`` sees the newer generation and
        sends the job again. Several enqueues of one row in one transaction send one message.
        """
        now = timezone.now()
        self._rows().update(generation=models.F("generation") + 1, enqueued_at=now)
        self._rows(status__in=[JobStatus.DONE, JobStatus.FAILED, JobStatus.PENDING]).update(
            status=JobStatus.PENDING, error="", finished_at=None
        )
        on_commit_send(self.task_name, self.pk)

    def claim(self, *, now=None):
        """Take the row for one run. False when it is finished or another live run holds it.

        A pending row is taken; a running row only when its heartbeat is older than ``heartbeat_timeout``
        (its worker died). The run records its token and the generation it serves.
        """
        now = now or timezone.now()
        token = uuid.uuid4().hex
        dead = now - self.heartbeat_deadline()
        claimable = models.Q(status=JobStatus.PENDING) | (models.Q(status=JobStatus.RUNNING) & _dead(dead))
        updated = type(self).objects.filter(claimable, pk=self.pk).update(
            status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, finished_at=None, claim_token=token,
            claimed_generation=models.F("generation"), attempts=models.F("attempts") + 1,
        )
        self.refresh_from_db()
        return bool(updated)

    def beat(self):
        """Record that this run is alive. False when the row is no longer this run's."""
        return bool(self._held().update(heartbeat_at=timezone.now()))

    def finish(self, **fields):
        """End this run as done, or as pending (sent again) when a newer request arrived during it.

        ``fields`` are stored either way (they are this run's results; a re-run replaces them). Returns the new
        status, or None when the row is no longer this run's (nothing written).
        """
        return self._end(JobStatus.DONE, error="", **fields)

    def fail(self, reason):
        """End this run as failed, or as pending when a newer request may succeed where this one failed."""
        return self._end(JobStatus.FAILED, error=str(reason)[:4000])

    def retry_later(self, reason):
        """End this run as pending with its reason: the reconciler re-runs it after ``retry_after``.

        For work that could not be completed for a passing reason (a database lock, a share not mounted), whose
        inputs are kept. Not sent at once: in-process tasks would retry in a tight loop.
        """
        held = self._held().update(
            status=JobStatus.PENDING, claim_token="", enqueued_at=timezone.now(), finished_at=None,
            error=str(reason)[:4000])
        self.refresh_from_db()
        return JobStatus.PENDING if held else None

    def _end(self, status, **fields):
        mine, ended = self._held(), None
        with transaction.atomic():
            if mine.filter(generation=self.claimed_generation).update(
                    status=status, finished_at=timezone.now(), **fields):
                ended = status
            elif mine.update(status=JobStatus.PENDING, finished_at=None, claim_token="", **fields):
                on_commit_send(self.task_name, self.pk)
                ended = JobStatus.PENDING
            else:
                logger.warning("%s %s: run %s no longer holds the row; its end was not recorded",
                               type(self).__name__, self.pk, self.claim_token)
        self.refresh_from_db()
        return ended


class _Send:
    """An on-commit callback sending one job's task; equal callbacks are registered once per transaction."""

    def __init__(self, task_name, pk):
        self.task_name, self.pk = task_name, pk
        self.sent = False

    def __eq__(self, other):
        return isinstance(other, _Send) and (other.task_name, other.pk) == (self.task_name, self.pk)

    def __hash__(self):
        return hash((self.task_name, self.pk))

    def __call__(self):
        self.sent = True
        send_task(self.task_name, self.pk)


def on_commit_send(task_name, pk):
    """Send the task after commit, once per row and transaction however many times it is asked for.

    Django drops the callbacks of a rolled-back (savepoint) block from ``run_on_commit``, so looking there is
    exact where a side set would go stale.
    """
    send = _Send(task_name, pk)
    # (``sent``: test cases run callbacks without committing, so ran ones stay in the list.)
    if connection.in_atomic_block and any(entry[1] == send and not entry[1].sent for entry in connection.run_on_commit):
        return
    transaction.on_commit(send)


def send_task(task_name, pk):
    """Send a task by its registered name. In embedded mode (no broker) Celery runs it in-process."""
    from celery import current_app

    if task_name not in current_app.tasks:
        current_app.loader.import_default_modules()  # the apps' tasks modules (autodiscovery is lazy)
    return current_app.tasks[task_name].delay(pk).id


class Heartbeat:
    """Beats for a run from a side thread every ``job.heartbeat_every`` until stopped (a context manager)."""

    def __init__(self, job, every=None):
        self.job = job
        self.every = (every or job.heartbeat_interval()).total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job.pk}", daemon=True)

    def _run(self):
        from django.db import connections

        try:
            while not self._stop.wait(self.every):
                try:
                    if not self.job.beat():
                        return
                except Exception:  # noqa: BLE001 - a missed beat is retried; the run itself goes on
                    logger.warning("heartbeat of %s %s failed", type(self.job).__name__, self.job.pk, exc_info=True)
        finally:
            connections.close_all()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run_job(model, pk, work):
    """The body every job task shares: claim the row, run ``work(job)`` while beating, record the end.

    Idempotent: a finished row, or one a live run holds, is left alone, so a redelivered message does
    nothing twice. ``work`` may return a dict of fields to store on the row with the done status.
    """
    job = model.objects.filter(pk=pk).first()
    if job is None or not job.claim():
        return "skipped"
    try:
        with Heartbeat(job):
            fields = work(job) or {}
    except JobRetry as exc:
        job.retry_later(str(exc))
        return "retry"
    except JobFailed as exc:
        job.fail(str(exc))
        return "failed"
    except Exception as exc:  # a bug or bad data: recorded on the row, never a stuck job
        logger.exception("%s %s failed", model.__name__, pk)  # the traceback: the server log only
        job.fail(unexpected_error_text(job, exc))
        return "failed"
    ended = job.finish(**fields)
    return "done" if ended == JobStatus.DONE else "requeued" if ended == JobStatus.PENDING else "superseded"


def unexpected_error_text(job, exc):
    """What the user reads when a job stopped on an error nobody foresaw: a sentence with a reference to the
    server log, never the exception's text or a traceback (they may hold paths or patient data)."""
    return (f"The job stopped on an unexpected error ({type(exc).__name__}) and did not finish; nothing it was "
            f"writing was kept. Try again; if it fails again, ask an administrator to look up "
            f"\"{type(job).__name__} {job.pk} failed\" in the server log.")


class JobFailed(Exception):
    """A job failed for a reason the user can act on; the message is shown as is."""


class JobRetry(Exception):
    """A run could not finish for a passing reason and its inputs are kept: run the job again later."""


def _dead(cutoff):
    """Running rows whose run has not shown a sign of life since ``cutoff`` (rows from before heartbeats
    count from their start)."""
    return models.Q(heartbeat_at__lt=cutoff) | models.Q(heartbeat_at__isnull=True, started_at__lt=cutoff) | models.Q(
        heartbeat_at__isnull=True, started_at__isnull=True)


def job_models():
    return [m for m in apps.get_models() if issubclass(m, BackgroundJob) and m.task_name]


def reconcile(*, now=None):
    """Re-enqueue jobs that are really stuck. Returns {model label: count re-sent}.

    Pending rows whose message has waited past ``stale_after``, and running rows whose heartbeat is older
    than ``heartbeat_timeout``. Each row is taken with one conditional UPDATE, so of two reconcilers running
    at once only one re-sends a given row. A row that stalled ``max_attempts`` times is failed with a reason.
    """
    now = now or timezone.now()
    counts = {}
    for model in job_models():
        waited = now - model.stale_after
        retry = now - model.retry_after
        dead = now - model.heartbeat_deadline()
        stuck = (
            models.Q(status=JobStatus.PENDING, enqueued_at__lt=waited)
            | (models.Q(status=JobStatus.PENDING, enqueued_at__lt=retry) & ~models.Q(error=""))
            | models.Q(status=JobStatus.PENDING, enqueued_at__isnull=True, updated_at__lt=waited)
            | (models.Q(status=JobStatus.RUNNING) & _dead(dead))
        )
        n = 0
        for pk, attempts in model.objects.filter(stuck).values_list("pk", "attempts"):
            rows = model.objects.filter(stuck, pk=pk)
            if attempts >= model.max_attempts:
                rows.update(status=JobStatus.FAILED, finished_at=now, claim_token="", error=(
                    f"Gave up after {attempts} attempts (the job kept stalling or its worker died)."))
                continue
            with transaction.atomic():
                if rows.update(status=JobStatus.PENDING, enqueued_at=now, claim_token=""):
                    on_commit_send(model.task_name, pk)
                    n += 1
        counts[model._meta.label] = n
    return counts
