from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from imaging.services import measurements_import
from radimmuno.reports import write_import_report


class Command(BaseCommand):
    help = (
        "Import tumour measurements from a RECIST case report form (CSV or XLSX, one row per lesion reading; see "
        "docs/import.md). Creates timepoints and lesions as needed; all-or-nothing: any bad row leaves the database "
        "unchanged and is reported. The response of every patient whose data changed is recomputed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the .csv or .xlsx file")
        parser.add_argument("--dry-run", action="store_true", help="validate and report without writing")

    def handle(self, *args, file, dry_run, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        report = measurements_import(data=path.read_bytes(), filename=path.name, dry_run=dry_run)
        write_import_report(self, report, dry_run=dry_run)
