"""Delta-radiomics from the database: 1,000 patients x 8 timepoints x 5 lesions x 1,500 features.

    .venv/bin/python bench/delta.py [--patients 1000] [--timepoints 8] [--lesions 5] [--features 1500]
                                    [--pairs baseline:first_follow_up ...] [--database-url URL] [--cache DIR]

The cohort is written once with bulk inserts into a throw-away SQLite file kept in --cache (patients, timepoints,
lesions, one CT series per timepoint with its acquisition attributes, one mask per lesion and scan, and one done
feature set per mask with --features seeded random values under pyradiomics-like names). Then, in a fresh
process, ``delta_refresh_patients`` — the path the refresh task and the demo take: read the feature sets (orjson),
compute every stored pair per lesion and per patient (two aggregations), replace the stored rows — is timed, with
the process's peak resident memory (ru_maxrss). Peer: the same deltas by the obvious route, ``feature_table``
(wide) + pandas, on the first 50 patients (it holds every feature set as a DataFrame row; extrapolated per
patient). Goal (issue 11): under 30 s and under 1 GB at 1,000 x 8 x 5 x 1,500.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLASSES = {"shape": 14, "firstorder": 18, "glcm": 24, "glrlm": 16, "glszm": 16, "gldm": 14, "ngtdm": 5}
IMAGE_TYPES = ["original", "log-sigma-1-0-mm-3D", "log-sigma-3-0-mm-3D", "log-sigma-5-0-mm-3D",
               *(f"wavelet-{a}{b}{c}" for a in "LH" for b in "LH" for c in "LH")]


def feature_names(n):
    names = ["original_shape_VoxelVolume"]
    for image_type in IMAGE_TYPES:
        for feature_class, count in CLASSES.items():
            if feature_class == "shape" and image_type != "original":
                continue
            names.extend(f"{image_type}_{feature_class}_Feature{i:02d}" for i in range(count))
    names = list(dict.fromkeys(names))
    while len(names) < n:
        names.append(f"original_extra_Feature{len(names):04d}")
    return names[:n]


def _django(database_url):
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "radimmuno.settings.local"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed(args):
    """Bulk-write the cohort (no signals: nothing is extracted or recomputed while seeding)."""
    import datetime as dt

    import numpy as np
    import orjson
    from django.core.management import call_command
    from django.db import transaction

    from imaging.models import ExtractionProfile, FeatureSet, Lesion, Segment, Segmentation, Series, Study, Timepoint
    from patients.models import Patient, Site

    call_command("migrate", verbosity=0)
    if Patient.objects.exists():
        return 0.0
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    names = feature_names(args.features)
    profile = ExtractionProfile.objects.create(name="bench-1500", version=1, modality="", active=False,
                                               params={"setting": {}, "imageType": {"Original": {}}},
                                               params_hash="bench")
    site, _ = Site.objects.get_or_create(code="BENCH", defaults={"name": "Bench"})
    kernels = ["B30f", "B30f", "B30f", "B70f"]  # one scan in four on another kernel: flagged pairs
    with transaction.atomic():
        patients = Patient.objects.bulk_create([
            Patient(site=site, study_id=f"BENCH-{i:05d}", sex="F" if i % 2 else "M", year_of_birth=1950 + i % 30,
                    tumour_type="nsclc") for i in range(args.patients)])
        start = dt.date(2022, 1, 3)
        timepoints = Timepoint.objects.bulk_create([
            Timepoint(patient=p, date=start + dt.timedelta(days=42 * t), kind="baseline" if t == 0 else "follow-up")
            for p in patients for t in range(args.timepoints)])
        lesions = Lesion.objects.bulk_create([
            Lesion(patient=p, label=f"T{k + 1}", organ="lung", role="target")
            for p in patients for k in range(args.lesions)])
        studies = Study.objects.bulk_create([
            Study(patient_id=tp.patient_id, timepoint=tp, study_instance_uid=f"2.25.{tp.pk}", study_date=tp.date)
            for tp in timepoints])
        series = Series.objects.bulk_create([
            Series(study=s, series_instance_uid=f"2.25.1{s.pk}", modality="CT", sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
                   convolution_kernel=kernels[s.pk % 4], slice_thickness_mm=1.0, pixel_spacing_row_mm=0.7,
                   pixel_spacing_column_mm=0.7, kvp=120.0, manufacturer="SIEMENS") for s in studies])
        segmentations = Segmentation.objects.bulk_create([
            Segmentation(kind="labelmap", image_series=s, file=f"bench/{s.pk}.nrrd", sha256=f"{s.pk:064d}") for s in series])
        by_patient = {}
        for lesion in lesions:
            by_patient.setdefault(lesion.patient_id, []).append(lesion)
        study_patient = {s.pk: s.patient_id for s in studies}
        series_study = {s.pk: s.study_id for s in series}
        segments = Segment.objects.bulk_create([
            Segment(segmentation=g, number=k + 1, label=lesion.label, lesion=lesion, lesion_mapping="label",
                    mask_file=f"bench/{g.pk}-{k}.nrrd", mask_sha256="0" * 64, voxel_count=100, volume_mm3=100.0)
            for g in segmentations for k, lesion in enumerate(by_patient[study_patient[series_study[g.image_series_id]]])],
            batch_size=2000)
    with transaction.atomic():
        batch = []
        for segment in segments:
            values = rng.lognormal(3.0, 1.0, len(names))
            batch.append(FeatureSet(segment=segment, profile=profile, region="lesion", status="done",
                                    features=orjson.loads(orjson.dumps(dict(zip(names, values.tolist())))),
                                    feature_count=len(names)))
            if len(batch) == 500:
                FeatureSet.objects.bulk_create(batch)
                batch = []
        FeatureSet.objects.bulk_create(batch)
    return time.perf_counter() - started


def measure(args):
    """Time delta_refresh_patients over the whole cohort and the pandas peer on a sample (fresh process)."""
    import numpy as np

    from analytics.compute.delta import is_additive
    from analytics.models import DeltaFeature
    from analytics.services import delta_refresh_patients
    from imaging.models import FeatureSet
    from imaging.selectors import feature_table
    from patients.models import Patient

    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    pairs = [tuple(p.split(":")) for p in args.pairs]
    from django.conf import settings

    settings.RADIMMUNO_DELTA_PAIRS = pairs
    settings.DEBUG = False  # as in production: with DEBUG, Django keeps every query's SQL and parameters in memory
    started = time.perf_counter()
    stored = delta_refresh_patients(ids)
    ours = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sample = ids[:50]
    started = time.perf_counter()
    wide = feature_table(FeatureSet.objects.filter(segment__lesion__patient__in=sample), layout="wide")
    features = [c for c in wide.columns if "_" in c and c not in ("segment_label", "segment_number", "feature_set")]
    wide = wide.sort_values(["patient", "lesion", "timepoint"])
    first = wide.groupby(["patient", "lesion"]).nth(0).set_index(["patient", "lesion"])[features]
    second = wide.groupby(["patient", "lesion"]).nth(1).set_index(["patient", "lesion"])[features]
    absolute = second - first
    relative = absolute / first.abs()
    additive = np.array([is_additive(c) for c in features])
    per_patient_before = first.groupby("patient").agg(["sum", "mean"])
    per_patient_after = second.groupby("patient").agg(["sum", "mean"])
    assert len(relative) == len(sample) * args.lesions and per_patient_before.shape == per_patient_after.shape
    assert additive.any()
    peer = (time.perf_counter() - started) / len(sample) * len(ids)
    rows = DeltaFeature.objects.count()
    print(json.dumps({"patients": len(ids), "stored_rows": stored, "rows_in_table": rows, "seconds": ours,
                      "peak_rss_mb": peak_mb, "peer_seconds_extrapolated": peer, "pairs": args.pairs}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--timepoints", type=int, default=8)
    parser.add_argument("--lesions", type=int, default=5)
    parser.add_argument("--features", type=int, default=1500)
    parser.add_argument("--pairs", nargs="+", default=["baseline:first_follow_up"])
    parser.add_argument("--database-url")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "radimmuno-bench-delta"))
    parser.add_argument("--stage", choices=["seed", "measure"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    name = f"delta-{args.patients}x{args.timepoints}x{args.lesions}x{args.features}.sqlite3"
    url = args.database_url or f"sqlite:///{Path(args.cache) / name}"
    if args.stage:
        _django(url)
        if args.stage == "seed":
            print(json.dumps({"seeded_s": seed(args)}))
        else:
            measure(args)
        return
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    common = [sys.executable, __file__, "--patients", str(args.patients), "--timepoints", str(args.timepoints),
              "--lesions", str(args.lesions), "--features", str(args.features), "--cache", args.cache,
              "--pairs", *args.pairs, *(["--database-url", args.database_url] if args.database_url else [])]
    print(f"cohort {args.patients} patients x {args.timepoints} timepoints x {args.lesions} lesions x "
          f"{args.features} features ({url}) ...", flush=True)
    proc = subprocess.run([*common, "--stage", "seed"], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    seeded = json.loads(proc.stdout.strip().splitlines()[-1])["seeded_s"]
    if seeded:
        print(f"  seeded in {seeded:.0f} s")
    proc = subprocess.run([*common, "--stage", "measure"], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        sys.exit(proc.stderr[-3000:])
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\ndelta_refresh_patients, pairs {', '.join(r['pairs'])}, per lesion and per patient (2 aggregations):")
    print(f"  {r['seconds']:.1f} s for {r['patients']} patients ({r['seconds'] / r['patients'] * 1000:.1f} ms each), "
          f"{r['stored_rows']} rows stored, peak memory {r['peak_rss_mb']:.0f} MB")
    print(f"  peer: feature_table (wide) + pandas, same pair, {r['peer_seconds_extrapolated']:.1f} s extrapolated "
          f"from 50 patients")
    print(f"  goal < 30 s and < 1 GB: {'met' if r['seconds'] < 30 and r['peak_rss_mb'] < 1024 else 'NOT met'}")


if __name__ == "__main__":
    main()
