"""Survival analyses end to end from the database: Kaplan–Meier and Cox on demo cohorts of growing size.

    .venv/bin/python bench/analytics.py [--patients 1000 10000] [--repeat 3] [--database-url URL] [--cache DIR]

Each cohort is seeded once with the demo generator (``demo_cohort_create`` + the response engine over every
patient, as ``seed_demo`` does, no imaging) into a throw-away SQLite file kept in --cache (re-used by later runs
of the bench; delete it to re-seed), or into the given database. Then, per analysis, ``analysis_run_now`` is
timed — the path ``manage.py run_analysis`` takes: the cohort filtered, one SubjectRecord per patient read from
the stored rows (``survival_records``), endpoints derived, covariates coded, lifelines fitted, figures drawn,
the run row stored. The selector alone is timed too, to show where the time goes. Median of --repeat runs.
Goal (issue 10): under 5 s per run at 10,000 patients on this machine.

    .venv/bin/python bench/analytics.py --patients 1000 --prediction 1000

times a classification run instead (issue 12): nested CV (5 outer x 5 inner folds, 3 repeats), 10 permuted-label
runs and the final model, from the database (1,000 synthetic baseline features per target lesion written once to
the cached 1,000-patient cohort as an external profile), with its progress on the command line and the peak memory.
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
SPECS = {
    "KM of OS by PD-L1 TPS (<1, 1-<50, >=50)": {"kind": "km", "endpoint": "os", "group_by": "pdl1_tps", "cut": [1, 50]},
    "Cox of OS on age, sex, ECOG, PD-L1": {"kind": "cox", "endpoint": "os",
                                           "covariates": ["age_at_start", "sex", "ecog_baseline", "pdl1_tps"]},
    "KM of iPFS (iRECIST), overall": {"kind": "km", "endpoint": "ipfs_irecist"},
}


def one(n, repeat, database_url):
    """Seed (if needed) and time the analyses for one cohort size, in this process. Prints one JSON line."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "radimmuno.settings.local"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from analytics.selectors import survival_records
    from analytics.services import analysis_run_now, response_recompute_patients
    from demo.services import demo_cohort_create
    from patients.models import Patient

    call_command("migrate", verbosity=0)
    seeded = 0.0
    if not Patient.objects.exists():
        started = time.perf_counter()
        with transaction.atomic():
            created = demo_cohort_create(n=n, seed=0)
        response_recompute_patients(created)
        seeded = time.perf_counter() - started
    out = {"n": Patient.objects.count(), "seeded_s": seeded, "analyses": {}}
    for name, spec in SPECS.items():
        selector, total = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            records = survival_records(spec=spec)
            selector.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            run = analysis_run_now(spec=spec)
            total.append(time.perf_counter() - t0)
            assert run.status == "done", run.error
        out["analyses"][name] = {"records": len(records), "selector_s": statistics.median(selector),
                                 "run_s": statistics.median(total), "n": run.result["n"],
                                 "events": run.result["events"]}
    print(json.dumps(out))


def prediction(n, n_features, database_url):
    """Nested CV (5 x 5, 3 repeats) + 10 permuted-label runs + the final model, end to end from the database, on
    the n-patient cohort with n_features synthetic baseline features per target lesion (an external profile,
    written once). Progress on stderr; prints one JSON line with the time and the peak memory."""
    import resource

    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "radimmuno.settings.local"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import numpy as np
    from django.conf import settings
    from django.db import transaction

    from analytics.services import analysis_run_now
    from imaging.models import ExternalFeatureSet, LesionMeasurement
    from imaging.services import external_profile_for_import

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.DEBUG = False
    name = f"bench-{n_features}"
    with transaction.atomic():
        profile, created = external_profile_for_import(name=name, description=f"{n_features} synthetic features")
        if created or not ExternalFeatureSet.objects.filter(profile=profile).exists():
            rng = np.random.default_rng(0)
            names = [f"original_glcm_Bench{i:04d}" for i in range(n_features - 1)] + ["original_shape_VoxelVolume"]
            rows = []
            baseline = (LesionMeasurement.objects.filter(lesion__role="target", timepoint__kind="baseline")
                        .values_list("lesion_id", "timepoint_id").distinct())
            for lesion_id, timepoint_id in baseline:
                values = rng.normal(size=n_features)
                values[-1] = abs(values[-1]) * 1000 + 10
                rows.append(ExternalFeatureSet(lesion_id=lesion_id, timepoint_id=timepoint_id, profile=profile,
                                               features=dict(zip(names, values.tolist())), feature_count=n_features))
            ExternalFeatureSet.objects.bulk_create(rows, batch_size=200)
    spec = {"kind": "classification", "target": {"biomarker": "pdl1_tps", "threshold": 50},
            "features": {"radiomics": {"profile": name, "timepoint": "baseline", "aggregate": "mean"}},
            "cv": {"outer_folds": 5, "inner_folds": 5, "repeats": 3}, "permutations": 10}

    def progress(done, total, message):
        print(f"\r  [{'#' * int(30 * done / total):30s}] {done}/{total} {message[:50]:50s}", end="", file=sys.stderr,
              flush=True)

    started = time.perf_counter()
    run = analysis_run_now(spec=spec, progress=progress)
    seconds = time.perf_counter() - started
    print("", file=sys.stderr)
    assert run.status == "done", run.error
    print(json.dumps({"n": run.result["n"], "features": run.result["n_features"], "seconds": seconds,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "auc": run.result["auc"], "permuted_auc": run.result["permuted_auc"],
                      "folds": len(run.result["folds"])}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="one database for every size (emptied by you between sizes)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "radimmuno-bench-analytics"))
    parser.add_argument("--prediction", type=int, metavar="FEATURES", nargs="?", const=1000,
                        help="instead: a classification run (nested CV 5 x 5 x 3, 10 permutations) with this many "
                             "features (default 1000) on the first --patients cohort")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-prediction", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args.one, args.repeat, args.database_url)
    if args.one_prediction:
        return prediction(args.one_prediction, args.prediction or 1000, args.database_url)
    if args.prediction:
        n = args.patients[0]
        url = args.database_url or f"sqlite:///{args.cache}/cohort-{n}.sqlite3"
        if not args.database_url and not (Path(args.cache) / f"cohort-{n}.sqlite3").exists():
            sys.exit(f"Seed the cohort first: .venv/bin/python bench/analytics.py --patients {n}")
        print(f"classification, {n} patients x {args.prediction} features, nested CV 5 x 5 x 3 + 10 permutations "
              f"(progress below) ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--one-prediction", str(n), "--prediction",
                               str(args.prediction), "--database-url", url], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
        if proc.returncode:
            sys.exit(proc.returncode)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"  {r['seconds']:.0f} s ({r['seconds'] / 60:.1f} min) for n={r['n']}, {r['features']} features, "
              f"{r['folds']} outer folds + permutations + final model; peak memory {r['peak_rss_mb']:.0f} MB; "
              f"AUC {r['auc']:.3f} on noise features (permuted control {r['permuted_auc']:.3f})")
        return
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.patients:
        url = args.database_url or f"sqlite:///{args.cache}/cohort-{n}.sqlite3"
        print(f"{n} patients ({'seeding, then ' if not args.database_url and not (Path(args.cache) / f'cohort-{n}.sqlite3').exists() else ''}"
              f"timing {len(SPECS)} analyses x {args.repeat}) ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--repeat", str(args.repeat),
                               "--database-url", url], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode:
            sys.exit(proc.stderr[-3000:])
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\nend to end from the database ({engine}), median of {args.repeat}: seconds per run "
          "(selector = reading the cohort's rows into records)")
    for r in results:
        seeded = f", seeded in {r['seeded_s']:.0f} s" if r["seeded_s"] else ""
        print(f"\n{r['n']} patients{seeded}")
        for name, a in r["analyses"].items():
            print(f"  {name:44s} run {a['run_s']:6.2f} s  (selector {a['selector_s']:5.2f} s; "
                  f"analysed n={a['n']}, {a['events']} events)")
    if len(results) > 1:
        first, last = results[0], results[-1]
        scale = last["n"] / first["n"]
        print(f"\ngrowth {first['n']} -> {last['n']} patients (x{scale:.0f}):")
        for name in SPECS:
            ratio = last["analyses"][name]["run_s"] / first["analyses"][name]["run_s"]
            print(f"  {name:44s} x{ratio:.1f} time; goal < 5 s at 10,000: "
                  f"{'met' if last['n'] >= 10000 and last['analyses'][name]['run_s'] < 5 else 'see above'}")


if __name__ == "__main__":
    main()
