from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from radimmuno.htmx import render_page

from . import selectors, services
from .compute.errors import ExportError
from .forms import DatasetExportForm

PERMISSION = "exports.add_datasetexport"


def _export_or_404(request, pk):
    row = selectors.dataset_exports(user=request.user).filter(pk=pk).first()
    if row is None:
        raise Http404("No such export.")
    return row


@login_required
@permission_required(PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def exports(request):
    """The export page: choose the cohort, project and format and start an export (a background job; success goes
    to its page); below, the exports so far (one's own; staff see everyone's)."""
    form = DatasetExportForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            row = services.dataset_export_create(
                user=request.user, fmt=form.cleaned_data["format"], filters=form.filters(),
                project=form.cleaned_data["project"], sdtm=form.cleaned_data["sdtm"])
        except ExportError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect("exports:export", pk=row.pk)
    page = Paginator(selectors.dataset_exports(user=request.user).defer("manifest"), 20).get_page(
        request.GET.get("page"))
    return render(request, "exports/exports.html", {"form": form, "page": page})


@login_required
@permission_required(PERMISSION, raise_exception=True)
@require_GET
def export(request, pk):
    """One export: its status while pending or running (the fragment polls itself every 2 s), then its files, row
    counts and checksums and the download."""
    row = _export_or_404(request, pk)
    files = [{"file": f["file"], "rows": f["rows"], "bytes": f["bytes"], "sha256": f["sha256"]}
             for f in (row.manifest or {}).get("files", [])]
    context = {"export": row, "files": files, "manifest_sha256": (row.checksums or {}).get("manifest.json", "")}
    return render_page(request, "exports/export.html", "exports/partials/export_status.html", context)


@login_required
@permission_required(PERMISSION, raise_exception=True)
@require_GET
def export_download(request, pk):
    """The zip of a finished page export (its files and manifest.json)."""
    row = _export_or_404(request, pk)
    if row.status != "done" or not row.archive:
        raise Http404("This export has no download: it is not finished, it failed, or it was written by the command.")
    try:
        handle = open(row.archive, "rb")  # noqa: SIM115 - FileResponse closes it
    except OSError:
        raise Http404("The export's zip is no longer on the server; start the export again.") from None
    return FileResponse(handle, as_attachment=True, filename=f"radimmuno-export-{row.pk}.zip",
                        content_type="application/zip")
