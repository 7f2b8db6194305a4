"""Response recomputation inside the app: one patient after one edit, and the whole demo cohort.

    .venv/bin/python bench/response_app.py [--patients 1000] [--edits 200] [--database-url URL]

Seeds a demo cohort in a throw-away SQLite database (or the given one), then
(1) times ``response_recompute_patients`` over the cohort (document from the DB, engine, storing results), and
(2) times single edits: ``measurement_record`` (the service the UI calls) in a transaction, whose commit runs
the recomputation in-process (embedded mode) — measured from the save to the stored result.
Goal (issue 5): one patient's recompute under 50 ms.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["DJANGO_SETTINGS_MODULE"] = "radimmuno.settings.local"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from analytics.models import ResponseAssessment
    from analytics.services import response_recompute_patients
    from imaging.models import LesionMeasurement
    from imaging.services import measurement_record
    from demo.services import demo_cohort_create
    from patients.models import Patient

    call_command("migrate", verbosity=0)
    with transaction.atomic():
        demo_cohort_create(n=args.patients, seed=3)
    patients = list(Patient.objects.all())
    started = time.perf_counter()
    n = response_recompute_patients(patients)
    full = time.perf_counter() - started

    targets = list(LesionMeasurement.objects.filter(lesion__role="target", timepoint__kind="follow-up", status="present",
                                                    size_mm__isnull=False).select_related("lesion", "timepoint")
                   .order_by("?")[:args.edits])
    timings = []
    for m in targets:
        t0 = time.perf_counter()
        with transaction.atomic():
            measurement_record(lesion=m.lesion, timepoint=m.timepoint, size_mm=m.size_mm + Decimal(1))
        # the commit ran the recomputation in-process (no broker configured)
        timings.append(time.perf_counter() - t0)
        assert ResponseAssessment.objects.filter(patient_id=m.lesion.patient_id, status="done").exists()
    timings.sort()
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"in-app full recompute on {engine}: {n} assessments in {full:.1f} s = {n / full:.0f} patients/s "
          "(database reads + engine + writes, one process)")
    print(f"one edit -> stored result ({len(timings)} edits): median {1000 * statistics.median(timings):.1f} ms, "
          f"p95 {1000 * timings[int(0.95 * (len(timings) - 1))]:.1f} ms, max {1000 * timings[-1]:.1f} ms "
          "(goal < 50 ms)")


if __name__ == "__main__":
    main()
