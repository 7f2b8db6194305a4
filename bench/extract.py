"""Benchmark: stock pyradiomics vs our radiomics pipeline on the same lesions, same CT-style profile.

Run from the project root::

    .venv/bin/python bench/extract.py                      # the five pyradiomics test cases
    .venv/bin/python bench/extract.py --extra-synthetic 12 # plus 12 synthetic lesions on the lung CTs

Profile (all modes): binWidth 25, Original + LoG (sigma 1-5 mm) + Wavelet (coif1), preCrop, shape + all texture
classes. Modes, each in its own fresh Python process (so peak memory is per mode):

  a   plain loop over stock ``RadiomicsFeatureExtractor.execute(image_path, mask_path)``, preCrop=True, 1 process
  a0  (reference only) the same with ``additionalInfo: false`` -- stock without its diagnostics/provenance work
  b   our pipeline (``BatchExtractor``) with 1 worker, in-process
  c   our pipeline with one worker process per core

Printed: lesions/s (median of ``--repeat`` runs), b/a and c/a, peak memory (sum of RSS and of PSS over the mode's
process tree, sampled every 20 ms; RSS counts pages shared between forked workers once per process, PSS splits
them), the largest relative difference of any feature between a and b (and b and c), and the machine load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

CASES = ("brain1", "brain2", "breast1", "lung1", "lung2")
FEATURE_CLASSES = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
PARAMS = {
    "setting": {"binWidth": 25, "sigma": [1.0, 2.0, 3.0, 4.0, 5.0], "preCrop": True},
    "imageType": {"Original": {}, "LoG": {}, "Wavelet": {}},
    "featureClass": {name: [] for name in FEATURE_CLASSES},
}


def _data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    return Path(os.environ.get("RADIMMUNO_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")) / "pyradiomics"


# ------------------------------------------------------------------------------------------ memory sampling
def _proc_tree(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def _read_kb(path: str, key: str) -> int:
    try:
        with open(path) as fh:
            match = re.search(rf"^{key}:\s+(\d+) kB", fh.read(), re.M)
        return int(match.group(1)) if match else 0
    except OSError:
        return 0


class TreeMemorySampler(threading.Thread):
    """Peak of sum(RSS) and sum(PSS) over this process and all its descendants."""

    def __init__(self, interval: float = 0.02):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self._halt = threading.Event()

    def run(self):
        me = os.getpid()
        while not self._halt.is_set():
            pids = _proc_tree(me)
            rss = sum(_read_kb(f"/proc/{p}/status", "VmRSS") for p in pids)
            pss = sum(_read_kb(f"/proc/{p}/smaps_rollup", "Pss") for p in pids)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()


# ------------------------------------------------------------------------------------------ workload
def build_manifest(data: Path, extra_synthetic: int, workdir: Path, seed: int = 20240601) -> list[dict]:
    """Jobs: one per image, each with its lesions {key: mask path}. Synthetic lesions go on the two lung CTs."""
    jobs = [{"image": str(data / f"{c}_image.nrrd"), "masks": {c: str(data / f"{c}_label.nrrd")}} for c in CASES]
    if extra_synthetic <= 0:
        return jobs
    import numpy as np
    import SimpleITK as sitk

    rng = np.random.default_rng(seed)
    hosts = {c: sitk.ReadImage(str(data / f"{c}_image.nrrd")) for c in ("lung1", "lung2")}
    by_host = {c: jobs[CASES.index(c)] for c in hosts}
    for i in range(extra_synthetic):
        host = ("lung1", "lung2")[i % 2]
        image = hosts[host]
        size = np.array(image.GetSize())  # x, y, z
        spacing = np.array(image.GetSpacing())
        # irregular lesion: union of 1-3 ellipsoidal balls, radius 5-30 mm; every 6th one large (35-40 mm)
        big = i % 6 == 5
        base_r = rng.uniform(35, 40) if big else rng.uniform(5, 30)
        extent = (base_r * 1.6) / spacing
        center = rng.uniform(extent, size - 1 - extent)
        zz, yy, xx = np.indices(tuple(size[::-1]), sparse=True)
        arr = np.zeros(tuple(size[::-1]), dtype=bool)
        for _ in range(int(rng.integers(1, 4))):
            c = center + rng.uniform(-0.4, 0.4, 3) * base_r / spacing
            r = base_r * rng.uniform(0.6, 1.0)
            arr |= (((xx - c[0]) * spacing[0]) ** 2 + ((yy - c[1]) * spacing[1]) ** 2
                    + ((zz - c[2]) * spacing[2]) ** 2) <= r ** 2
        mask = sitk.GetImageFromArray(arr.astype(np.uint8))
        mask.CopyInformation(image)
        path = workdir / f"synthetic_{i:02d}_{host}.nrrd"
        sitk.WriteImage(mask, str(path), True)
        by_host[host]["masks"][f"synthetic_{i:02d}"] = str(path)
    return jobs


def _features(result) -> dict[str, float]:
    return {k: float(v) for k, v in result.items() if not k.startswith("diagnostics_")}


def run_mode(mode: str, manifest: list[dict], repeat: int, workers: int) -> dict:
    import radiomics

    radiomics.setVerbosity(logging.ERROR)
    sampler = TreeMemorySampler()
    sampler.start()
    times: list[float] = []
    features: dict[str, dict[str, float]] = {}
    errors: list[str] = []
    n_lesions = sum(len(job["masks"]) for job in manifest)

    if mode in ("a", "a0"):
        from radiomics import featureextractor

        params = json.loads(json.dumps(PARAMS))
        if mode == "a0":
            params["setting"]["additionalInfo"] = False
        extractor = featureextractor.RadiomicsFeatureExtractor(params)
        for _ in range(repeat):
            t0 = time.perf_counter()
            for job in manifest:
                for key, mask in job["masks"].items():
                    try:
                        features[key] = _features(extractor.execute(job["image"], mask))
                    except Exception as exc:  # noqa: BLE001
                        errors.append(f"{key}: {exc}")
            times.append(time.perf_counter() - t0)
    else:
        from imaging.compute.radiomics import BatchExtractor, ExtractionJob

        jobs = [ExtractionJob(job["image"], job["masks"]) for job in manifest]
        n_workers = 1 if mode == "b" else workers
        for _ in range(repeat):
            t0 = time.perf_counter()
            results = BatchExtractor(PARAMS, n_workers=n_workers).run(jobs)
            times.append(time.perf_counter() - t0)
        for job_result in results:
            for key, result in job_result.results.items():
                if result.ok:
                    features[key] = result.features
                else:
                    errors.append(f"{key}: {result.error}")
    sampler.stop()
    import resource

    return {
        "mode": mode,
        "times": times,
        "n_lesions": n_lesions,
        "peak_rss_mb": sampler.peak_rss_kb / 1024,
        "peak_pss_mb": sampler.peak_pss_kb / 1024,
        "ru_maxrss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ru_maxrss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "features": features,
        "errors": errors,
        "workers": 1 if mode != "c" else workers,
    }


def max_rel_diff(x: dict, y: dict) -> tuple[float, str, int]:
    """Largest |x - y| / |x| over every feature of every lesion present in both (0/0 counts as equal)."""
    worst, where, n = 0.0, "", 0
    for lesion in x:
        if lesion not in y:
            continue
        if set(x[lesion]) != set(y[lesion]):
            return float("inf"), f"{lesion}: feature names differ", n
        for name, a in x[lesion].items():
            b = y[lesion][name]
            n += 1
            if a == b:
                continue
            rel = abs(a - b) / abs(a) if a != 0 else abs(b)
            if rel != rel:  # NaN
                rel = float("inf")
            if rel > worst:
                worst, where = rel, f"{lesion} {name}: {a!r} vs {b!r}"
    return worst, where, n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extra-synthetic", type=int, default=0, metavar="N",
                        help="also extract N synthetic lesions placed on the lung1/lung2 CTs")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per mode (median reported)")
    parser.add_argument("--workers", type=int, default=None, help="workers for mode c (default: one per core)")
    parser.add_argument("--modes", default="a,a0,b,c", help="comma-separated subset of a,a0,b,c")
    parser.add_argument("--data", default=None, help="folder with <case>_image.nrrd (default: shared data)")
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--manifest", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from imaging.compute.radiomics import default_workers

    workers = args.workers or default_workers()
    if args.mode:  # child: run one mode
        manifest = json.loads(Path(args.manifest).read_text())
        Path(args.out).write_text(json.dumps(run_mode(args.mode, manifest, args.repeat, workers)))
        return 0

    data = _data_dir(args.data)
    missing = [f"{c}_{k}.nrrd" for c in CASES for k in ("image", "label") if not (data / f"{c}_{k}.nrrd").is_file()]
    if missing:
        print(f"missing data in {data}: {missing} (set RADIMMUNO_SHARED_DATA or --data)", file=sys.stderr)
        return 2
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    load_before = os.getloadavg()
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="radiomics-bench-") as tmp:
        tmp_path = Path(tmp)
        manifest = build_manifest(data, args.extra_synthetic, tmp_path)
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
        n_lesions = sum(len(j["masks"]) for j in manifest)
        print(f"{n_lesions} lesions on {len(manifest)} images; profile: binWidth 25, Original + LoG(1-5 mm) + "
              f"Wavelet, preCrop; {args.repeat} run(s) per mode; {os.cpu_count()} CPUs, mode c uses {workers} "
              f"worker(s)")
        for mode in modes:
            result_file = tmp_path / f"{mode}.json"
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--mode", mode, "--manifest", str(tmp_path / "manifest.json"),
                            "--out", str(result_file), "--repeat", str(args.repeat), "--workers", str(workers)],
                           check=True, cwd=PROJECT_ROOT)
            out[mode] = json.loads(result_file.read_text())
            out[mode]["process_s"] = time.perf_counter() - t0
    load_after = os.getloadavg()

    def rate(mode):
        return out[mode]["n_lesions"] / statistics.median(out[mode]["times"])

    labels = {"a": "a  stock execute, preCrop, 1 process",
              "a0": "a0 stock, preCrop, additionalInfo=False (reference)",
              "b": "b  ours, 1 worker",
              "c": f"c  ours, {workers} workers"}
    print(f"\n{'mode':<52} {'median s':>9} {'min s':>7} {'lesions/s':>10} {'vs a':>6} {'peak RSS MB':>12} "
          f"{'peak PSS MB':>12}")
    for mode in modes:
        r = out[mode]
        ratio = f"{rate(mode) / rate('a'):.2f}" if "a" in out else "-"
        print(f"{labels[mode]:<52} {statistics.median(r['times']):9.2f} {min(r['times']):7.2f} {rate(mode):10.2f} "
              f"{ratio:>6} {r['peak_rss_mb']:12.0f} {r['peak_pss_mb']:12.0f}")
    if "a" in out and "b" in out:
        print(f"\nb/a = {rate('b') / rate('a'):.2f} (goal >= 1.5)", end="")
        if "c" in out:
            print(f"   c/a = {rate('c') / rate('a'):.2f} (goal >= 2.5)")
        else:
            print()
    for x, y in (("a", "b"), ("b", "c"), ("a", "a0")):
        if x in out and y in out:
            worst, where, n = max_rel_diff(out[x]["features"], out[y]["features"])
            print(f"largest relative difference {x} vs {y}: {worst:.3e} over {n} feature values"
                  + (f"  ({where})" if where else ""))
    for mode in modes:
        if out[mode]["errors"]:
            print(f"errors in mode {mode}: {out[mode]['errors'][:5]}")
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
