"""Local development: SQLite, DEBUG on, in-process tasks. What `make run` uses."""
import hashlib

from .base import *  # noqa: F401,F403
from .base import RADIMMUNO_PSEUDONYM_KEY, SECRET_KEY

DEBUG = True
SECRET_KEY = SECRET_KEY or "django-insecure-local-development-only"
# The key of auto-created patients' study IDs: the environment's, else one derived from the secret key.
RADIMMUNO_PSEUDONYM_KEY = RADIMMUNO_PSEUDONYM_KEY or hashlib.sha256(f"pseudonyms:{SECRET_KEY}".encode()).hexdigest()
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
