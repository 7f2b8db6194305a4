"""Local development: SQLite, DEBUG on, in-process tasks. What `make run` uses."""
from .base import *  # noqa: F401,F403
from .base import SECRET_KEY

DEBUG = True
SECRET_KEY = SECRET_KEY or "django-insecure-local-development-only"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
