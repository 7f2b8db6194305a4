from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from patients.models import Patient

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "radimmuno-demo"


class Command(BaseCommand):
    help = "Local demo only: seed the demo cohort if the database is empty and create the demo login."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=120)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="where the app will be served")

    def handle(self, *args, patients, seed, url, **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup creates a known login and is for local development (DEBUG) only.")
        if not Patient.objects.exists():
            self.stdout.write(f"Empty database: seeding a demo cohort of {patients} patients ...")
            call_command("seed_demo", patients=patients, seed=seed, stdout=self.stdout)
        User = get_user_model()
        user, created = User.objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = user.is_superuser = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        self.stdout.write(self.style.SUCCESS(
            f"\nDemo login  →  username: {DEMO_USERNAME}   password: {DEMO_PASSWORD}\n"
            f"Open {url} (curation admin at {url}admin/, API docs at {url}api/docs/)\n"
        ))
