"""The command-line report of every all-or-nothing import (clinical, measurements, features)."""
from django.core.management.base import CommandError


def write_import_report(command, report, *, dry_run):
    """Print an import report: problems first (and exit non-zero), then what the file holds — as written, or as it
    would have been written (a refused import or a dry run writes nothing)."""
    if report.problems:
        command.stderr.write(f"Rejected: {len(report.problems)} problem(s); nothing was written:")
        for problem in report.problems:
            command.stderr.write(f"  {problem}")
    elif dry_run:
        command.stdout.write(command.style.WARNING("Dry run: the file is valid; nothing was written."))
    if report.problems or dry_run:
        command.stdout.write("What the file would have written, once valid and imported for real:")
    for line in report.summary_lines():
        command.stdout.write(line)
    if report.problems:
        raise CommandError("Import rejected. Fix the rows above and run it again.")
    if not dry_run:
        command.stdout.write(command.style.SUCCESS("Import applied."))
