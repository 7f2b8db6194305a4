"""Run a real `celery worker` process against the Redis server for integration tests.

The test process and the worker share the test database (a file for SQLite, the test database on
PostgreSQL) and the media root; tasks go through Redis on a queue private to the test.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("RADIMMUNO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require_redis():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        message = f"Redis is not reachable at {REDIS_URL} ({exc}); start redis-server or set RADIMMUNO_TEST_REDIS_URL."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def database_url():
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, queue, log_path, visibility_timeout, heartbeat_s):
        self.queue, self.log_path, self.visibility_timeout = queue, log_path, visibility_timeout
        self.heartbeat_s = heartbeat_s
        self.process = self.log = None

    def _close_log(self):
        if self.log is not None:
            self.log.close()
            self.log = None

    def start(self, timeout=60):
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="radimmuno.settings.test", CELERY_BROKER_URL=REDIS_URL,
                   CELERY_QUEUE=self.queue, DATABASE_URL=database_url(), CELERY_VISIBILITY_TIMEOUT=str(
                       self.visibility_timeout), RADIMMUNO_TEST_MEDIA_ROOT=str(settings.MEDIA_ROOT),
                   RADIMMUNO_JOB_HEARTBEAT_SECONDS=str(self.heartbeat_s))
        self._close_log()  # a restarted worker appends to the same log
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the worker process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "radimmuno", "worker", "-Q", self.queue, "--concurrency", "1",
             "--pool", "prefork", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"{self.queue}-{uuid.uuid4().hex[:6]}@%h"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"ready." in Path(self.log_path).read_bytes():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"celery worker did not start:\n{self.output()}")

    def output(self):
        return Path(self.log_path).read_text(errors="replace")[-4000:]

    def kill(self):
        """SIGKILL the whole worker (main process and pool children): a machine dying mid-task."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()


def _reset_pool(app):
    """Forget the app's cached pools so the next send uses the current broker settings.

    The pools themselves are kombu's, shared per broker URL: closing them would break later in-process sends.
    """
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker_mode(queue):
    """Make this process send tasks to Redis (not run them eagerly) on ``queue``."""
    from radimmuno.celery import app

    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue",
                                      "broker_transport_options")}
    app.conf.update(task_always_eager=False, broker_url=REDIS_URL, task_default_queue=queue)
    _reset_pool(app)
    try:
        yield app
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
        app.conf.update(**saved)
        _reset_pool(app)


@contextmanager
def celery_worker(tmp_path, *, visibility_timeout=3600, heartbeat_s=None):
    require_redis()
    queue = f"radimmuno-test-{uuid.uuid4().hex[:10]}"
    worker = Worker(queue, tmp_path / "worker.log", visibility_timeout,
                    heartbeat_s or settings.RADIMMUNO_JOB_HEARTBEAT_SECONDS)
    with broker_mode(queue):
        try:
            yield worker.start()
        finally:
            worker.stop()


def wait_for(predicate, timeout=60, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
