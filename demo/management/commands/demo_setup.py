from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from demo.services import (
    demo_clinic_create,
    EXTRACT_COMMAND,
    demo_radiomics_log_path,
    demo_radiomics_start,
    demo_radiomics_unfinished,
)
from patients.models import Patient
from patients.services import care_team_follow

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "radimmuno-demo"


class Command(BaseCommand):
    help = ("Local demo only: seed the demo cohort and its imaging if the database is empty, create the demo "
            "login, and extract the demo radiomics in the background (log in MEDIA_ROOT/logs/).")

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=120)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--imaging-patients", type=int, default=2,
                            help="synthetic CT + lesion SEG for the first N patients (default 2)")
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="where the app will be served")
        parser.add_argument(
            "--radiomics", choices=["background", "later", "now"], default="background",
            help="demo radiomics: extract in a background process after the login line (default), leave pending "
                 f"for `manage.py {' '.join(EXTRACT_COMMAND)}`, or extract now before the login line")

    def handle(self, *args, patients, seed, url, imaging_patients=2, radiomics="background", **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup creates a known login and is for local development (DEBUG) only.")
        if not Patient.objects.exists():
            self.stdout.write(f"Empty database: seeding a demo cohort of {patients} patients ...")
            call_command("seed_demo", patients=patients, seed=seed, imaging_patients=imaging_patients,
                         radiomics="now" if radiomics == "now" else "later", stdout=self.stdout)
            clinic = demo_clinic_create()
            self.stdout.write(f"Added {len(clinic)} patients in the clinic today (the worklist's work: "
                              f"{', '.join(p.study_id for p in clinic)}).")
        User = get_user_model()
        user, created = User.objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = user.is_superuser = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        for patient in Patient.objects.filter(study_id__startswith="DEMO-CLINIC-"):
            care_team_follow(patient=patient, user=user)  # the worklist's "my patients" has something to show
        self.stdout.write(self.style.SUCCESS(
            f"\nDemo login  →  username: {DEMO_USERNAME}   password: {DEMO_PASSWORD}\n"
            f"Open {url} (curation admin at {url}admin/, API docs at {url}api/docs/)\n"
        ))
        pending = demo_radiomics_unfinished()
        if not pending:
            return
        if radiomics == "background":
            pid, started = demo_radiomics_start()
            what = "extracting in a background process" if started else "still being extracted by process"
            self.stdout.write(
                f"Demo radiomics: {pending} feature sets {what} {pid}; progress on the imaged patients' pages "
                f"(Scans panel) and in {demo_radiomics_log_path()}.\n")
        else:
            self.stdout.write(f"Demo radiomics: {pending} feature sets pending; "
                              f"`manage.py {' '.join(EXTRACT_COMMAND)}` extracts them.\n")
