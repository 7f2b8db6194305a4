import getpass
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from exports.compute.errors import ExportError
from exports.models import ExportProject
from exports.services import dataset_export_run
from patients.choices import TumourType


def _operator():
    """Who runs the command, for the export's record (the operating-system account)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class Command(BaseCommand):
    help = ("Write the de-identified research dataset (one file per table and manifest.json) into a new directory. "
            "See docs/export.md.")

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, help="a directory that does not exist yet (or is empty)")
        parser.add_argument("--format", choices=["csv", "parquet"], default="csv", help="default csv")
        parser.add_argument("--site", nargs="+", default=[], metavar="CODE", help="only these sites (codes)")
        parser.add_argument("--tumour-type", nargs="+", default=[], choices=TumourType.values, metavar="TYPE",
                            help=f"only these tumour types ({', '.join(TumourType.values)})")
        parser.add_argument("--drug-class", nargs="+", default=[], metavar="CLASS",
                            help="only patients treated with these drug classes (e.g. anti_pd1)")
        parser.add_argument("--project", metavar="SLUG",
                            help="the export project: its pseudonyms (keyed hash) and its slug as SDTM STUDYID")
        parser.add_argument("--sdtm", action="store_true", help="also write the SDTM TU, TR and RS domains")

    def handle(self, *args, output, format, site, tumour_type, drug_class, project, sdtm, **options):
        if project:
            found = ExportProject.objects.filter(slug=project).first()
            if found is None:
                known = ", ".join(ExportProject.objects.values_list("slug", flat=True)) or "none yet (create one in the admin)"
                raise CommandError(f"Unknown export project {project!r}; the projects are: {known}.")
            project = found
        filters = {"site": site, "tumour_type": tumour_type, "drug_class": drug_class}
        bar = tqdm(unit=" rows", unit_scale=True, file=sys.stderr, disable=options.get("verbosity", 1) == 0,
                   dynamic_ncols=True)

        current = [None]

        def progress(table, rows):
            if current[0] != table:
                current[0] = table
                bar.set_description(table)
            bar.update(rows)

        try:
            row = dataset_export_run(output=output, fmt=format, filters=filters, project=project, sdtm=sdtm,
                                     operator=_operator(), progress=progress)
        except ExportError as exc:
            raise CommandError(exc.message) from None
        finally:
            bar.close()
        if row.status != "done":
            raise CommandError(f"Export #{row.pk} failed: {row.error}")
        counts = ", ".join(f"{name} {n}" for name, n in row.row_counts.items())
        self.stdout.write(self.style.SUCCESS(f"Export #{row.pk} written to {row.output_dir}: {counts} rows; "
                                             f"checksums in manifest.json."))
