"""Streaming 1,000,000 radiomic feature values: rows/s and the serving process's peak memory, CSV and Parquet.

    .venv/bin/python bench/export.py [--cache DIR] [--modes gunicorn client command]

Seeds (once, into a SQLite file kept in --cache; delete it to re-seed) 100 patients on pembrolizumab with four
target lesions at five assessments and an imported feature set of 500 features per lesion and assessment, bulk
inserted: 1,000,000 feature values, 100,000 of them at site BENCH-A. Then, for 100,000 rows (``site=BENCH-A``) and
1,000,000 rows (every site), as CSV and as Parquet:

* ``gunicorn``: ``GET /api/v1/exports/features-long.csv|.parquet`` from a live ``gunicorn radimmuno.wsgi`` (one
  sync worker, production settings, a session cookie), started afresh for each measurement; the body is read in
  1 MiB blocks as a client would. Memory: the worker's resident set after a warm-up request (idle) and its peak
  (``VmHWM`` in /proc) after the download.
* ``client``: the same request through Django's test client in a fresh process (no network); peak = the process's
  ``ru_maxrss``.
* ``command``: ``manage.py export_dataset`` (every table, features_long and features_wide included) in a fresh
  process; rows/s counts the feature values only, so it is a lower bound.

Goal (issue 14): >= 100,000 rows/s for CSV and Parquet, memory flat (under 200 MB, not growing with the rows).
"""
import argparse
import http.client
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _gunicorn import get, gunicorn

ROOT = Path(__file__).resolve().parents[1]
PATIENTS, SITE_A_PATIENTS, LESIONS, TIMEPOINTS, FEATURES = 100, 10, 4, 5, 500
SIZES = {100_000: "?site=BENCH-A", 1_000_000: ""}


def _setup(database_url, settings="radimmuno.settings.local"):
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = settings
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed(database_url):
    """The cohort, bulk inserted (no signals, no response engine: the features are what is measured)."""
    _setup(database_url)
    import datetime as dt

    import numpy as np
    from django.core.management import call_command
    from django.db import transaction

    from imaging.models import ExternalFeatureSet, Lesion, Timepoint
    from imaging.services import external_profile_for_import
    from patients.models import Drug, Patient, Site, TreatmentRegimen

    call_command("migrate", verbosity=0)
    if ExternalFeatureSet.objects.exists():
        return 0.0
    started = time.perf_counter()
    rng = np.random.default_rng(14)
    names = [f"original_feature_{k:03d}" for k in range(FEATURES)]
    start = dt.date(2024, 1, 10)
    with transaction.atomic():
        sites = [Site.objects.create(code="BENCH-A", name="Bench A"), Site.objects.create(code="BENCH-B", name="Bench B")]
        patients = Patient.objects.bulk_create(
            [Patient(site=sites[0] if i < SITE_A_PATIENTS else sites[1], study_id=f"BENCH-{i:04d}", sex="F",
                     year_of_birth=1960, tumour_type="nsclc") for i in range(PATIENTS)])
        regimens = TreatmentRegimen.objects.bulk_create(
            [TreatmentRegimen(patient=p, line_of_therapy=1, start_date=start) for p in patients])
        pembrolizumab = Drug.objects.get(name="pembrolizumab")
        TreatmentRegimen.agents.through.objects.bulk_create(
            [TreatmentRegimen.agents.through(treatmentregimen=r, drug=pembrolizumab) for r in regimens])
        timepoints = Timepoint.objects.bulk_create(
            [Timepoint(patient=p, regimen=r, date=start + dt.timedelta(days=56 * t - 5), kind="baseline" if t == 0
                       else "follow-up") for p, r in zip(patients, regimens, strict=True) for t in range(TIMEPOINTS)])
        lesions = Lesion.objects.bulk_create(
            [Lesion(patient=p, label=f"T{k + 1}", organ="lung", role="target") for p in patients
             for k in range(LESIONS)])
        profile, _ = external_profile_for_import(name="bench-features", description="bench/export.py")
        by_patient = {}
        for tp in timepoints:
            by_patient.setdefault(tp.patient_id, []).append(tp)
        sets = []
        for lesion in lesions:
            for tp in by_patient[lesion.patient_id]:
                values = rng.normal(size=FEATURES).round(6)
                sets.append(ExternalFeatureSet(lesion=lesion, timepoint=tp, profile=profile, feature_count=FEATURES,
                                               features=dict(zip(names, map(float, values), strict=True))))
        ExternalFeatureSet.objects.bulk_create(sets, batch_size=200)
    return time.perf_counter() - started


def _user_session():
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user, _ = get_user_model().objects.get_or_create(username="bench-export", defaults={"is_staff": True,
                                                                                         "is_superuser": True})
    session = SessionStore()
    session.update({"_auth_user_id": str(user.pk), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                    "_auth_user_hash": user.get_session_auth_hash()})
    session.create()
    return user, session.session_key


def _count(fmt, body):
    if fmt == "csv":
        return body.count(b"\n") - 1
    import io

    import pyarrow.parquet as pq

    return pq.read_metadata(io.BytesIO(body)).num_rows


def one_client(database_url, rows, fmt):
    """The API through Django's test client, in this (fresh) process."""
    _setup(database_url)
    from django.conf import settings
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    user, _ = _user_session()
    client = Client()
    client.force_login(user)
    assert client.get("/api/v1/exports/").status_code == 200  # warm: URLs, apps
    from exports.models import DatasetExport

    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    response = client.get(f"/api/v1/exports/features-long.{fmt}{SIZES[rows]}")
    sent = sum(len(chunk) for chunk in response.streaming_content)  # read as a client would, nothing kept
    seconds = time.perf_counter() - started
    assert response.status_code == 200
    row = DatasetExport.objects.get(pk=response["X-Export-Id"])
    print(json.dumps({"rows": row.row_counts["features_long"], "bytes": sent, "seconds": seconds, "idle_mb": idle,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def one_command(database_url, rows, fmt):
    """``manage.py export_dataset`` in this (fresh) process."""
    _setup(database_url)
    import io

    from django.core.management import call_command

    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = Path(tempfile.mkdtemp(prefix="radimmuno-bench-export-")) / "out"
    site = ["--site", "BENCH-A"] if SIZES[rows] else []
    started = time.perf_counter()
    call_command("export_dataset", "--output", str(out), "--format", fmt, *site, verbosity=0, stdout=io.StringIO())
    seconds = time.perf_counter() - started
    counts = json.loads((out / "manifest.json").read_text())["row_counts"]
    print(json.dumps({"rows": counts["features_long"], "all_rows": sum(counts.values()), "seconds": seconds,
                      "idle_mb": idle, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "bytes": sum(p.stat().st_size for p in out.iterdir())}))


def _proc_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def one_gunicorn(database_url, rows, fmt, port):
    """The API from a live gunicorn (one sync worker, production settings), started for this measurement."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "radimmuno.settings.production", "DATABASE_URL": database_url,
           "DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
           "PYTHONPATH": str(ROOT)}
    os.environ.update(env)  # the session is signed with the server's secret key
    _setup(database_url, settings="radimmuno.settings.production")
    _, session_key = _user_session()
    headers = {"Cookie": f"sessionid={session_key}", "X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
    with gunicorn(env, port, "--workers", "1", "--timeout", "600") as server:
        worker = int(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()[0])
        status, _ = get(port, "/api/v1/exports/", headers)
        assert status == 200, status
        idle = _proc_kb(worker, "VmRSS") / 1024
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        started = time.perf_counter()
        connection.request("GET", f"/api/v1/exports/features-long.{fmt}{SIZES[rows]}", headers=headers)
        response = connection.getresponse()
        assert response.status == 200, response.status
        blocks = []
        while block := response.read(1 << 20):
            blocks.append(block)
        seconds = time.perf_counter() - started
        peak = _proc_kb(worker, "VmHWM") / 1024
        body = b"".join(blocks)
        return {"rows": _count(fmt, body), "bytes": len(body), "seconds": seconds, "idle_mb": idle, "peak_mb": peak}


def _fresh(mode, database_url, rows, fmt):
    out = subprocess.run([sys.executable, __file__, "--one", mode, str(rows), fmt, "--database-url", database_url],
                         check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "radimmuno-bench-export"))
    parser.add_argument("--modes", nargs="+", default=["gunicorn", "client", "command"],
                        choices=["gunicorn", "client", "command"])
    parser.add_argument("--port", type=int, default=8793)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        mode, rows, fmt = args.one
        if mode == "seed":
            print(json.dumps({"seeded_s": seed(args.database_url)}))
        elif mode == "client":
            one_client(args.database_url, int(rows), fmt)
        elif mode == "command":
            one_command(args.database_url, int(rows), fmt)
        else:
            print(json.dumps(one_gunicorn(args.database_url, int(rows), fmt, args.port)))
        return
    os.makedirs(args.cache, exist_ok=True)
    url = f"sqlite:///{args.cache}/export.sqlite3"
    seeded = _fresh("seed", url, 0, "-")["seeded_s"]
    if seeded:
        print(f"seeded {PATIENTS} patients, {PATIENTS * LESIONS * TIMEPOINTS:,} feature sets, "
              f"{PATIENTS * LESIONS * TIMEPOINTS * FEATURES:,} feature values in {seeded:.1f} s")
    print(f"features_long, SQLite, this machine ({os.cpu_count()} CPUs)")
    print(f"{'mode':9s} {'format':8s} {'rows':>10s} {'seconds':>8s} {'rows/s':>10s} {'MB sent':>8s} "
          f"{'idle MB':>8s} {'peak MB':>8s}")
    results = []
    for mode in args.modes:
        for fmt in ("csv", "parquet"):
            for rows in SIZES:
                r = _fresh(mode, url, rows, fmt)
                assert r["rows"] == rows, (mode, fmt, r)
                results.append((mode, fmt, r))
                print(f"{mode:9s} {fmt:8s} {r['rows']:>10,} {r['seconds']:>8.2f} {r['rows'] / r['seconds']:>10,.0f} "
                      f"{r['bytes'] / 1e6:>8.1f} {r['idle_mb']:>8.0f} {r['peak_mb']:>8.0f}")
    slowest = min(r["rows"] / r["seconds"] for mode, _, r in results if mode != "command")
    highest = max(r["peak_mb"] for _, _, r in results)
    print(f"slowest API stream: {slowest:,.0f} rows/s (goal >= 100,000); highest peak: {highest:.0f} MB (goal < 200)")


if __name__ == "__main__":
    main()
