"""The bulk imports of issues 11 and 15 end to end: a 1,000-patient clinical file, a 1,000-patient RECIST CRF and a
100,000-row external feature file.

    .venv/bin/python bench/imports.py [--patients 1000] [--features 100000] [--database-url URL] [--clinical-only]
                                      [--broker redis://127.0.0.1:6379/15]

In a throw-away SQLite database (or the given, empty one), with the demo generator's seeded cohort
(``demo.compute.synthetic.CohortGenerator``, seed 0: pre-baseline, baseline and follow-ups, up to 10 lesions):

1. the cohort's whole clinical record (patient rows with identity and follow-up, treatment lines, biomarkers,
   irAEs) is written as a REDCap-style file and imported with ``import_clinical`` (issue 15): seconds, SQL
   statements, response recomputations requested (per patient), the longest transaction (on SQLite the write lock
   is held that long) and, on SQLite, the longest wait of a concurrent writer probing every 20 ms; then the same
   file again (idempotent: nothing written, nothing recomputed). ``--clinical-only`` stops here; with it,
   ``--broker`` enqueues the recomputations to a throw-away queue of that broker (as with workers: the import
   requests them, workers would compute them) instead of computing them in-process;
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
rows in well under a minute. Issue 15: the 1,000-patient clinical file in under 10 s on either database, its
response recomputation requested once per patient after commit.
"""
import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import resource
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ["firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm", "shape"]


def clinical_file(cohort):
    """Every clinical instrument of the cohort: patient rows (with identity and follow-up), treatment lines,
    biomarkers and irAEs."""
    from patients.importer import COLUMNS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for g in cohort:
        o = g.outcome
        writer.writerow({"record_id": g.study_id, "site": "DEMO-A", "sex": g.sex, "year_of_birth": g.year_of_birth,
                         "tumour_type": g.tumour_type, "histology": g.histology, "stage": g.stage,
                         "diagnosis_date": g.diagnosis_date.isoformat(), "ecog_baseline": g.ecog_baseline,
                         "smoking_status": g.smoking_status, "mrn": g.mrn, "family_name": g.family_name,
                         "given_name": g.given_name, "date_of_birth": g.date_of_birth.isoformat(),
                         "last_contact_date": o["last_contact"].isoformat(), "vital_status": o["vital_status"],
                         "death_date": o["death"].isoformat() if o["death"] else "",
                         "clinical_progression_date": (o["clinical_progression"].isoformat()
                                                       if o["clinical_progression"] else "")})
        for i, r in enumerate(g.regimens, start=1):
            writer.writerow({"record_id": g.study_id, "redcap_repeat_instrument": "treatment",
                             "redcap_repeat_instance": i, "line_of_therapy": r["line"], "agents": "; ".join(r["agents"]),
                             "start_date": r["start"].isoformat(), "end_date": r["end"].isoformat() if r["end"] else "",
                             "end_reason": r["end_reason"]})
        for i, b in enumerate(g.biomarkers, start=1):
            writer.writerow({"record_id": g.study_id, "redcap_repeat_instrument": "biomarker",
                             "redcap_repeat_instance": i, "biomarker": b["kind"],
                             "value": b.get("category") or b.get("numeric"), "measured_on": b["date"].isoformat(),
                             "specimen": b["specimen"], "assay": b["assay"]})
        for i, e in enumerate(g.adverse_events, start=1):
            writer.writerow({"record_id": g.study_id, "redcap_repeat_instrument": "adverse_event",
                             "redcap_repeat_instance": i, "ae_term": e["term"], "ae_grade": e["grade"],
                             "ae_onset_date": e["onset"].isoformat(),
                             "ae_resolution_date": e["resolution"].isoformat() if e["resolution"] else "",
                             "ae_corticosteroids": "yes" if e["corticosteroids"] else "no",
                             "ae_immunosuppressants": "yes" if e["other_immunosuppressants"] else "no",
                             "ae_ici_action": e["ici_action"]})
    return out.getvalue().encode()


class Probe:
    """What one import did: SQL statements, response recomputations requested per patient, its transactions
    (outermost ``atomic`` blocks: on SQLite, with ``transaction_mode=IMMEDIATE``, the write lock is held that long)
    and, on SQLite, the longest wait of a concurrent writer (a second connection taking the write lock every 20 ms).
    """

    def __init__(self, sqlite_path=None):
        self.sqlite_path = sqlite_path
        self.statements = 0
        self.after_commit_statements = 0  # run by on_commit callbacks (the recomputation, in-process)
        self.after_commit_s = 0.0
        self._in_hooks = False
        self._hooks_at = None
        self.requested = []  # patient ids, once per request
        self.transactions = []
        self.recompute_s = 0.0
        self.writer_waits = []

    def __enter__(self):
        from django.db import connection, connections, transaction

        import analytics.receivers as receivers

        probe = self
        self._restore = []

        def count(execute, sql, params, many, context):
            probe.statements += 1
            probe.after_commit_statements += probe._in_hooks
            return execute(sql, params, many, context)

        self._wrapper = connection.execute_wrapper(count)
        self._wrapper.__enter__()
        atomic_enter, atomic_exit, starts = transaction.Atomic.__enter__, transaction.Atomic.__exit__, []

        def enter(self_):
            if not transaction.get_connection(self_.using).in_atomic_block:
                starts.append(time.perf_counter())
            return atomic_enter(self_)

        def exit_(self_, *exc):
            outer = not probe._in_hooks
            if outer:
                probe._hooks_at = None
            result = atomic_exit(self_, *exc)
            if not transaction.get_connection(self_.using).in_atomic_block and starts:
                # until the commit: the on_commit callbacks run after it, outside the transaction
                end = (probe._hooks_at if outer else None) or time.perf_counter()
                probe.transactions.append(end - starts.pop())
            return result

        transaction.Atomic.__enter__, transaction.Atomic.__exit__ = enter, exit_
        self._restore.append(lambda: setattr(transaction.Atomic, "__enter__", atomic_enter))
        self._restore.append(lambda: setattr(transaction.Atomic, "__exit__", atomic_exit))
        wrapper = connections["default"]
        run_hooks = wrapper.run_and_clear_commit_hooks

        def hooks():
            if probe._in_hooks:
                return run_hooks()
            probe._hooks_at = started = time.perf_counter()
            probe._in_hooks = True
            try:
                return run_hooks()
            finally:
                probe._in_hooks = False
                probe.after_commit_s += time.perf_counter() - started

        wrapper.run_and_clear_commit_hooks = hooks
        self._restore.append(lambda: delattr(wrapper, "run_and_clear_commit_hooks"))
        for name in ("response_request", "response_request_patients"):
            original = getattr(receivers, name, None)
            if original is None:
                continue

            def counted(*args, _original=original, **kwargs):
                ids = kwargs.get("patient_ids")
                probe.requested.extend(ids if ids is not None else [kwargs["patient"].pk])
                started = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    probe.recompute_s += time.perf_counter() - started

            setattr(receivers, name, counted)
            self._restore.append(lambda name=name, original=original: setattr(receivers, name, original))
        if self.sqlite_path:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._write_probe, daemon=True)
            self._thread.start()
        return self

    def _write_probe(self):
        import sqlite3

        db = sqlite3.connect(self.sqlite_path, timeout=600, isolation_level=None)
        while not self._stop.is_set():
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("COMMIT")
            self.writer_waits.append(time.perf_counter() - started)
            self._stop.wait(0.02)
        db.close()

    def __exit__(self, *exc):
        if self.sqlite_path:
            self._stop.set()
            self._thread.join()
        self._wrapper.__exit__(*exc)
        for restore in self._restore:
            restore()

    def figures(self):
        per_patient = {}
        for pk in self.requested:
            per_patient[pk] = per_patient.get(pk, 0) + 1
        return {"statements": self.statements, "after_commit_statements": self.after_commit_statements,
                "after_commit_s": self.after_commit_s, "requests": len(self.requested),
                "patients_requested": len(per_patient), "max_requests_per_patient": max(per_patient.values(), default=0),
                "recompute_s": self.recompute_s, "transactions": len(self.transactions),
                "longest_transaction_s": max(self.transactions, default=0.0),
                "writer_max_wait_s": max(self.writer_waits, default=None), "writer_probes": len(self.writer_waits)}


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


def one(n, feature_rows, database_url, clinical_only=False, broker=None):
    """Everything for one cohort in this process; prints one JSON line."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "radimmuno.settings.local"
    os.environ.pop("CELERY_BROKER_URL", None)  # tasks run in-process (embedded mode) ...
    queue = f"radimmuno-bench-imports-{os.getpid()}"
    if broker:  # ... unless a broker is given: then they are sent to a queue of its own, deleted at the end
        os.environ["CELERY_BROKER_URL"], os.environ["CELERY_QUEUE"] = broker, queue
    try:
        _one(n, feature_rows, database_url, clinical_only)
    finally:
        if broker:
            import redis

            client = redis.Redis.from_url(broker)
            print(f"(deleted the bench queue: {client.llen(queue)} messages)", file=sys.stderr)
            client.delete(queue)


def _one(n, feature_rows, database_url, clinical_only):
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
    out = {"patients": n, "broker": bool(os.environ.get("CELERY_BROKER_URL"))}

    sqlite_path = database_url[len("sqlite:///"):] if database_url.startswith("sqlite:///") else None
    data = clinical_file(cohort)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Probe(sqlite_path) as probe:
        report, seconds = timed(lambda: import_clinical(data=data, filename="clinical.csv"))
    assert report.ok, report.problems[:5]
    out["clinical"] = {"rows": report.rows, "s": seconds, "mb": len(data) / 1e6, "counts": report.counts,
                       "peak_rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
                       **probe.figures()}
    with Probe(sqlite_path) as probe:
        report, seconds = timed(lambda: import_clinical(data=data, filename="clinical.csv"))
    assert report.ok, report.problems[:5]
    out["clinical_again"] = {"rows": report.rows, "s": seconds, "counts": report.counts, **probe.figures()}
    if clinical_only:
        print(json.dumps(out))
        return

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
    parser.add_argument("--clinical-only", action="store_true", help="only the clinical import (issue 15)")
    parser.add_argument("--broker", help="with --clinical-only: enqueue the recomputations to a throw-away queue "
                                         "of this Redis broker instead of computing them in-process")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.broker and not args.clinical_only:
        parser.error("--broker needs --clinical-only (the measurement step checks the computed responses)")
    if args.one:
        return one(args.patients, args.features, args.database_url, args.clinical_only, args.broker)
    with tempfile.TemporaryDirectory(prefix="radimmuno-bench-imports-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/imports.sqlite3"
        print(f"{args.patients} patients, {args.features} feature rows ({'PostgreSQL' if args.database_url else 'SQLite'}"
              f"{', broker ' + args.broker if args.broker else ', no broker: tasks in-process'}) ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--one", "--patients", str(args.patients), "--features",
                               str(args.features), "--database-url", url,
                               *(["--clinical-only"] if args.clinical_only else []),
                               *(["--broker", args.broker] if args.broker else [])],
                              capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    r = json.loads(proc.stdout.strip().splitlines()[-1])

    def line(name, step, extra=""):
        print(f"  {name:52s} {step['rows']:7d} rows {step['s']:7.2f} s {step['rows'] / step['s']:9.0f} rows/s{extra}")

    print()
    c, again = r["clinical"], r["clinical_again"]
    line("import_clinical", c, f"  ({c['mb']:.1f} MB, peak RSS +{c['peak_rss_growth_mb']:.0f} MB)")
    before = c["statements"] - c["after_commit_statements"]
    after = ("the recomputations queued to the broker" if r.get("broker") else
             "the response recomputation, in-process without a broker")
    print(f"      {c['s'] - c['after_commit_s']:.2f} s to check and write, {c['after_commit_s']:.2f} s after commit "
          f"(on_commit callbacks: {after})")
    print(f"      {c['statements']} SQL statements ({c['statements'] / r['patients']:.1f} per patient), "
          f"{before} of them before the commit ({before / r['patients']:.1f} per patient)")
    print(f"      response recomputation requested {c['requests']} times for {c['patients_requested']} patients "
          f"(at most {c['max_requests_per_patient']} per patient; {c['recompute_s']:.2f} s of the import)")
    waits = "" if c["writer_max_wait_s"] is None else (
        f"; a concurrent writer waited at most {c['writer_max_wait_s']:.2f} s ({c['writer_probes']} probes)")
    print(f"      {c['transactions']} transactions, the longest {c['longest_transaction_s']:.2f} s to its "
          f"commit{waits}")
    line("import_clinical again (nothing changes)", again,
         f"  ({again['statements']} SQL statements, {again['requests']} recomputations requested)")
    print(f"      counts: {c['counts']}")
    imported = c["s"] - c["after_commit_s"]
    goal_c = imported < 10 and c["max_requests_per_patient"] <= 1 and c["patients_requested"] == r["patients"]
    print(f"  goal: {r['patients']}-patient clinical file checked and written < 10 s, recomputation requested once per "
          f"patient after commit: {'met' if goal_c else 'NOT met'} ({imported:.1f} s, at most "
          f"{c['max_requests_per_patient']} per patient); with what runs after commit {c['s']:.1f} s")
    if "measurements" not in r:
        return
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
