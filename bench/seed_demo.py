"""Time `seed_demo` for N patients on a fresh database and print rows/s.

    .venv/bin/python bench/seed_demo.py [--patients 1000] [--database-url postgres://postgres@127.0.0.1/x]

Uses a throw-away SQLite file unless --database-url is given (that database is migrated and filled).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url")
    parser.add_argument("--imaging-patients", type=int, default=0,
                        help="also generate demo CT + SEG (and extract radiomics) for N patients (default 0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="radimmuno.settings.local",
                   DATABASE_URL=args.database_url or f"sqlite:///{tmp}/bench.sqlite3")
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        started = time.perf_counter()
        subprocess.run([*manage, "seed_demo", "--patients", str(args.patients), "--seed", str(args.seed),
                        "--imaging-patients", str(args.imaging_patients)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        counts = subprocess.run(
            [*manage, "shell", "-v0", "-c",
             "from imaging.models import LesionMeasurement as M, Timepoint as T; print(M.objects.count(), T.objects.count())"],
            env=env, check=True, capture_output=True, text=True).stdout.split()
    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(f"seed_demo --patients {args.patients} --imaging-patients {args.imaging_patients} on {engine}: "
          f"{elapsed:.1f} s wall (process start and response assessments included), "
          f"{args.patients / elapsed:.0f} patients/s; {counts[1]} timepoints, {counts[0]} lesion measurements "
          "(goal: N=1,000 well under 60 s)")


if __name__ == "__main__":
    main()
