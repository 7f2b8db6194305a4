from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from patients.importer import import_clinical, max_import_bytes
from radimmuno.reports import write_import_report


class Command(BaseCommand):
    help = (
        "Import a flat clinical file (CSV or XLSX, REDCap export layout; see docs/import.md). "
        "All-or-nothing: any bad row leaves the database unchanged and is reported. Files larger than "
        "RADIMMUNO_IMPORT_MAX_BYTES (default 20 MB) are refused unread."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the .csv or .xlsx file")
        parser.add_argument("--dry-run", action="store_true", help="validate and report without writing")

    def handle(self, *args, file, dry_run, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        # never more than the limit in memory: a larger file is read only that far, and refused (and recorded)
        with path.open("rb") as f:
            data = f.read(max_import_bytes() + 1)
        report = import_clinical(data=data, filename=path.name, dry_run=dry_run)
        write_import_report(self, report, dry_run=dry_run)
