"""DICOM ingest speed: the same CT slices pushed with dcmtk's storescu to our dicom_listener and to Orthanc.

    .venv/bin/python bench/ingest.py [--slices 2016] [--data /tmp/radimmuno-bench-ct] [--database-url URL]

Both servers and the client run with TCP_NODELAY=1 (without it dcmtk stalls ~40 ms
per file on loopback). The slices (512 x 512 CT, int16, ~512 KB each, one series) are generated once with
imaging.compute.synthetic_ct and imaging.compute.writers and cached in --data. Our listener runs as ``manage.py dicom_listener`` on a fresh,
migrated database (a throw-away SQLite file unless --database-url is given) with a patient whose MRN is the
slices' Patient ID, so every instance is indexed, not quarantined; Orthanc (Debian's /usr/sbin/Orthanc) runs
with a temporary configuration, storage and index directory on another port, and is stopped afterwards.

Printed per server: instances/s over storescu's wall time (every instance acknowledged = stored), and for our
listener also until its ingest job is done (rows indexed and the series' volume checked after the release);
peak RSS sampled every 20 ms. Our listener also receives half the slices in a separate run, to show that its
peak memory does not grow with the number of instances.
"""
import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
PATIENT_ID = "BENCH-1"
ORTHANC = "/usr/sbin/Orthanc"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_slices(directory, n):
    """n single-frame 512 x 512 CT slices of one series (a synthetic chest, tiled along z), cached."""
    directory = Path(directory)
    existing = sorted(directory.glob("*.dcm"))
    if len(existing) >= n:
        return existing[:n]
    sys.path.insert(0, str(ROOT))
    from pydicom.uid import generate_uid

    from imaging.compute.volume import Geometry
    from imaging.compute.synthetic_ct import synthetic_ct
    from imaging.compute.writers import write_ct_series

    shutil.rmtree(directory, ignore_errors=True)
    chunk = 48
    syn = synthetic_ct((chunk, 512, 512), (0.7, 0.7, 1.25), lesions=[((30.0, 10.0, 0.0), 12.0)], seed=1)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    g = syn.geometry
    print(f"writing {n} CT slices to {directory} ...", flush=True)
    for c in range((n + chunk - 1) // chunk):
        geometry = Geometry(size=g.size, origin=(g.origin[0], g.origin[1], g.origin[2] + c * chunk * g.spacing[2]),
                            spacing=g.spacing, direction=g.direction)
        write_ct_series(syn.array, directory, geometry=geometry, patient_id=PATIENT_ID, study_date="20240101",
                        series_description="bench", study_instance_uid=study, series_instance_uid=series,
                        frame_of_reference_uid=frame, filename_pattern=f"CT{c:03d}_{{index:03d}}.dcm")
    return sorted(directory.glob("*.dcm"))[:n]


class RssSampler(threading.Thread):
    def __init__(self, pid, interval=0.02):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kb, self._halt = pid, interval, 0, threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except OSError:
                return
            time.sleep(self.interval)

    def stop(self):
        self._halt.set()
        self.join()
        return self.peak_kb / 1024


def wait_port(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def storescu(ae_title, port, files, tmp):
    listing = Path(tmp) / f"files-{ae_title}-{len(files)}"
    listing.mkdir(exist_ok=True)
    for f in files:  # storescu takes a folder: link the files to send into one
        target = listing / f.name
        if not target.exists():
            os.symlink(f, target)
    env = dict(os.environ, TCP_NODELAY="1")
    started = time.perf_counter()
    result = subprocess.run(["storescu", "-aec", ae_title, "127.0.0.1", str(port), "+sd", str(listing)],
                            env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"storescu failed: {result.stderr[-2000:]}")
    return elapsed


def bench_listener(files, tmp, database_url, *, stock=False, fsync=False):
    media = Path(tmp) / "media"
    db = Path(tmp) / "listener.sqlite3"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="radimmuno.settings.production", DJANGO_MEDIA_ROOT=str(media),
               DJANGO_SECRET_KEY=secrets.token_urlsafe(64), DJANGO_ALLOWED_HOSTS="localhost",
               DATABASE_URL=database_url or f"sqlite:///{db}", DJANGO_LOG_LEVEL="WARNING")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    subprocess.run([*manage, "shell", "-c", (
        "from patients.models import Site, Patient, PatientIdentity\n"
        "site, _ = Site.objects.get_or_create(code='BENCH', defaults={'name': 'bench'})\n"
        "p, _ = Patient.objects.get_or_create(site=site, study_id='BENCH-1', defaults={'tumour_type': 'nsclc'})\n"
        f"PatientIdentity.objects.get_or_create(patient=p, defaults={{'mrn': '{PATIENT_ID}'}})\n"
        "from imaging.models import Instance, Series, Study\n"
        "Instance.objects.all().delete(); Series.objects.all().delete(); Study.objects.all().delete()\n"
    )], env=env, check=True, capture_output=True)
    port = free_port()
    extra = (["--stock-pynetdicom"] if stock else []) + (["--fsync"] if fsync else [])
    os.sync()  # start with no dirty pages of an earlier run being written back
    server = subprocess.Popen([*manage, "dicom_listener", "--port", str(port), "--host", "127.0.0.1", *extra], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_port(port)
        sampler = RssSampler(server.pid)
        sampler.start()
        wall_start = time.time()
        sent = storescu("RADIMMUNO", port, files, tmp)
        check = subprocess.run([*manage, "shell", "-c", (
            "import time\nfrom imaging.models import IngestJob\n"
            "while IngestJob.objects.filter(status__in=['pending', 'running']).exists(): time.sleep(0.02)\n"
            "j = IngestJob.objects.latest('pk')\n"
            "import json; print(json.dumps({'status': j.status, 'stored': j.stored,"
            " 'finished': j.finished_at.timestamp(),"
            " 'volume': j.summary['series'][0]['volume'] if j.summary.get('series') else None}))"
        )], env=env, capture_output=True, text=True, check=True)
        peak = sampler.stop()
        job = json.loads(check.stdout.strip().splitlines()[-1])
        # when the listener finished the association's job (the checking shell's own start-up is not counted)
        indexed = job["finished"] - wall_start
        return {"seconds": sent, "indexed_seconds": max(sent, indexed), "peak_mb": peak, "job": job}
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_orthanc(files, tmp):
    if not Path(ORTHANC).exists():
        return None
    port, http = free_port(), free_port()
    directory = Path(tempfile.mkdtemp(prefix="orthanc-", dir=tmp))
    config = directory / "config.json"
    config.write_text(json.dumps({
        "Name": "bench", "StorageDirectory": str(directory / "storage"), "IndexDirectory": str(directory / "index"),
        "DicomAet": "ORTHANC", "DicomPort": port, "HttpPort": http, "RemoteAccessAllowed": False, "Plugins": [],
        "SyncStorageArea": True,  # its default, spelled out: every file fsync'ed before the acknowledgement
        "DicomCheckCalledAet": False, "StorageCompression": False,
    }))
    env = dict(os.environ, TCP_NODELAY="1")
    os.sync()
    server = subprocess.Popen([ORTHANC, str(config)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, cwd=directory)
    try:
        wait_port(port)
        sampler = RssSampler(server.pid)
        sampler.start()
        seconds = storescu("ORTHANC", port, files, tmp)
        return {"seconds": seconds, "peak_mb": sampler.stop()}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=2016)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each server (default 3)")
    parser.add_argument("--compare-stock", action="store_true",
                        help="also run the listener on stock pynetdicom (--stock-pynetdicom) in every round")
    parser.add_argument("--fsync", action="store_true",
                        help="also run the listener with --fsync (each file on disk before its acknowledgement, "
                             "as Orthanc's default SyncStorageArea does) in every round")
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "radimmuno-bench-ct"))
    parser.add_argument("--database-url", help="default: a throw-away SQLite file")
    args = parser.parse_args()
    for tool in ("storescu",):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install dcmtk")
    files = make_slices(args.data, args.slices)
    n = len(files)
    size_mb = sum(f.stat().st_size for f in files) / 2**20
    print(f"{n} CT slices 512 x 512, {size_mb:.0f} MB, storescu with TCP_NODELAY=1 on both sides; "
          f"{args.rounds} interleaved rounds (this machine's speed drifts by ±30 % over minutes: compare within "
          "a round)\n", flush=True)
    if not Path(ORTHANC).exists():
        print(f"Orthanc: {ORTHANC} not installed (apt-get install orthanc)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="radimmuno-bench-") as tmp:
        half_dir = Path(tmp) / "half"
        half_dir.mkdir()
        half = bench_listener(files[: n // 2], half_dir, args.database_url)
        for r in range(args.rounds):
            round_dir = Path(tmp) / f"round-{r}"
            round_dir.mkdir()
            order = ["listener", "orthanc"] if r % 2 == 0 else ["orthanc", "listener"]
            if args.compare_stock:
                order.append("stock")
            if args.fsync:
                order.append("fsync")
            result = {}
            for name in order:
                work = round_dir / name
                work.mkdir()
                if name == "orthanc":
                    result[name] = bench_orthanc(files, work)
                else:
                    result[name] = bench_listener(files, work, args.database_url, stock=name == "stock",
                                                  fsync=name == "fsync")
            ours, orthanc = result["listener"], result["orthanc"]
            line = (f"round {r + 1}: dicom_listener {n / ours['seconds']:6.1f}/s acknowledged, "
                    f"{n / ours['indexed_seconds']:6.1f}/s until indexed (job {ours['job']['status']}, "
                    f"{ours['job']['stored']} stored, volume {ours['job']['volume']}), peak RSS "
                    f"{ours['peak_mb']:.0f} MB")
            if orthanc:
                line += (f" | Orthanc {n / orthanc['seconds']:6.1f}/s, peak RSS {orthanc['peak_mb']:.0f} MB"
                         f" | ratio {orthanc['seconds'] / ours['seconds']:.2f} acknowledged, "
                         f"{orthanc['seconds'] / ours['indexed_seconds']:.2f} until indexed")
            if "stock" in result:
                line += f" | stock pynetdicom listener {n / result['stock']['seconds']:6.1f}/s acknowledged"
            if "fsync" in result:
                line += f" | listener --fsync {n / result['fsync']['seconds']:6.1f}/s acknowledged"
                if orthanc:
                    line += f" (ratio {orthanc['seconds'] / result['fsync']['seconds']:.2f})"
            print(line, flush=True)
            rows.append(result)
    ours = [row["listener"] for row in rows]
    print(f"\ndicom_listener (median of {len(rows)}): {median([n / o['seconds'] for o in ours]):7.1f} instances/s "
          f"acknowledged, {median([n / o['indexed_seconds'] for o in ours]):7.1f} instances/s until indexed and "
          f"checked; peak RSS {max(o['peak_mb'] for o in ours):.0f} MB for {n} instances, {half['peak_mb']:.0f} MB "
          f"for {n // 2}")
    if "stock" in rows[0]:
        print(f"dicom_listener on stock pynetdicom: {median([n / row['stock']['seconds'] for row in rows]):7.1f} "
              "instances/s acknowledged")
    if "fsync" in rows[0]:
        print(f"dicom_listener --fsync: {median([n / row['fsync']['seconds'] for row in rows]):7.1f} "
              f"instances/s acknowledged, {median([n / row['fsync']['indexed_seconds'] for row in rows]):7.1f} "
              "until indexed")
    if rows[0]["orthanc"] is None:
        return
    print(f"Orthanc 1.10 (median of {len(rows)}):   {median([n / row['orthanc']['seconds'] for row in rows]):7.1f} "
          f"instances/s; peak RSS {max(row['orthanc']['peak_mb'] for row in rows):.0f} MB")
    print(f"ratio dicom_listener / Orthanc (median of the rounds' ratios): "
          f"{median([row['orthanc']['seconds'] / row['listener']['seconds'] for row in rows]):.2f} acknowledged, "
          f"{median([row['orthanc']['seconds'] / row['listener']['indexed_seconds'] for row in rows]):.2f} "
          "until indexed")


if __name__ == "__main__":
    main()
