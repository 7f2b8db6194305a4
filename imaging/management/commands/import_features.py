from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from imaging.services import features_import

from radimmuno.reports import write_import_report


class Command(BaseCommand):
    help = (
        "Import radiomic features computed by another tool (LIFEx, MIRP, a site's pipeline) in long format: "
        "record_id, lesion, assessment_date, region, feature, value (see docs/import.md). The values are stored "
        "under an external extraction profile (created on first use). All-or-nothing: any bad row leaves the "
        "database unchanged and is reported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the .csv or .xlsx file")
        parser.add_argument("--profile", required=True,
                            help="name of the external profile (a slug, e.g. lifex-ct); never a pyradiomics profile")
        parser.add_argument("--description", default=None,
                            help="the tool, its version and settings (free text). For a new profile it is its "
                                 "parameters; a different description than the latest version's starts the next "
                                 "version")
        parser.add_argument("--dry-run", action="store_true", help="validate and report without writing")

    def handle(self, *args, file, profile, description, dry_run, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        report = features_import(data=path.read_bytes(), filename=path.name, profile=profile,
                                 description=description, dry_run=dry_run)
        write_import_report(self, report, dry_run=dry_run)
