"""Server time and query count of every page and fragment, on demo cohorts of growing size.

    .venv/bin/python bench/pages.py [--patients 1000 10000] [--repeat 30] [--database-url URL] [--cache DIR]

Each cohort is seeded once with the demo generator (``demo_cohort_create`` + the response engine over every patient,
which also raises the worklist alerts; no imaging) into a SQLite file kept in --cache (re-used by later runs; delete
it to re-seed), or into the given database. Then every page and htmx fragment is requested --repeat times through
Django's test client in this process (the whole request: middleware, session, views, templates — not the network),
rotating over 20 patients for the patient pages, after two warm-up requests each. Prints p50 / p95 server time and
the query count per URL, and each size's figures side by side. Goal (issue 13): p95 < 150 ms for every page and
fragment, the query count not growing with the cohort, server time flat from 1,000 to 10,000 for paginated pages.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PAGES = [  # (name, url, htmx)
    ("worklist", "/analytics/worklist/", False),
    ("worklist: all patients, page 2 (htmx)", "/analytics/worklist/?scope=all&page=2", True),
    ("worklist: overdue (htmx)", "/analytics/worklist/?section=overdue&scope=all", True),
    ("worklist: my patients (htmx)", "/analytics/worklist/?care_team=mine", True),
    ("patient list", "/patients/", False),
    ("patient list: current iPR (htmx)", "/patients/?response=iPR", True),
    ("patient list: page 20, by response (htmx)", "/patients/?page=20&o=response", True),
    ("patient page", "/patients/{pk}/", False),
    ("response panel (htmx)", "/analytics/patients/{pk}/response/", True),
    ("measurement grid (htmx)", "/imaging/patients/{pk}/measurements/", True),
    ("scans panel (htmx)", "/imaging/patients/{pk}/scans/", True),
    ("history panel (htmx)", "/analytics/patients/{pk}/history/", True),
    ("course timeline (htmx)", "/analytics/patients/{pk}/timeline/", True),
    ("delta-radiomics panel (htmx)", "/analytics/patients/{pk}/deltas/", True),
    ("prediction models panel (htmx)", "/analytics/patients/{pk}/models/", True),
    ("cohort page", "/analytics/cohort/", False),
    ("cohort: swimmer page 3 (htmx)", "/analytics/cohort/?lanes=3", True),
    ("analyses", "/analytics/analyses/", False),
    ("upload", "/imaging/upload/", False),
    ("API patients", "/api/v1/patients/patients/", False),
    ("API response assessments", "/api/v1/analytics/response-assessments/", False),
]


def one(n, repeat, database_url):
    """Seed (if needed) and measure one cohort size in this process; prints one JSON line."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "radimmuno.settings.local"
    os.environ.setdefault("DJANGO_DEBUG", "0")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from analytics.services import response_recompute_patients
    from demo.services import demo_cohort_create
    from patients.models import Patient

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    seeded = 0.0
    if not Patient.objects.exists():
        started = time.perf_counter()
        with transaction.atomic():
            created = demo_cohort_create(n=n, seed=0)
        response_recompute_patients(created)
        seeded = time.perf_counter() - started
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True,
                                                                                  "is_superuser": True})
    client = Client()
    client.force_login(user)
    patients = list(Patient.objects.order_by("pk").values_list("pk", flat=True)[: 20 * max(1, n // 1000): max(1, n // 1000)])
    rows = {}
    for name, url, htmx in PAGES:
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        urls = [url.format(pk=pk) for pk in patients] if "{pk}" in url else [url]
        for warm in urls[:2]:
            assert client.get(warm, **headers).status_code == 200, warm
        times, queries = [], []
        for i in range(repeat):
            target = urls[i % len(urls)]
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(target, **headers)
                times.append(time.perf_counter() - started)
            assert response.status_code == 200, (target, response.status_code)
            queries.append(len(ctx.captured_queries))
        times.sort()
        rows[name] = {"p50_ms": 1000 * statistics.median(times),
                      "p95_ms": 1000 * times[min(len(times) - 1, int(0.95 * len(times)))],
                      "queries": max(queries)}
    print(json.dumps({"n": n, "engine": connection.vendor, "seeded_s": seeded, "rows": rows}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", help="measure against this (empty) database instead of a cached SQLite file")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "radimmuno-bench-pages"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args.one, args.repeat, args.database_url)
    os.makedirs(args.cache, exist_ok=True)
    results = []
    for n in args.patients:
        url = args.database_url or f"sqlite:///{args.cache}/pages-{n}.sqlite3"
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--repeat", str(args.repeat),
                              "--database-url", url], check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        r = results[-1]
        if r["seeded_s"]:
            print(f"seeded {n} patients with their responses and alerts in {r['seeded_s']:.0f} s")
    sizes = " | ".join(f"{r['n']:,} patients: p50 / p95 ms, queries" for r in results)
    print(f"server time per request ({results[0]['engine']}, {args.repeat} requests each, this machine)\n"
          f"{'page or fragment':44s} | {sizes}")
    for name, *_ in PAGES:
        cells = " | ".join(f"{r['rows'][name]['p50_ms']:7.1f} / {r['rows'][name]['p95_ms']:7.1f}, "
                           f"{r['rows'][name]['queries']:3d} q" for r in results)
        print(f"{name:44s} | {cells}")
    worst = max((r["rows"][name]["p95_ms"], name, r["n"]) for r in results for name, *_ in PAGES)
    print(f"worst p95: {worst[0]:.1f} ms ({worst[1]}, {worst[2]:,} patients); goal < 150 ms")


if __name__ == "__main__":
    main()
