from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from patients.importer import import_clinical
from radimmuno.reports import write_import_report


class Command(BaseCommand):
    help = (
        "Import a flat clinical file (CSV or XLSX, REDCap export layout; see docs/import.md). "
        "All-or-nothing: any bad row leaves the database unchanged and is reported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the .csv or .xlsx file")
        parser.add_argument("--dry-run", action="store_true", help="validate and report without writing")

    def handle(self, *args, file, dry_run, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        report = import_clinical(data=path.read_bytes(), filename=path.name, dry_run=dry_run)
        write_import_report(self, report, dry_run=dry_run)
