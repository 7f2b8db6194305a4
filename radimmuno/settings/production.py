"""Production: PostgreSQL via DATABASE_URL, secret key from the environment, hardened HTTP.

Refuses to start when misconfigured rather than running insecurely.
"""
import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import DATABASES, MIDDLEWARE, RADIMMUNO_AUTO_CREATE_PATIENTS, RADIMMUNO_PSEUDONYM_KEY, env_bool

DEBUG = env_bool("DJANGO_DEBUG", False)
if DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production settings.")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a random string of at least 50 characters in production "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )
if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured("DATABASE_URL must point at the production database (postgres://...).")
if not os.environ.get("DJANGO_ALLOWED_HOSTS"):
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the host names the app is served under.")
# Auto-created patients' study IDs are HMAC-SHA256(key, MRN): without a secret key an MRN is found from its
# study ID by trying every MRN (seconds). Set it once and keep it (a new key only changes new patients' IDs).
if (RADIMMUNO_AUTO_CREATE_PATIENTS or RADIMMUNO_PSEUDONYM_KEY) and len(RADIMMUNO_PSEUDONYM_KEY) < 32:
    raise ImproperlyConfigured(
        "RADIMMUNO_PSEUDONYM_KEY must be set to a random string of at least 32 characters when "
        "RADIMMUNO_AUTO_CREATE_PATIENTS is on (python -c 'import secrets; print(secrets.token_urlsafe(48))')."
    )

DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DATABASE_CONN_MAX_AGE", "60"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# WhiteNoise serves the collected static files (htmx, CSS, API docs assets) straight from gunicorn.
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
