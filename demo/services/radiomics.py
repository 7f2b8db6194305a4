"""Radiomics of the demo imaging: requested with the demo scans, extracted now or out of the way of the first page.

Extracting every demo mask with every active profile takes a minute or more, so ``make run`` (``demo_setup``)
stores the feature sets as pending rows and extracts them in a background process running the documented
``manage.py extract_features --missing-only``, its output in a log file. The rows go pending → running →
done/failed as results arrive, which the patient page's scans panel and the radiomics status page show.
"""
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from imaging.choices import IngestSource
from imaging.models import FeatureSet, Segment
from imaging.services.radiomics import feature_sets_extract_batch, feature_sets_request
from radimmuno.jobs import JobStatus

#: What the background process runs (and what a user runs by hand to extract what is still pending).
EXTRACT_COMMAND = ("extract_features", "--missing-only")
#: The background extraction yields the processor to the web server: the first pages stay quick.
BACKGROUND_NICENESS = 10


def demo_radiomics_request(job):
    """Create the feature sets of every lesion mask ``job`` stored (pending rows, nothing enqueued).

    Returns the feature sets not yet done.
    """
    segments = Segment.objects.filter(segmentation__job=job).select_related("segmentation__image_series")
    wanted = [fs.pk for segment in segments for fs in feature_sets_request(segment=segment, enqueue=False)]
    return list(FeatureSet.objects.filter(pk__in=wanted).exclude(status=JobStatus.DONE).select_related(
        "segment__segmentation__image_series", "profile"))


def demo_radiomics_extract(job, *, workers=None):
    """Request and extract the feature sets of ``job``'s masks now, in one batch over every core.

    Returns (done, failed) counts.
    """
    todo = demo_radiomics_request(job)
    return feature_sets_extract_batch(todo, workers=workers) if todo else (0, 0)


def demo_radiomics_unfinished():
    """How many feature sets of the demo imaging are still pending or running."""
    return FeatureSet.objects.filter(
        segment__segmentation__job__source=IngestSource.DEMO, status__in=[JobStatus.PENDING, JobStatus.RUNNING]
    ).count()


def demo_radiomics_log_path():
    return Path(settings.MEDIA_ROOT) / "logs" / "demo-radiomics.log"


def _pid_path():
    return demo_radiomics_log_path().with_suffix(".pid")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def demo_radiomics_running():
    """The pid of the background extraction started by ``demo_radiomics_start`` while it runs, else None."""
    try:
        pid = int(_pid_path().read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _lower_priority():  # runs in the child between fork and exec
    os.nice(BACKGROUND_NICENESS)


def demo_radiomics_start():
    """Start the extraction of the pending feature sets in a background process, unless one already runs.

    The process shares this one's settings and database (its environment) and appends its output to
    ``demo_radiomics_log_path()``. It stays in the caller's process group, so stopping ``make run`` with
    Ctrl-C stops it too; the next ``demo_setup`` starts it again for whatever is still pending.
    Returns (pid, started): started is False when an earlier background extraction is still running.
    """
    running = demo_radiomics_running()
    if running:
        return running, False
    log_path = demo_radiomics_log_path()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    manage = Path(settings.BASE_DIR) / "manage.py"
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n{dt.datetime.now().isoformat(timespec='seconds')} demo_setup: extracting "
                  f"{demo_radiomics_unfinished()} demo feature sets: {' '.join(EXTRACT_COMMAND)}\n")
        log.flush()
        process = subprocess.Popen(
            [sys.executable, str(manage), *EXTRACT_COMMAND], cwd=settings.BASE_DIR, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
            preexec_fn=_lower_priority if hasattr(os, "nice") else None,  # this process runs no threads yet
        )
    _pid_path().write_text(str(process.pid))
    return process.pid, True
