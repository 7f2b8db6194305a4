"""Issue 9, acceptance: a fault test for the listener. A database write lock, taken by another connection during an
association and held longer than the database timeout the indexer waits for, then released: every instance the
listener acknowledged with Success ends stored (or a duplicate) or quarantined with a reason, none is lost; the
job is never "done" while a file is unaccounted for; once the re-run has accounted for everything, its spool
and manifest are gone.

The lock is real: on SQLite ``BEGIN IMMEDIATE`` on the test database file from a separate ``sqlite3``
connection (the database's one write lock; in WAL mode readers go on, as they do while a long import writes);
on PostgreSQL ``LOCK TABLE imaging_instance IN EXCLUSIVE MODE`` in a separate connection's transaction (every
write to the instance table waits, reads go on: the PostgreSQL form of a write lock. ACCESS EXCLUSIVE would
block the listener's per-instance UID look-up too, so the files sent during the lock would be refused, not
acknowledged, and the test would not test acknowledged files).

The timeout the indexer waits for is the database's (``DATABASES["default"]["OPTIONS"]``: SQLite ``timeout``,
30 s in production; PostgreSQL has none unless ``lock_timeout`` is set); ingest has no timeout of its own. Both
are shrunk to 0.5 s for new connections (each listener association and its indexer thread opens its own), and
the job heartbeat to 0.2 s, so the test takes seconds. The job is then run to its end as production would: the
reconciler re-enqueues it, and the task re-runs it from its manifest.
"""
import datetime as dt
import os
import re
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pydicom
import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.utils import timezone

from imaging.listener import Listener
from imaging.models import IngestJob, Instance, QuarantinedFile
from radimmuno.jobs import reconcile
from tests.imaging.test_ingest_helpers import patient_with_mrn, require_dcmtk, write_study

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("vocabularies")]

DB_TIMEOUT_S = 0.5
HOLD_S = 6 * DB_TIMEOUT_S  # longer than the timeout, several indexing attempts over


class WriteLock:
    """A write lock on the test database, held by a connection of its own until ``release``."""

    def __init__(self):
        self.vendor = connection.vendor
        self._held = None

    def take(self):
        if self.vendor == "sqlite":
            db = sqlite3.connect(connection.settings_dict["NAME"], timeout=30, isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            self._held = db
        elif self.vendor == "postgresql":
            db = connections.create_connection("default")
            db.ensure_connection()
            db.set_autocommit(False)
            with db.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {Instance._meta.db_table} IN EXCLUSIVE MODE")
            self._held = db
        else:
            pytest.fail(f"no write lock for {self.vendor}")

    def release(self):
        db, self._held = self._held, None
        if db is None:
            return
        if self.vendor == "sqlite":
            db.execute("ROLLBACK")
        else:
            db.rollback()
        db.close()


@pytest.fixture
def short_database_timeouts(monkeypatch, settings):
    """Connections opened from now on wait DB_TIMEOUT_S for a lock instead of 30 s (SQLite) or forever (PG)."""
    options = connection.settings_dict.setdefault("OPTIONS", {})
    if connection.vendor == "sqlite":
        monkeypatch.setitem(options, "timeout", DB_TIMEOUT_S)
    else:
        extra = f"-c lock_timeout={int(DB_TIMEOUT_S * 1000)}"
        monkeypatch.setitem(options, "options", f"{options.get('options', '')} {extra}".strip())
    settings.RADIMMUNO_JOB_HEARTBEAT_SECONDS = 0.2
    assert connections.settings["default"] is connection.settings_dict  # what new connections are made from


class LockDuringAssociation:
    """Takes the write lock right after the association's first C-STORE was answered Success, before the second
    one is handled (the listener's thread waits for it), so the lock surely falls inside the association.

    ``release_before``: the C-STORE (counted from 1) whose handling waits until the lock is released, so the
    association surely goes on after the release; None: it may end while the lock is held.
    """

    def __init__(self, monkeypatch, *, release_before=None):
        self.lock, self.release_before = WriteLock(), release_before
        self._first, self._taken, self._released = threading.Event(), threading.Event(), threading.Event()
        self._calls = 0
        real = Listener._on_store
        outer = self

        def on_store(listener, event):
            outer._calls += 1
            if outer._calls == outer.release_before:
                assert outer._released.wait(60), "the test did not release the lock"
            status = real(listener, event)
            if not outer._first.is_set():
                outer._first.set()
                assert outer._taken.wait(30), "the test did not take the lock"
            return status

        monkeypatch.setattr(Listener, "_on_store", on_store)

    def take_when_first_acknowledged(self):
        assert self._first.wait(60), "the listener never answered a C-STORE"
        self.lock.take()
        self._taken.set()
        return time.monotonic()

    def release(self):
        self.lock.release()
        self._released.set()


def _send(listener, paths):
    require_dcmtk()
    return subprocess.Popen(
        ["storescu", "-v", "-nh", "-R", "-aec", "RADIMMUNO", "127.0.0.1", str(listener.port), *map(str, paths)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "TCP_NODELAY": "1"})


def _acknowledged(output, uid_of):
    """SOP Instance UIDs storescu got Success for (its verbose log names each file, then its response)."""
    acknowledged, current = set(), None
    for line in output.splitlines():
        sending = re.search(r"Sending file: (.+)$", line)
        if sending:
            current = sending.group(1).strip()
        elif "Received Store Response (Success)" in line:
            acknowledged.add(uid_of[current])
    return acknowledged


def _spool_files():
    return list((Path(django_settings.MEDIA_ROOT) / "dicom" / ".incoming").glob("*.spool"))


def _assert_every_acknowledged_file_accounted(acknowledged):
    stored = set(Instance.objects.filter(sop_instance_uid__in=acknowledged).values_list("sop_instance_uid",
                                                                                       flat=True))
    quarantined = set(QuarantinedFile.objects.filter(sop_instance_uid__in=acknowledged, status="open")
                      .values_list("sop_instance_uid", flat=True))
    lost = acknowledged - stored - quarantined
    assert not lost, f"{len(lost)} acknowledged file(s) neither stored nor quarantined"


def _run_like_production(job, *, later):
    """The periodic reconciler, some time ``later``: it re-enqueues the job, whose task (in-process in tests)
    re-runs it from its manifest."""
    assert reconcile(now=timezone.now() + later)["imaging.IngestJob"] == 1
    job.refresh_from_db()
    return job


@pytest.fixture
def study(tmp_path):
    study = write_study(tmp_path / "study")
    patient_with_mrn()
    paths = [*study.ct_paths, study.seg]
    study.uid_of = {str(p): pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in paths}
    study.paths = paths
    return study


def test_a_lock_held_past_the_timeout_during_an_association_loses_no_acknowledged_file(
        study, short_database_timeouts, monkeypatch):
    """Taken after the first file, released before the tenth is handled (three batches of three were indexed,
    or tried, meanwhile)."""
    lock = LockDuringAssociation(monkeypatch, release_before=10)
    listener = Listener(ae_title="RADIMMUNO", host="127.0.0.1", port=0, batch_size=3)
    listener.start()
    try:
        sender = _send(listener, study.paths)
        taken_at = lock.take_when_first_acknowledged()
        time.sleep(HOLD_S)  # the indexer's batches wait DB_TIMEOUT_S each, and fail
        stored_during_lock = Instance.objects.count()
        lock.release()
        held_s = time.monotonic() - taken_at
        output, _ = sender.communicate(timeout=120)
        assert listener.wait_idle(60), "the listener did not finish the association"
    finally:
        lock.release()
        listener.stop()
    assert held_s > 2 * DB_TIMEOUT_S
    assert sender.returncode == 0, output
    acknowledged = _acknowledged(output, study.uid_of)
    assert acknowledged, output
    assert stored_during_lock == 0  # nothing could be indexed while the lock was held

    job = IngestJob.objects.get()
    if job.status == "done":  # a job is done only once every file it acknowledged is accounted for
        _assert_every_acknowledged_file_accounted(acknowledged)
    # The database refused the indexer's writes: the run must not call itself done, and keeps its input.
    assert job.status == "pending", (job.status, job.error)
    assert "could be neither indexed nor quarantined" in job.error
    assert _spool_files(), "the spool, the only copy of the unaccounted files, was deleted"

    job = _run_like_production(job, later=IngestJob.retry_after + dt.timedelta(seconds=1))
    assert job.status == "done", job.error
    _assert_every_acknowledged_file_accounted(acknowledged)
    assert Instance.objects.count() == len(study.paths)  # here each one stored (the SEG included)
    assert job.stored + job.duplicates == len(study.paths)
    assert not _spool_files(), "spool files left behind after the job accounted for them"
    from imaging.ingest import job_manifest

    assert not job_manifest(job).exists()
    # ... and the listener never refused a file for the lock: the spool made each one recoverable at once
    assert len(acknowledged) == len(study.paths), output


def test_a_lock_still_held_when_the_association_ends_loses_no_acknowledged_file(
        study, short_database_timeouts, monkeypatch):
    """The longer lock of defect 8: still held when the association is released. On SQLite (the whole database
    locked) the listener cannot even record that its run must be retried: the job stays "running" without a
    heartbeat, and the reconciler re-runs it once the heartbeat is stale. On PostgreSQL (the instance table
    locked) it records it: the job is "pending" with the reason. Never "done" or "failed" (a failed job used to
    be the end of it: nothing re-runs one)."""
    lock = LockDuringAssociation(monkeypatch)
    listener = Listener(ae_title="RADIMMUNO", host="127.0.0.1", port=0, batch_size=3)
    listener.start()
    try:
        sender = _send(listener, study.paths)
        lock.take_when_first_acknowledged()
        output, _ = sender.communicate(timeout=120)
        assert listener.wait_idle(60), "the listener did not finish the association"
        job = IngestJob.objects.get()
        ended_during_lock = job.status
        lock.release()
    finally:
        lock.release()
        listener.stop()
    assert sender.returncode == 0, output
    acknowledged = _acknowledged(output, study.uid_of)
    assert acknowledged, output
    if ended_during_lock == "done":
        _assert_every_acknowledged_file_accounted(acknowledged)
    job.refresh_from_db()
    expected = "running" if connection.vendor == "sqlite" else "pending"
    assert (ended_during_lock, job.status) == (expected, expected), job.error
    assert _spool_files()

    job = _run_like_production(job, later=IngestJob.heartbeat_deadline() + IngestJob.retry_after)
    assert job.status == "done", job.error
    _assert_every_acknowledged_file_accounted(acknowledged)
    assert Instance.objects.count() == len(study.paths)
    assert not _spool_files()
    assert len(acknowledged) == len(study.paths), output
