from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from imaging.models import ExtractionProfile
from imaging.services.radiomics import profile_export_yaml, profile_load_yaml, profile_set_active


class Command(BaseCommand):
    help = ("Load a pyradiomics parameter YAML file as an extraction profile (a new version when it changed), "
            "export a profile with --export (loading the export back gives the same profile), or switch its "
            "automatic extraction off and on with --deactivate / --activate.")

    def add_arguments(self, parser):
        parser.add_argument("name", help="profile name, e.g. ct-default")
        parser.add_argument("file", nargs="?", help="pyradiomics parameter file (.yaml), e.g. one made by --export")
        parser.add_argument("--modality", help="CT, MR or PT: extract new segmentations of it automatically")
        parser.add_argument("--ring", action="append", metavar="INNER-OUTER",
                            help="peritumoral ring in mm, e.g. --ring 0-3 --ring 3-6")
        parser.add_argument("--description")
        parser.add_argument("--inactive", action="store_true", help="store without extracting automatically")
        actions = parser.add_argument_group("instead of loading (one of)")
        actions.add_argument("--export", action="store_true",
                             help="print the current version as YAML, with its modality, rings and description")
        actions.add_argument("--params-only", action="store_true",
                             help="with --export: only pyradiomics' parameters (stock pyradiomics refuses the rest)")
        actions.add_argument("--deactivate", action="store_true", help="stop extracting this profile automatically")
        actions.add_argument("--activate", action="store_true", help="extract its latest version automatically again")

    def handle(self, *args, name, file, modality, ring, description, inactive, export, params_only, deactivate,
               activate, **options):
        chosen = [flag for flag, on in (("--export", export), ("--deactivate", deactivate), ("--activate", activate))
                  if on]
        if len(chosen) > 1 or (chosen and file):
            raise CommandError(f"Give a file to load or one of --export, --deactivate, --activate "
                               f"(got {', '.join(chosen + ([file] if file else []))}).")
        if export:
            profile = ExtractionProfile.objects.filter(name=name).order_by("-version").first()
            if profile is None:
                raise CommandError(f"No extraction profile named '{name}'.")
            self.stdout.write(profile_export_yaml(profile, params_only=params_only), ending="")
            return
        if deactivate or activate:
            try:
                profile = profile_set_active(name=name, active=activate)
            except ExtractionProfile.DoesNotExist as exc:
                raise CommandError(str(exc)) from None
            state = "activated: new segmentations are extracted with it" if activate else \
                "deactivated: nothing is extracted with it automatically"
            self.stdout.write(self.style.SUCCESS(f"{profile} {state}."))
            return
        if not file:
            raise CommandError("Give the YAML file to load (or --export, --deactivate, --activate).")
        rings = None
        if ring:
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
