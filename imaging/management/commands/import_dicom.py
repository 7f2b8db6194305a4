from contextlib import nullcontext
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from imaging.ingest import Ingest, count_inputs, ingest_paths, job_manifest, job_manifest_append
from imaging.models import IngestJob
from imaging.choices import IngestSource, QuarantineReason
from imaging.services.radiomics import auto_extract_deferred
from radimmuno.jobs import run_job


class Command(BaseCommand):
    help = ("Ingest DICOM files, folders (recursively) and zip archives, with label maps (NIfTI/NRRD) next to "
            "their series. Prints what was stored, duplicated, in conflict and rejected (with reasons).")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--resample", action="store_true",
                            help="resample a label map whose grid differs from its series (recorded)")
        parser.add_argument("--reference-series", default="", help="Series Instance UID the label maps belong to")
        parser.add_argument("--no-extract", action="store_true",
                            help="store the masks without extracting radiomics now (run extract_features later); "
                                 "the default follows RADIMMUNO_AUTO_EXTRACT")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, paths, resample, reference_series, no_extract, no_progress, **options):
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            raise CommandError(f"not found: {', '.join(missing)}")
        total = count_inputs(paths)
        job = IngestJob.objects.create(
            source=IngestSource.IMPORT, label=" ".join(paths)[:255], files_total=total,
            options={"resample": resample, "reference_series_uid": reference_series},
        )
        with open(job_manifest(job), "w", encoding="utf-8") as handle:
            for path in paths:
                job_manifest_append(job, f"path:{Path(path).resolve()}", path, handle)
        bar = tqdm(total=total, unit="file", disable=no_progress, file=self.stderr, dynamic_ncols=True)

        def work(job):
            ingest = Ingest(job, resample=resample, reference_series_uid=reference_series,
                            progress=lambda outcome: bar.update(1))
            with auto_extract_deferred() if no_extract else nullcontext():
                ingest_paths(ingest, paths)
                return ingest.finish()

        run_job(IngestJob, job.pk, work)
        bar.close()
        job.refresh_from_db()
        if job.status == "pending":  # a passing failure: its manifest stays, the reconciler runs it again
            raise CommandError(f"import not finished, it will be re-run (job #{job.pk}): {job.error}")
        job_manifest(job).unlink(missing_ok=True)
        if job.status == "failed":
            raise CommandError(f"import failed: {job.error}")
        self.stdout.write(summary_text(job))


def summary_text(job):
    lines = [
        f"Ingest job #{job.pk}: {job.files_done} file(s) read in {job.duration_s or 0:.1f} s",
        f"  stored:      {job.stored}",
        f"  duplicates:  {job.duplicates} (already stored, same content)",
        f"  conflicts:   {job.conflicts} (same SOP Instance UID, other content; kept in quarantine)",
        f"  rejected:    {job.rejected} (bad input; kept in quarantine)",
        f"  quarantined: {job.quarantined} (valid, waiting for a curator: unknown patient, missing series, ...)",
        f"  segmentations: {job.segmentations}",
    ]
    reasons = (job.summary or {}).get("reasons", {})
    if reasons:
        lines.append("Reasons:")
        labels = dict(QuarantineReason.choices)
        for code, entry in sorted(reasons.items()):
            lines.append(f"  {labels.get(code, code)} x{entry['count']}, e.g. {entry['example']}")
    for series in (job.summary or {}).get("series", []):
        status = series["volume"]
        detail = series["message"] or "; ".join(series.get("warnings") or [])
        lines.append(f"Series {series['modality']} {series['description'] or series['uid']}: "
                     f"{series['instances']} instance(s), volume {status}" + (f" - {detail}" if detail else ""))
    return "\n".join(lines)
