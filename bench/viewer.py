"""The scan viewer's slice tiles: first tile (the series decoded) and scrolling (each next slice), server time.

    .venv/bin/python bench/viewer.py [--slices 120] [--size 512] [--repeat 60]

Writes a synthetic CT series (``--slices`` x ``--size`` x ``--size``, 2 lesions, with its DICOM SEG) with the test
helpers, ingests it with ``import_dicom`` into a throw-away SQLite database, then requests slice PNGs through Django's
test client: the first one (cold: the volume and masks are read and decoded), then --repeat slices in scrolling
order (warm: the decoded series is cached in the web process), for the mediastinum and lung windows. Prints p50 /
p95 / max server time and the PNG size. Goal (issue 13): fast enough to scroll, i.e. well under the ~100 ms a
reader notices between slices.
"""
import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=120)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="radimmuno-bench-viewer-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["DJANGO_MEDIA_ROOT"] = str(tmp / "media")
    os.environ["DJANGO_SETTINGS_MODULE"] = "radimmuno.settings.local"
    os.environ["RADIMMUNO_AUTO_EXTRACT"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from imaging.models import Segment, Series
    from tests.imaging.test_ingest_helpers import patient_with_mrn, write_study

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    patient_with_mrn()
    started = time.perf_counter()
    study = write_study(tmp / "study", shape=(args.slices, args.size, args.size))
    call_command("import_dicom", str(study.ct_dir), str(study.seg), "--no-extract", stdout=io.StringIO())
    print(f"wrote and ingested a {args.slices} x {args.size} x {args.size} CT with its SEG in "
          f"{time.perf_counter() - started:.1f} s")
    series = Series.objects.get(modality="CT")
    key = Segment.objects.filter(segmentation__image_series=series).order_by("slice_index").first().slice_index
    user = get_user_model().objects.create(username="bench", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)

    def tile(z, window):
        t0 = time.perf_counter()
        response = client.get(f"/imaging/series/{series.pk}/slices/{z}.png?window={window}")
        elapsed = time.perf_counter() - t0
        assert response.status_code == 200, response.status_code
        return elapsed, len(response.content)

    cold, size = tile(key, "mediastinum")
    print(f"first tile (series and masks read and decoded): {1000 * cold:.0f} ms, {size / 1024:.0f} KB")
    for window in ("mediastinum", "lung"):
        times, sizes = [], []
        for i in range(args.repeat):
            elapsed, size = tile((key + i) % args.slices, window)
            times.append(elapsed)
            sizes.append(size)
        times.sort()
        print(f"scrolling, {window} window ({args.repeat} slices): p50 {1000 * statistics.median(times):.1f} ms, "
              f"p95 {1000 * times[int(0.95 * (len(times) - 1))]:.1f} ms, max {1000 * times[-1]:.1f} ms, "
              f"{statistics.mean(sizes) / 1024:.0f} KB per PNG")


if __name__ == "__main__":
    main()
