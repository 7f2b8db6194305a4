"""Request-wide rules for patient data (issue 15): nothing is stored by browsers or proxies, and a session ends
after a spell of inactivity and after a maximum length, whatever the user does.

* ``NoStoreMiddleware``: ``Cache-Control: no-store`` on every response except static files (pages, fragments,
  API, downloads and scan slices all carry patient data; a shared or stolen computer's cache must hold none).
  In production WhiteNoise answers static files before this middleware sees them.
* ``SessionTimeoutMiddleware``: logs a session out after ``RADIMMUNO_SESSION_IDLE_MINUTES`` without a request
  and ``RADIMMUNO_SESSION_MAX_HOURS`` after login (also the session cookie's age); the request then goes on as
  anonymous, so a page redirects to the login and the API answers 401/403, and the login page says why. The last
  activity is written at most once a minute, so a busy page costs no session write per request.
"""
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

STARTED = "_radimmuno_session_started"
SEEN = "_radimmuno_session_seen"
SEEN_RESOLUTION = 60  # seconds: how stale the stored last activity may be


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(settings.STATIC_URL):
            response["Cache-Control"] = "no-store"
        return response


@receiver(user_logged_in, dispatch_uid="radimmuno-session-started")
def _session_started(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[STARTED] = now
        request.session[SEEN] = now


def session_expiry(session, now=None):
    """Why a session must end now ("idle" or "maximum"), or None."""
    now = int(time.time()) if now is None else now
    started, seen = session.get(STARTED), session.get(SEEN)
    if seen is not None and now - seen > settings.RADIMMUNO_SESSION_IDLE_MINUTES * 60:
        return "idle"
    if started is not None and now - started > settings.RADIMMUNO_SESSION_MAX_HOURS * 3600:
        return "maximum"
    return None


class SessionTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session") and request.session.session_key:
            now = int(time.time())
            reason = session_expiry(request.session, now)
            if reason:
                logout(request)
                messages.info(request, (
                    f"You were logged out after {settings.RADIMMUNO_SESSION_IDLE_MINUTES} minutes without activity."
                    if reason == "idle" else
                    f"You were logged out: a session lasts at most {settings.RADIMMUNO_SESSION_MAX_HOURS} hours.")
                    + " Log in again to go on.")
            else:
                request.session.setdefault(STARTED, now)  # a session from before this rule: its clock starts now
                if now - request.session.get(SEEN, 0) >= SEEN_RESOLUTION:
                    request.session[SEEN] = now
        return self.get_response(request)
