"""Writes of the research export: an export's files, its record, and the streamed API download.

Every export is a ``DatasetExport`` row (who, when, what, the checksums), whichever way it was asked for. Files are
written into a temporary directory next to the destination and renamed into place only once complete, so a failed
export leaves nothing behind but its failed row, whose error is a sentence for the user (the traceback goes to the
server log only).
"""
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from patients.selectors import site_codes
from radimmuno.jobs import JobFailed, JobStatus, run_job

from . import selectors
from .compute.errors import ExportError
from .compute.manifest import MANIFEST_NAME, build_manifest, manifest_bytes
from .compute.writers import FORMATS, TableEncoder, sha256_file, write_table_file
from .models import DatasetExport

logger = logging.getLogger(__name__)

ARCHIVE_FOLDER = "radimmuno-export"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same files give the same zip


def export_root():
    """Where the export page's jobs write (RADIMMUNO_EXPORT_DIR, by default MEDIA_ROOT/exports)."""
    return Path(settings.RADIMMUNO_EXPORT_DIR or Path(settings.MEDIA_ROOT) / "exports")


def export_table_names(*, sdtm=False, tables=None):
    """The tables an export writes, in order: ``tables`` if given (checked), else every research table and, with
    ``sdtm``, the three SDTM domains."""
    known = selectors.RESEARCH_TABLES + selectors.SDTM_TABLES
    if tables:
        unknown = [t for t in tables if t not in known]
        if unknown:
            raise ExportError("tables", f"Unknown table {', '.join(unknown)}; the tables are {', '.join(known)}.")
        return [t for t in known if t in tables]
    return list(selectors.RESEARCH_TABLES + (selectors.SDTM_TABLES if sdtm else ()))


def _check_format(fmt):
    if fmt not in FORMATS:
        raise ExportError("format", f"Unknown format {fmt!r}; use csv or parquet.")


def _project_info(project):
    return {"slug": project.slug, "name": project.name, "pseudonymised": project.pseudonymise} if project else None


def write_export(directory, sel, *, fmt, names, progress=None):
    """Write the tables ``names`` of the selection and the manifest into ``directory``; returns the manifest.

    ``progress(table, rows)`` is told as rows are written (rows: the number just written).
    """
    files, written = [], []
    for name in names:
        table, rows = selectors.table_rows(sel, name)
        filename = f"{name}{FORMATS[fmt]}"
        report = (lambda n, name=name: progress(name, n)) if progress else None
        stats = write_table_file(table, rows, Path(directory) / filename, fmt, progress=report)
        files.append({"table": name, "file": filename, **stats})
        written.append(table)
    manifest = build_manifest(
        selection=sel.filters, project=_project_info(sel.project), fmt=fmt, files=files, tables=written,
        profiles=selectors.profiles_used(sel), excluded=sel.excluded,
        exported_at=timezone.now().isoformat(timespec="seconds"))
    (Path(directory) / MANIFEST_NAME).write_bytes(manifest_bytes(manifest))
    return manifest


def _place(temporary, target, *, replace):
    """Move the finished ``temporary`` directory to ``target`` (an empty or missing directory; any, with
    ``replace``: a re-run of the same page export)."""
    if target.exists():
        if replace:
            shutil.rmtree(target)
        else:
            target.rmdir()  # empty (checked before the export started); OSError otherwise
    os.rename(temporary, target)


def _zip(directory, names, archive):
    """A zip of the export's files, written next to ``archive`` then renamed; same files, same bytes."""
    partial = archive.with_name(f".{archive.name}.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name in names:
            info = zipfile.ZipInfo(f"{ARCHIVE_FOLDER}/{name}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(directory / name, "rb") as source, bundle.open(info, "w") as member:
                shutil.copyfileobj(source, member, 1 << 20)
    os.replace(partial, archive)
    return sha256_file(archive)


def check_output_dir(output):
    """The command's destination: a directory that does not exist or is empty, in an existing parent."""
    target = Path(output).expanduser().absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError("output", f"{target} already exists and is not an empty directory; choose a new one "
                                    f"(an export never overwrites files).")
    if not target.parent.is_dir():
        raise ExportError("output", f"The parent directory {target.parent} does not exist.")
    if not os.access(target.parent, os.W_OK):
        raise ExportError("output", f"The directory {target.parent} is not writable.")
    return target


def dataset_export_execute(job, *, progress=None):
    """The job body (``run_job``): select, write every table and the manifest atomically, zip a page export.

    Returns the fields stored with the done status. Idempotent: a re-run writes the same files again and replaces
    its earlier output.
    """
    if job.source == DatasetExport.Source.API:
        raise JobFailed("This streamed download did not finish (the serving process stopped); download it again.")
    page = job.source == DatasetExport.Source.PAGE
    root = export_root()
    target = root / f"export-{job.pk}" if page else Path(job.output_dir)
    temporary = None
    try:
        sel = selectors.export_selection(filters=job.selection, project=job.project)
        names = export_table_names(sdtm=job.sdtm, tables=job.tables)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        manifest = write_export(temporary, sel, fmt=job.format, names=names, progress=progress)
        checksums = {f["file"]: f["sha256"] for f in manifest["files"]}
        checksums[MANIFEST_NAME] = sha256_file(temporary / MANIFEST_NAME)
        _place(temporary, target, replace=page)
        temporary = None
        fields = {"output_dir": str(target), "row_counts": manifest["row_counts"], "checksums": checksums,
                  "manifest": manifest}
        if page:
            archive = root / f"radimmuno-export-{job.pk}.zip"
            fields.update(archive=str(archive), archive_sha256=_zip(target, [*checksums], archive))
        logger.info("export %s written: %s tables, %s rows", job.pk, len(names), sum(manifest["row_counts"].values()))
        return fields
    except ExportError as exc:
        raise JobFailed(exc.message) from None
    except OSError as exc:
        logger.warning("export %s: could not write %s (%s)", job.pk, target, exc.strerror or exc)
        raise JobFailed(f"The files could not be written to {target.parent} ({exc.strerror or exc}); nothing was "
                        f"kept.") from None
    except Exception:
        logger.exception("export %s failed", job.pk)
        raise JobFailed("The export failed on an unexpected error (the server log has the details); nothing was "
                        "kept.") from None
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def _scoped_to_sites(filters, user):
    """The selection narrowed to the user's sites (issue 15: a user exports only the patients they may see); their
    sites when they ask for none. No user (the command line) or a user of every site keeps it as it is. Asking for
    a site the user does not belong to is refused (ExportError), never silently dropped."""
    allowed = site_codes(user) if user is not None else None
    if allowed is None:
        return filters
    filters = dict(filters or {})
    asked = filters.get("site")
    asked = [asked] if isinstance(asked, str) else [s for s in (asked or []) if s]
    foreign = sorted(set(asked) - allowed)
    if foreign or not allowed:
        raise ExportError("site", f"You can export the patients of your sites only "
                                  f"({', '.join(sorted(allowed)) or 'none'}); not {', '.join(foreign) or 'others'}.")
    return {**filters, "site": asked or sorted(allowed)}


def _new_row(*, source, fmt, filters, project, sdtm, user, tables=(), output_dir="", **fields):
    _check_format(fmt)
    names = export_table_names(sdtm=sdtm, tables=list(tables))
    selection = selectors.export_filters(filters)
    return DatasetExport.objects.create(
        source=source, format=fmt, selection=selection, project=project, sdtm=sdtm,
        tables=list(tables) and names, output_dir=output_dir,
        requested_by=user if user is not None and user.is_authenticated else None, **fields)


def dataset_export_run(*, output, fmt="csv", filters=None, project=None, sdtm=False, tables=None, user=None,
                       operator="", progress=None):
    """Export now, in this process, into ``output`` (``manage.py export_dataset``); returns the finished row.
    ``operator`` names who ran it when there is no user (the command's operating-system account).

    Raises ExportError, before anything is recorded, for a selection, format or destination the user must fix.
    A failure while writing leaves no files and the row failed with its reason.
    """
    target = check_output_dir(output)
    selectors.export_selection(filters=filters, project=project)  # refuse a bad selection before recording it
    row = _new_row(source=DatasetExport.Source.COMMAND, fmt=fmt, filters=filters, project=project, sdtm=sdtm,
                   user=user, tables=tables or (), output_dir=str(target), operator=operator)
    run_job(DatasetExport, row.pk, lambda job: dataset_export_execute(job, progress=progress))
    row.refresh_from_db()
    return row


def dataset_export_create(*, user, fmt="csv", filters=None, project=None, sdtm=False):
    """A page export: check the selection (within the user's sites), store the row (pending) and enqueue its job
    after commit."""
    filters = _scoped_to_sites(filters, user)
    selectors.export_selection(filters=filters, project=project)
    with transaction.atomic():
        row = _new_row(source=DatasetExport.Source.PAGE, fmt=fmt, filters=filters, project=project, sdtm=sdtm,
                       user=user)
        row.enqueue()
    return row


def dataset_export_stream(*, user, table, fmt, filters=None, project=None):
    """A streamed download of one table of the user's sites: ``(row, chunks)``. The row is recorded at once (running) and finished by
    the stream: done with its row count and SHA-256, or failed when the client went away or the stream broke.

    Raises ExportError for a selection, table or format the user must fix (nothing recorded then).
    """
    _check_format(fmt)
    filters = _scoped_to_sites(filters, user)
    sel = selectors.export_selection(filters=filters, project=project)
    definition, rows = selectors.table_rows(sel, table)
    now = timezone.now()
    row = _new_row(source=DatasetExport.Source.API, fmt=fmt, filters=filters, project=project, sdtm=False,
                   user=user, tables=[table], status=JobStatus.RUNNING, started_at=now, heartbeat_at=now)
    return row, _stream(row, TableEncoder(definition, fmt), rows, f"{table}{FORMATS[fmt]}")


def _stream(row, encoder, rows, filename):
    rows_of = DatasetExport.objects.filter(pk=row.pk)
    beat_every, last_beat = DatasetExport.heartbeat_interval(), timezone.now()
    try:
        for chunk in encoder.chunks(rows):
            yield chunk
            if timezone.now() - last_beat > beat_every:
                last_beat = timezone.now()
                rows_of.update(heartbeat_at=last_beat)
    except GeneratorExit:
        rows_of.update(status=JobStatus.FAILED, finished_at=timezone.now(),
                       error=f"The download was interrupted after {encoder.rows} rows.")
        raise
    except Exception:
        logger.exception("streamed export %s failed", row.pk)
        rows_of.update(status=JobStatus.FAILED, finished_at=timezone.now(),
                       error="The download failed on an unexpected error (the server log has the details).")
        raise
    rows_of.update(status=JobStatus.DONE, finished_at=timezone.now(), error="",
                   row_counts={row.tables[0]: encoder.rows}, checksums={filename: encoder.sha256})
