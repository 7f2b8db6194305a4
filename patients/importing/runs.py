"""The skeleton every import shares: the size limit, the header, checking and writing the rows, the ``ImportRun``.

``run_import`` never raises for anything a file can hold: every defect is a problem of the report (with its row
where it has one), and every run is recorded as an ``ImportRun``, whatever happened.
"""
import hashlib
import logging
import traceback
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction

from ..models import ImportRun
from ..services import RecordsChanged
from .files import open_rows
from .reports import ImportFileError, ImportReport, Problem

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: Problems kept in a report and its ImportRun: a file with more gets the first ones and a count of the rest.
MAX_PROBLEMS = 1000


def max_import_bytes():
    """The largest file an import reads (``RADIMMUNO_IMPORT_MAX_BYTES``; the command line and the pages alike)."""
    return int(getattr(settings, "RADIMMUNO_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def size_text(n):
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def too_large_problem(limit=None):
    limit = max_import_bytes() if limit is None else limit
    return Problem(0, "", f"The file is larger than {size_text(limit)}, the most an import takes "
                          "(RADIMMUNO_IMPORT_MAX_BYTES); nothing was checked or written. Split it into smaller "
                          "files (by site or by year, say) and import each.")


def header_problems(header, *, known, required=None, ignored=lambda column: False):
    """Problems of a header row: missing required columns (``{column: message}``), unknown and repeated ones."""
    problems = []
    for column, message in (required or {}).items():
        if column not in header:
            problems.append(Problem(1, column, message))
    for column in header:
        if column and column not in known and not ignored(column):
            problems.append(Problem(1, column[:100], "Unknown column; see docs/import.md for the layout."))
    duplicates = {c for c in header if c and header.count(c) > 1}
    for column in sorted(duplicates):
        problems.append(Problem(1, column[:100], "This column appears more than once."))
    return problems


def ignored_redcap(column):
    """REDCap's own housekeeping columns, which every import accepts and ignores."""
    return column in {"redcap_event_name", "redcap_data_access_group", "redcap_survey_identifier"} or (
        column.endswith("_complete"))


def _counted(rows, report):
    for number, row in rows:
        report.rows += 1
        yield number, row


def _flattened(rows):
    """Rows for an ``apply`` that knows ``__error__`` only: cell defects become a row error naming the columns."""
    for number, row in rows:
        errors = row.get("__errors__")
        if errors:
            row = {"__error__": "; ".join(f"column '{column}': {message}" for column, message in errors)}
        yield number, row


def run_import(*, data: bytes, filename: str, kind, check_header, apply=None, validate=None, dry_run=False,
               user=None, report=None) -> ImportReport:
    """Read a file, check its header and its rows, write them in one transaction, record the run; returns the report.

    ``check_header(header, report)`` adds header problems. Then either

    * ``validate(rows, report)`` (the clinical import) checks every row without writing — reads only, outside any
      transaction, so no write lock is held while a large file is checked — and returns the function that writes
      the checked rows; it is called in one short transaction only when there is no problem and it is not a dry
      run; or
    * ``apply(rows, report)`` (the imaging imports) checks and writes the rows inside one transaction, rolled back
      on any problem or a dry run (``rows`` a list).

    A file larger than ``RADIMMUNO_IMPORT_MAX_BYTES`` is refused unread. A database error (e.g. a concurrent import
    of the same rows) is reported, never raised; so is anything unexpected (its traceback goes to the server log,
    without the file's values). Always records an ``ImportRun`` of ``kind``. ``report``: a prepared report
    (problems already in it are kept).
    """
    if report is None:
        report = ImportReport(filename="", sha256="")
    report.filename, report.dry_run, report.kind = Path(filename).name[:255], dry_run, kind
    limit = max_import_bytes()
    if len(data) > limit:
        report.sha256 = ""  # not read, not hashed
        report.problems.append(too_large_problem(limit))
        return _finish(report, user)
    report.sha256 = hashlib.sha256(data).hexdigest()
    try:
        rows = open_rows(data, filename, max_bytes=limit)
        check_header(rows.header, report)
        if report.problems:
            return _finish(report, user)
        if validate is not None:
            write = validate(_counted(rows, report), report)
            if report.problems or dry_run or write is None:
                return _finish(report, user)
            with transaction.atomic():
                write()
                record_run(report, user)  # committed with the rows it wrote
        else:
            rows = list(_counted(_flattened(rows), report))
            with transaction.atomic():
                apply(rows, report)
                if report.problems or dry_run:
                    transaction.set_rollback(True)
    except ImportFileError as exc:
        report.problems.append(Problem(exc.row, exc.column, exc.message))
    except RecordsChanged:
        report.run_id = None  # a run recorded inside the rolled-back transaction is gone
        report.problems.append(Problem(0, "", "Records of this file were changed in the database while it was "
                                              "being checked (an edit, or another import); nothing was written. "
                                              "Run the import again."))
    except DatabaseError as exc:
        report.run_id = None
        report.problems.append(Problem(0, "", f"The database refused the import ({type(exc).__name__}); nothing "
                                              "was written. Another import may have written the same rows: run "
                                              "it again."))
    except Exception as exc:  # noqa: BLE001 - a file must never end in a traceback shown to its uploader
        report.run_id = None
        # the type and where, not the message: a message may quote a value of the file
        logger.error("%s import failed unexpectedly: %s\n%s", kind, type(exc).__name__,
                     "".join(traceback.format_tb(exc.__traceback__)))
        report.problems.append(Problem(0, "", f"The import failed unexpectedly ({type(exc).__name__}); nothing was "
                                              "written. The error is in the server log for the administrators."))
    return _finish(report, user)


def _finish(report, user):
    if len(report.problems) > MAX_PROBLEMS:
        rest = len(report.problems) - MAX_PROBLEMS
        del report.problems[MAX_PROBLEMS:]
        report.problems.append(Problem(0, "", f"… and {rest:,} more problems, not listed: correct the ones above "
                                              "and import the file again."))
    record_run(report, user)
    return report


def record_run(report, user=None):
    """Create (or, once created, complete) the ``ImportRun`` row of this report. Returns it."""
    status = (ImportRun.Status.REJECTED if report.problems else
              ImportRun.Status.DRY_RUN if report.dry_run else ImportRun.Status.APPLIED)
    fields = {
        "kind": report.kind, "filename": report.filename, "sha256": report.sha256, "status": status,
        "rows": report.rows, "summary": report.counts,
        "problems": [{"row": p.row, "column": p.column, "message": p.message} for p in report.problems],
        "started_by": user if (user is not None and user.is_authenticated) else None,
    }
    if report.run_id and ImportRun.objects.filter(pk=report.run_id).update(**fields):
        return ImportRun.objects.get(pk=report.run_id)
    run = ImportRun.objects.create(**fields)
    report.run_id = run.pk
    return run
