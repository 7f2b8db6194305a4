"""Test settings: fast hashing, in-memory media root per run, eager tasks unless a test opts in to a broker."""
import hashlib
import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F401,F403
from .base import DATABASES

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"
RADIMMUNO_PSEUDONYM_KEY = hashlib.sha256(f"pseudonyms:{SECRET_KEY}".encode()).hexdigest()
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(os.environ.get("RADIMMUNO_TEST_MEDIA_ROOT") or tempfile.mkdtemp(prefix="radimmuno-test-media-"))
# Tests run tasks in-process, except the real-worker tests (tests/worker.py), which point this process and a
# `celery worker` subprocess at Redis. Such a subprocess reads this file with CELERY_BROKER_URL set.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# SQLite test database in a file (not in memory), so a worker subprocess can open the same database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get(
        "RADIMMUNO_TEST_SQLITE", str(Path(tempfile.gettempdir()) / f"radimmuno-test-{os.getpid()}.sqlite3"))}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
# Tests that are not about radiomics should not pay for feature extraction; radiomics tests switch it on.
RADIMMUNO_AUTO_EXTRACT = os.environ.get("RADIMMUNO_AUTO_EXTRACT", "") == "1"
