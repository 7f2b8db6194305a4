from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from imaging.radiomics import profile_export_yaml, profile_load_yaml


class Command(BaseCommand):
    help = ("Load a pyradiomics parameter YAML file as an extraction profile (a new version when it changed), "
            "or export a profile with --export.")

    def add_arguments(self, parser):
        parser.add_argument("name", help="profile name, e.g. ct-default")
        parser.add_argument("file", nargs="?", help="pyradiomics parameter file (.yaml)")
        parser.add_argument("--modality", default="", help="CT, MR or PT: extract new segmentations of it automatically")
        parser.add_argument("--ring", action="append", default=[], metavar="INNER-OUTER",
                            help="peritumoral ring in mm, e.g. --ring 0-3 --ring 3-6")
        parser.add_argument("--description", default="")
        parser.add_argument("--inactive", action="store_true", help="store without extracting automatically")
        parser.add_argument("--export", action="store_true", help="print the current version as YAML")

    def handle(self, *args, name, file, modality, ring, description, inactive, export, **options):
        if export:
            from imaging.models import ExtractionProfile

            profile = ExtractionProfile.objects.filter(name=name).order_by("-version").first()
            if profile is None:
                raise CommandError(f"No extraction profile named '{name}'.")
            self.stdout.write(profile_export_yaml(profile))
            return
        if not file:
            raise CommandError("Give the YAML file to load (or --export).")
        rings = []
        for text in ring:
            try:
                inner, outer = (float(v) for v in text.split("-"))
            except ValueError:
                raise CommandError(f"--ring {text}: use INNER-OUTER in mm, e.g. 0-3.") from None
            rings.append([inner, outer])
        try:
            profile, created = profile_load_yaml(name=name, source=file, modality=modality, rings_mm=rings,
                                                 description=description, active=not inactive)
        except ValidationError as exc:
            for messages in exc.message_dict.values():
                for message in messages:
                    self.stderr.write(f"  {message}")
            raise CommandError(f"{file} is not a valid pyradiomics parameter file; nothing was stored.") from None
        verb = "Created" if created else "Unchanged:"
        self.stdout.write(self.style.SUCCESS(f"{verb} {profile} (parameters {profile.params_hash[:12]}, regions "
                                             f"{', '.join(profile.regions)})"))
