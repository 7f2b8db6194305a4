"""A mixed clinic load on the production stack: gunicorn (4 workers) + PostgreSQL, N concurrent users.

    .venv/bin/python bench/load.py --database-url postgres://postgres@127.0.0.1:5432/bench_pages \
        [--users 20] [--seconds 30] [--workers 4]

The database must hold a cohort (``bench/pages.py --patients 1000 --database-url URL`` seeds one). The bench
collects the static files into a temporary directory, starts ``gunicorn radimmuno.wsgi`` with the production
settings (a random secret key, ``DJANGO_ALLOWED_HOSTS=127.0.0.1``, TLS taken as terminated by a proxy:
``X-Forwarded-Proto: https``), logs in one user through a session cookie, and runs ``--users`` threads, each
looping over the mix a clinic produces — the worklist, the patient list (page and filter), a patient's page and
its response, lesion-table and history fragments, the cohort page and the patients API — on keep-alive
connections for ``--seconds``. Prints requests per second, p50 / p95 / max latency (client side, the whole round
trip) and the status codes. The issue's figure on the code before this work: 28 req/s, p50 664 ms, p95 1.1 s.
"""
import argparse
import http.client
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from _gunicorn import get, gunicorn

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()
    static = tempfile.mkdtemp(prefix="radimmuno-load-static-")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "radimmuno.settings.production", "DATABASE_URL": args.database_url,
           "DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
           "DJANGO_STATIC_ROOT": static, "PYTHONPATH": str(ROOT)}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from patients.models import Patient

    call_command("collectstatic", "--noinput", verbosity=0)
    patients = list(Patient.objects.order_by("pk").values_list("pk", flat=True)[:200])
    if not patients:
        raise SystemExit("The database holds no patients: seed it with bench/pages.py --database-url URL first.")
    user, _ = get_user_model().objects.get_or_create(username="load", defaults={"is_staff": True,
                                                                                 "is_superuser": True})
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    with gunicorn(env, args.port, "--workers", str(args.workers)):
        headers = {"Cookie": f"sessionid={session.session_key}", "X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
        htmx = {**headers, "HX-Request": "true"}
        mix = ([("/analytics/worklist/", headers), ("/patients/", headers), ("/patients/?response=iPR", htmx),
                ("/analytics/cohort/", headers), ("/api/v1/patients/patients/", headers)]
               + [(url.format(pk=pk), h) for pk in patients[:40] for url, h in (
                   ("/patients/{pk}/", headers), ("/analytics/patients/{pk}/response/", htmx),
                   ("/imaging/patients/{pk}/measurements/", htmx), ("/analytics/patients/{pk}/history/", htmx))])
        first = []
        for url, h in mix[:8]:  # warm every worker a little; these are the first requests the workers answer
            started = time.perf_counter()
            get(args.port, url, h)
            first.append((url, 1000 * (time.perf_counter() - started)))
        print("first requests after start: " + ", ".join(f"{url} {ms:.0f} ms" for url, ms in first))
        times, codes, stop = [], Counter(), time.monotonic() + args.seconds
        lock = threading.Lock()

        def user_loop(offset):
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            i = offset
            while time.monotonic() < stop:
                url, h = mix[i % len(mix)]
                i += 7
                started = time.perf_counter()
                connection.request("GET", url, headers=h)
                response = connection.getresponse()
                response.read()
                elapsed = time.perf_counter() - started
                with lock:
                    times.append(elapsed)
                    codes[response.status] += 1
            connection.close()

        threads = [threading.Thread(target=user_loop, args=(k,)) for k in range(args.users)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
    times.sort()
    print(f"{args.users} users, {args.workers} gunicorn workers, PostgreSQL, {wall:.0f} s: {len(times) / wall:.0f} req/s, "
          f"p50 {1000 * statistics.median(times):.0f} ms, p95 {1000 * times[int(0.95 * (len(times) - 1))]:.0f} ms, "
          f"max {1000 * times[-1]:.0f} ms; status codes {dict(codes)}")



if __name__ == "__main__":
    main()
