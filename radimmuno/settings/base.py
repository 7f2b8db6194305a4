"""Settings shared by every environment. Environment files (local, production, test) import from here."""
import datetime as dt
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "simple_history",
    "axes",
    "radimmuno",
    "accounts",
    "patients",
    "imaging",
    "analytics",
    "demo",
    "exports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "radimmuno.middleware.SessionTimeoutMiddleware",  # after messages: the login page says why
    "radimmuno.middleware.NoStoreMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout answer
]

ROOT_URLCONF = "radimmuno.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "radimmuno.wsgi.application"

# SQLite is the embedded default; DATABASE_URL (e.g. postgres://user@host/db) switches to PostgreSQL.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, task workers) may write: wait for locks, take the write lock when a transaction
    # starts (no read→write upgrade deadlocks), and let readers proceed during a write (WAL).
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        timeout=30, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )

# Repeated wrong passwords (the login page, the admin's, the API's token endpoint) lock that username from that
# address for a while (django-axes); the answer says so and for how long (accounts.views.locked_out).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("RADIMMUNO_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("RADIMMUNO_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",  # first: a refusal is 401 with WWW-Authenticate
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["radimmuno.api.RolePermissions"],  # the role's model permissions
    # the user's sites first (accounts.access), then the shared FilterSets
    "DEFAULT_FILTER_BACKENDS": ["radimmuno.api.SiteScopeFilter", "django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Sessions end after this long without a request, and this long after login whatever (radimmuno.middleware).
RADIMMUNO_SESSION_IDLE_MINUTES = int(os.environ.get("RADIMMUNO_SESSION_IDLE_MINUTES", "30"))
RADIMMUNO_SESSION_MAX_HOURS = int(os.environ.get("RADIMMUNO_SESSION_MAX_HOURS", "12"))
SESSION_COOKIE_AGE = RADIMMUNO_SESSION_MAX_HOURS * 3600
RADIMMUNO_API_TOKEN_DAYS = int(os.environ.get("RADIMMUNO_API_TOKEN_DAYS", "90"))  # a new token's default validity
RADIMMUNO_API_TOKEN_MAX_DAYS = int(os.environ.get("RADIMMUNO_API_TOKEN_MAX_DAYS", "365"))

SPECTACULAR_SETTINGS = {
    "TITLE": "radimmuno API",
    "DESCRIPTION": "Longitudinal tracking of patients on immune checkpoint inhibitors: "
    "patients, treatment, imaging, radiomics and response.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],  # the schema and docs behind login
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {  # several models have a "source" field with their own choices
        "BiomarkerSourceEnum": "patients.choices.BiomarkerSource",
        "MeasurementSourceEnum": "imaging.choices.MeasurementSource",
        "IngestSourceEnum": "imaging.choices.IngestSource",
    },
}

# Background work. No broker: tasks run in-process. With CELERY_BROKER_URL: real workers.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "radimmuno")
# A message a worker took but never acknowledged (the worker died) is redelivered after this many seconds;
# keep it longer than the longest task. The reconciler also re-enqueues rows stuck past their deadline.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Data under test/bench: the pyradiomics reference volumes shipped next to the project.
RADIMMUNO_SHARED_DATA = Path(os.environ.get("RADIMMUNO_SHARED_DATA", BASE_DIR.parent / "shared" / "data"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Imaging libraries narrate every file at INFO (a first `make run` printed ~2,200 lines); their warnings
        # and errors still show. RADIMMUNO_LIBRARY_LOG_LEVEL=INFO brings the narration back when debugging.
        **{name: {"level": os.environ.get("RADIMMUNO_LIBRARY_LOG_LEVEL", "WARNING")}
           for name in ("highdicom", "radiomics", "pynetdicom", "pydicom", "celery.app.trace")},
    },
}

CELERY_BEAT_SCHEDULE = {
    "reconcile-jobs": {"task": "radimmuno.reconcile_jobs", "schedule": 300.0},
}

# Which published definitions raise a worklist alert (all definitions are always computed and shown).
# HPD: the kinetics definitions need a pre-baseline scan; Lo Russo needs clinical inputs (RESPONSE_RULES §3).
RADIMMUNO_HPD_ALERT_DEFINITIONS = ["champiat", "saada_bouzid", "ferrara", "kas", "kim", "lo_russo"]
# Dissociated response: Bernard-Tessier (-30 % / +20 % lesions) is specific; Tozuka's "any shrinking and any
# growing lesion" also fires on measurement noise, so it is shown but does not alert by default (§4.2).
RADIMMUNO_DISSOCIATED_ALERT_DEFINITIONS = ["bernard_tessier", "sato"]
# The next protocol scan is expected this many days after the latest read one (8 weeks, the usual ICI schedule in
# the first year; the iRECIST confirmation window replaces it while an iUPD is open).
RADIMMUNO_FOLLOW_UP_INTERVAL_DAYS = int(os.environ.get("RADIMMUNO_FOLLOW_UP_INTERVAL_DAYS", "56"))
# The worklist shows, by default, living patients on an ongoing regimen seen within this many days.
RADIMMUNO_WORKLIST_ACTIVE_DAYS = int(os.environ.get("RADIMMUNO_WORKLIST_ACTIVE_DAYS", "365"))
# Grade >= 3 irAEs with an onset in the last this many days are on the worklist.
RADIMMUNO_WORKLIST_IRAE_DAYS = int(os.environ.get("RADIMMUNO_WORKLIST_IRAE_DAYS", "30"))

# Imaging ingest (issue 3). Unknown DICOM Patient IDs go to quarantine; research sites may auto-create
# pseudonymous patients for them instead (in the site RADIMMUNO_AUTO_CREATE_SITE).
RADIMMUNO_AUTO_CREATE_PATIENTS = env_bool("RADIMMUNO_AUTO_CREATE_PATIENTS", False)
RADIMMUNO_AUTO_CREATE_SITE = os.environ.get("RADIMMUNO_AUTO_CREATE_SITE", "IMAGING")
# Their study IDs are "IMG-" + HMAC-SHA256(this key, Patient ID): secret, required in production (local/test: derived).
RADIMMUNO_PSEUDONYM_KEY = os.environ.get("RADIMMUNO_PSEUDONYM_KEY", "")
# Job manifests (the inputs of each ingest job, so a crashed run can be re-run); local or shared disk.
RADIMMUNO_INGEST_WORK_DIR = os.environ.get("RADIMMUNO_INGEST_WORK_DIR", "")
# The DICOM listener acknowledges a file once it is written to its spool; with this on, once it is on disk
# (fdatasync, ~1 ms per 512 KB slice here): for modalities that delete what a receiver acknowledged.
RADIMMUNO_LISTENER_FSYNC = env_bool("RADIMMUNO_LISTENER_FSYNC", False)
# The largest single file ingest reads into memory (a zip member inflated, say); bigger ones are quarantined.
RADIMMUNO_INGEST_MAX_FILE_BYTES = int(os.environ.get("RADIMMUNO_INGEST_MAX_FILE_BYTES", str(1 << 30)))
# The largest file the clinical, measurement and feature imports take (command line and pages; docs/import.md).
RADIMMUNO_IMPORT_MAX_BYTES = int(os.environ.get("RADIMMUNO_IMPORT_MAX_BYTES", str(20 * 1024 * 1024)))
# Uploads of whole series as zips can be large.
DATA_UPLOAD_MAX_NUMBER_FILES = int(os.environ.get("DATA_UPLOAD_MAX_NUMBER_FILES", "5000"))
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# drf-spectacular: name the imaging choice sets whose field names ("source", "status") other apps use too.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}),
    "IngestSourceEnum": "imaging.choices.IngestSource",
    "QuarantineStatusEnum": "imaging.choices.QuarantineStatus",
    "JobStatusEnum": "radimmuno.jobs.JobStatus",
}

# Research exports (issue 14): where the export page's jobs write their files and zips ("" = MEDIA_ROOT/exports);
# served only through the export page's permission-checked download, never as public media.
RADIMMUNO_EXPORT_DIR = os.environ.get("RADIMMUNO_EXPORT_DIR", "")

# Radiomics (issue 4): new lesion masks are extracted automatically with the active profiles of their modality.
RADIMMUNO_AUTO_EXTRACT = env_bool("RADIMMUNO_AUTO_EXTRACT", True)

# Background jobs: a running job beats this often; one silent for six beats is taken as dead and re-run.
RADIMMUNO_JOB_HEARTBEAT_SECONDS = float(os.environ.get("RADIMMUNO_JOB_HEARTBEAT_SECONDS", "30"))
#: Delta-radiomics pairs stored for every patient (analytics.compute.delta): (reference, later timepoint).
RADIMMUNO_DELTA_PAIRS = [("baseline", "first_follow_up")]
