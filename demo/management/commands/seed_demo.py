import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from analytics.services import delta_refresh_patients, response_recompute_patients
from demo.services import (
    EXTRACT_COMMAND,
    demo_cohort_create,
    demo_features_create,
    demo_imaging_create,
    demo_patients_for_imaging,
    demo_radiomics_extract,
    demo_radiomics_request,
)
from imaging.services import auto_extract_deferred, auto_extract_enabled
from patients.models import Patient


class Command(BaseCommand):
    help = ("Create a realistic synthetic demo cohort (patients, ICI regimens, biomarkers, irAEs, lesions, outcomes), "
            "its response assessments, and synthetic CT + lesion SEG for the first patients.")

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=200, help="number of patients (default 200)")
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when patients already exist")
        parser.add_argument("--imaging-patients", type=int, default=2,
                            help="synthetic CT + lesion SEG per assessment for the first N patients (default 2)")
        parser.add_argument("--radiomics", choices=["now", "later"], default="now",
                            help="extract the demo masks' radiomics now (default), or leave the feature sets "
                                 f"pending for `manage.py {' '.join(EXTRACT_COMMAND)}`")

    def handle(self, *args, patients, seed, if_empty, imaging_patients=2, radiomics="now", **options):
        if patients < 1:
            raise CommandError("--patients must be at least 1.")
        if if_empty and Patient.objects.exists():
            self.stdout.write("Patients already exist; demo cohort not seeded.")
            return
        started = time.perf_counter()

        def progress(step, total):
            width = 30
            done = int(width * step / total)
            self.stdout.write(f"\r[{'#' * done}{'.' * (width - done)}] {step}/{total}", ending="")
            self.stdout.flush()

        with transaction.atomic():
            created = demo_cohort_create(n=patients, seed=seed, progress=progress)
        self.stdout.write("")
        # Bulk writes send no signals: compute the cohort's response assessments here, in this process.
        assessed = response_recompute_patients(created)
        self.stdout.write(f"Response assessments computed: {assessed}.")
        features = demo_features_create(patients=created, seed=seed)
        deltas = delta_refresh_patients([p.pk for p in created])
        self.stdout.write(f"Synthetic radiomic features (profile demo-features): {features} feature sets, "
                          f"{deltas} delta-radiomics rows.")
        if imaging_patients > 0:
            extract = auto_extract_enabled()
            with auto_extract_deferred():  # one batch below instead of one task per mask
                job = demo_imaging_create(patients=demo_patients_for_imaging(created, imaging_patients), seed=seed,
                                          progress=progress)
            self.stdout.write("")
            self.stdout.write(f"Demo imaging: {job.stored} DICOM objects, {job.segmentations} segmentations.")
            if extract and radiomics == "now":
                done, failed = demo_radiomics_extract(job)
                self.stdout.write(f"Radiomics: {done} feature sets extracted, {failed} failed (see the status page).")
            elif extract:
                pending = demo_radiomics_request(job)
                self.stdout.write(f"Radiomics: {len(pending)} feature sets pending "
                                  f"(`manage.py {' '.join(EXTRACT_COMMAND)}` extracts them).")
        self.stdout.write(self.style.SUCCESS(
            f"Created {len(created)} demo patients (seed {seed}) in {time.perf_counter() - started:.1f} s."
        ))
