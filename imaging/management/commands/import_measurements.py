from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from imaging.services import measurements_import


def write_report(command, report, *, dry_run):
    """Print an import report as ``import_clinical`` does: the summary, then the problems (and exit non-zero)."""
    for line in report.summary_lines():
        command.stdout.write(line)
    if report.problems:
        command.stderr.write(f"{len(report.problems)} problem(s); nothing was written:")
        for problem in report.problems:
            command.stderr.write(f"  {problem}")
        raise CommandError("Import rejected. Fix the rows above and run it again.")
    if dry_run:
        command.stdout.write(command.style.WARNING("Dry run: the file is valid; nothing was written."))
    else:
        command.stdout.write(command.style.SUCCESS("Import applied."))


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
        write_report(self, report, dry_run=dry_run)
