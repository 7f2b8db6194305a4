"""Benchmark of the tumour response engine (analytics.compute.response).

Builds a synthetic cohort (default 10,000 patients x 8 timepoints x up to 10 lesions, fixed
seed, a mix of response / stable / progression / pseudoprogression / hyperprogression /
dissociated courses), evaluates every patient in full (validation + RECIST 1.1 + iRECIST +
HPD + patterns + JSON rendering) and prints throughput and per-patient latency.

Run:  .venv/bin/python bench/response.py [--patients N] [--seed S]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from analytics.compute.response import evaluate  # noqa: E402
from demo.compute.synthetic import generate_cohort  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--timepoints", type=int, default=8)
    ap.add_argument("--max-lesions", type=int, default=10)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    t0 = time.perf_counter()
    cohort = generate_cohort(args.patients, seed=args.seed, n_timepoints=args.timepoints, max_lesions=args.max_lesions)
    t_gen = time.perf_counter() - t0
    n_lesions = [len({l["id"] for tp in d["timepoints"] for l in tp["lesions"] + tp.get("new_lesions", [])})
                 for d in cohort]
    print(f"cohort: {len(cohort)} patients x {args.timepoints} timepoints, lesions/patient "
          f"mean {statistics.mean(n_lesions):.1f} max {max(n_lesions)}; generated in {t_gen:.2f} s")

    per = []
    tally = collections.Counter()
    t0 = time.perf_counter()
    for doc in cohort:
        s = time.perf_counter()
        out = evaluate(doc)
        per.append(time.perf_counter() - s)
        tally[(doc["meta"]["pattern"], out["recist_bor"]["value"], out["irecist_ibor"]["value"])] += 1
    total = time.perf_counter() - t0

    per_ms = sorted(x * 1000 for x in per)
    p95 = per_ms[min(len(per_ms) - 1, int(round(0.95 * len(per_ms))) - 1)]
    print(f"full recompute: {total:.2f} s, {len(cohort) / total:,.0f} patients/s (one core)")
    print(f"per patient: median {statistics.median(per_ms):.2f} ms, p95 {p95:.2f} ms, max {per_ms[-1]:.2f} ms")
    print("pattern -> (RECIST BOR, iBOR) most frequent:")
    by_pattern = collections.defaultdict(list)
    for (pat, bor, ibor), n in tally.items():
        by_pattern[pat].append((n, bor, ibor))
    for pat in sorted(by_pattern):
        top = sorted(by_pattern[pat], reverse=True)[:3]
        print(f"  {pat:17s} " + ", ".join(f"{bor}/{ibor} x{n}" for n, bor, ibor in top))


if __name__ == "__main__":
    main()
