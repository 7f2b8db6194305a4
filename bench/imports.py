"""The bulk imports of issue 11 end to end: a 1,000-patient RECIST CRF and a 100,000-row external feature file.

    .venv/bin/python bench/imports.py [--patients 1000] [--features 100000] [--database-url URL]

In a throw-away SQLite database (or the given, empty one), with the demo generator's seeded cohort
(``demo.compute.synthetic.CohortGenerator``, seed 0: pre-baseline, baseline and follow-ups, up to 10 lesions):

1. the cohort's patients and treatment lines are written as a REDCap-style clinical file and imported with
   ``import_clinical`` (timed: the peer figure, rows/s of the per-row clinical import);
2. its lesion readings are written as a CRF file (one row per lesion reading, ``timepoint_kind`` given) and
   imported with ``measurements_import`` — first with one bad row appended (must write nothing), then for real,
   with the response results recomputed in-process (no broker: ``lesion_data_imported`` →
   ``response_request_patients``, one pass over the imported patients), then again (idempotent: nothing changes,
   nothing is recomputed);
3. a long-format feature file (``--features`` rows: target lesions × timepoints × 100 features) is imported with
   ``features_import`` to an external profile, then again.

Prints seconds and rows/s per step and checks the results (every ICI regimen's response assessment done and
equal in number to the patients; nothing written by the file with errors).
Goals (issue 11): the measurement import of 1,000 patients, recomputation included, under 30 s; 100,000 feature
rows in well under a minute.
"""
import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ["firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm", "shape"]


def clinical_file(cohort):
    from patients.importer import COLUMNS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for g in cohort:
        writer.writerow({"record_id": g.study_id, "site": "DEMO-A", "sex": g.sex, "year_of_birth": g.year_of_birth,
                         "tumour_type": g.tumour_type, "histology": g.histology, "stage": g.stage,
                         "diagnosis_date": g.diagnosis_date.isoformat(), "ecog_baseline": g.ecog_baseline,
                         "smoking_status": g.smoking_status})
        for r in g.regimens:
            writer.writerow({"record_id": g.study_id, "redcap_repeat_instrument": "treatment",
                             "line_of_therapy": r["line"], "agents": "; ".join(r["agents"]),
                             "start_date": r["start"].isoformat(), "end_date": r["end"].isoformat() if r["end"] else "",
                             "end_reason": r["end_reason"]})
    return out.getvalue().encode()


def measurement_file(cohort, *, bad_row=False):
    from imaging.services.measurement_import import COLUMNS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    n = 0
    for g in cohort:
        for sl in g.lesions:
            for t, tp in enumerate(g.timepoints):
                if sl.sizes[t] is None and not sl.statuses[t]:
                    continue
                size = sl.sizes[t]
                writer.writerow({
                    "record_id": g.study_id, "assessment_date": tp["date"].isoformat(), "timepoint_kind": tp["kind"],
                    "lesion": sl.label, "organ": sl.organ, "lesion_kind": sl.role, "is_node": "yes" if sl.nodal else "no",
                    "size_mm": "" if size is None else f"{round(size, 2)}", "measurement_status": sl.statuses[t],
                    "nontarget_status": sl.non_target[t]})
                n += 1
    if bad_row:
        g = cohort[len(cohort) // 2]
        writer.writerow({"record_id": g.study_id, "assessment_date": g.timepoints[-1]["date"].isoformat(),
                         "lesion": "T99", "organ": "lung", "lesion_kind": "target", "size_mm": "-4"})
        n += 1
    return out.getvalue().encode(), n


def feature_file(cohort, rows, *, seed=0):
    """``rows`` values: 100 features of (target lesion, timepoint) pairs taken patient by patient."""
    names = [f"original_{FAMILIES[i % len(FAMILIES)]}_Feature{i:03d}" for i in range(100)]
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["record_id", "lesion", "assessment_date", "region", "feature", "value"])
    n = 0
    for g in cohort:
        for sl in g.lesions:
            if sl.role != "target":
                continue
            for t, tp in enumerate(g.timepoints):
                if sl.sizes[t] is None and not sl.statuses[t]:
                    continue
                for name in names:
                    writer.writerow([g.study_id, sl.label, tp["date"].isoformat(), "lesion", name,
                                     repr(rng.gauss(100.0, 30.0))])
                    n += 1
                    if n == rows:
                        return out.getvalue().encode(), n
    return out.getvalue().encode(), n


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def one(n, feature_rows, database_url):
    """Everything for one cohort in this process; prints one JSON line."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "radimmuno.settings.local"
    os.environ.pop("CELERY_BROKER_URL", None)  # tasks run in-process (embedded mode)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import datetime as dt

    from django.core.management import call_command

    from analytics.models import ResponseAssessment
    from analytics.services import response_recompute_patients
    from demo.compute.synthetic import CohortGenerator
    from imaging.models import ExternalFeatureSet, Lesion, LesionMeasurement, Timepoint
    from imaging.services import features_import, measurements_import
    from imaging.signals import lesion_data_imported
    from patients.importer import import_clinical
    from patients.models import Patient, Site

    call_command("migrate", verbosity=0)
    if Patient.objects.exists():
        sys.exit("bench/imports.py needs an empty database (it imports the cohort's patients itself).")
    Site.objects.get_or_create(code="DEMO-A", defaults={"name": "Demo A"})
    cohort = CohortGenerator(seed=0, today=dt.date(2025, 6, 30), id_prefix="BENCH").generate(n)
    out = {"patients": n}

    data = clinical_file(cohort)
    report, seconds = timed(lambda: import_clinical(data=data, filename="clinical.csv"))
    assert report.ok, report.problems[:5]
    out["clinical"] = {"rows": report.rows, "s": seconds}

    def state():
        return (Timepoint.objects.count(), Lesion.objects.count(), LesionMeasurement.objects.count(),
                Timepoint.history.count(), Lesion.history.count(), LesionMeasurement.history.count(),
                list(ResponseAssessment.objects.order_by("pk").values_list("pk", "generation", "status")))

    before = state()
    bad, rows = measurement_file(cohort, bad_row=True)
    report, seconds = timed(lambda: measurements_import(data=bad, filename="crf-with-error.csv"))
    written = sum(state()[:6])
    assert not report.ok and written == 0 and state() == before, (report.problems, written)
    out["measurements_with_error"] = {"rows": rows, "s": seconds, "problems": [str(p) for p in report.problems],
                                      "rows_written": written}

    signal_times = []
    send = lesion_data_imported.send

    def timed_send(sender, **kwargs):  # the recomputation runs inside the signal, after commit
        started = time.perf_counter()
        result = send(sender, **kwargs)
        signal_times.append(time.perf_counter() - started)
        return result

    lesion_data_imported.send = timed_send
    data, rows = measurement_file(cohort)
    report, seconds = timed(lambda: measurements_import(data=data, filename="crf.csv"))
    assert report.ok, report.problems[:5]
    done = ResponseAssessment.objects.filter(status="done").count()
    out["measurements"] = {"rows": rows, "s": seconds, "recompute_s": sum(signal_times), "counts": report.counts,
                           "assessments_done": done, "assessments": ResponseAssessment.objects.count()}
    signal_times.clear()
    report, seconds = timed(lambda: measurements_import(data=data, filename="crf.csv"))
    assert report.ok and not signal_times, report.problems[:5]
    out["measurements_again"] = {"rows": rows, "s": seconds, "counts": report.counts}
    results = list(ResponseAssessment.objects.order_by("pk").values_list("pk", "recist_bor", "irecist_ibor"))
    _, seconds = timed(lambda: response_recompute_patients(Patient.objects.order_by("pk")))
    same = results == list(ResponseAssessment.objects.order_by("pk").values_list("pk", "recist_bor", "irecist_ibor"))
    out["recompute_batch"] = {"patients": n, "s": seconds, "same_results": same}

    data, rows = feature_file(cohort, feature_rows)
    report, seconds = timed(lambda: features_import(data=data, filename="features.csv", profile="site-pipeline",
                                                    description="bench: 100 synthetic features"))
    assert report.ok, report.problems[:5]
    out["features"] = {"rows": rows, "s": seconds, "counts": report.counts, "mb": len(data) / 1e6,
                       "sets": ExternalFeatureSet.objects.count()}
    report, seconds = timed(lambda: features_import(data=data, filename="features.csv", profile="site-pipeline"))
    assert report.ok, report.problems[:5]
    out["features_again"] = {"rows": rows, "s": seconds, "counts": report.counts}
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--database-url", help="an empty database (default: a throw-away SQLite file)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args.patients, args.features, args.database_url)
    with tempfile.TemporaryDirectory(prefix="radimmuno-bench-imports-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/imports.sqlite3"
        print(f"{args.patients} patients, {args.features} feature rows ({'PostgreSQL' if args.database_url else 'SQLite'})"
              " ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--one", "--patients", str(args.patients), "--features",
                               str(args.features), "--database-url", url], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    r = json.loads(proc.stdout.strip().splitlines()[-1])

    def line(name, step, extra=""):
        print(f"  {name:52s} {step['rows']:7d} rows {step['s']:7.2f} s {step['rows'] / step['s']:9.0f} rows/s{extra}")

    print()
    line("import_clinical (peer: per-row services)", r["clinical"])
    m = r["measurements"]
    line("import_measurements, file with one bad row", r["measurements_with_error"],
         f"  -> rejected, {r['measurements_with_error']['rows_written']} rows written")
    for p in r["measurements_with_error"]["problems"]:
        print(f"      {p}")
    line("import_measurements, with response recomputed", m,
         f"  (writes {m['s'] - m['recompute_s']:.2f} s, recompute {m['recompute_s']:.2f} s: "
         f"{m['assessments_done']}/{m['assessments']} assessments done)")
    line("import_measurements again (nothing changes)", r["measurements_again"])
    batch = r["recompute_batch"]
    print(f"  {'(peer) response_recompute_patients, same patients':52s} {batch['patients']:7d} pts  {batch['s']:7.2f} s "
          f"{batch['s'] / batch['patients'] * 1000:9.1f} ms/patient (after the import: "
          f"{m['recompute_s'] / batch['patients'] * 1000:.1f}); same results: {batch['same_results']}")
    f = r["features"]
    line("import_features (external profile)", f, f"  ({f['sets']} feature sets, {f['mb']:.1f} MB)")
    line("import_features again (nothing changes)", r["features_again"])
    print(f"\n  measurement counts: {m['counts']}")
    goal_m = m["s"] < 30 and m["assessments_done"] == m["assessments"]
    print(f"  goal: {r['patients']}-patient CRF with recomputation < 30 s: {'met' if goal_m else 'NOT met'} "
          f"({m['s']:.1f} s); 100,000 feature rows well under a minute: "
          f"{'met' if f['rows'] >= 100_000 and f['s'] < 30 else 'see above'} ({f['s']:.1f} s)")


if __name__ == "__main__":
    main()
