from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patients.models import ImportRun, Patient
from patients.selectors import patient_header
from accounts.access import scope
from radimmuno.htmx import render_page

from radimmuno.lazy import lazy_import

from . import selectors, services
from .forms import (
    DicomUploadForm,
    FeatureImportForm,
    LesionForm,
    MeasurementForm,
    MeasurementImportForm,
    TimepointForm,
)
from .compute import viewer
from .models import FeatureSet, IngestJob, Lesion, Segment, Series, Timepoint

ingest = lazy_import("imaging.ingest")  # pydicom, highdicom: loaded by the first upload


@login_required
@permission_required("imaging.add_ingestjob", raise_exception=True)
@require_http_methods(["GET", "POST"])
def dicom_upload(request):
    """Drop DICOM files / a zip (and label maps): stored, then ingested by a job whose progress the page polls."""
    form = DicomUploadForm(request.POST, request.FILES) if request.method == "POST" else DicomUploadForm()
    job = None
    if request.method == "POST" and form.is_valid():
        try:
            job = ingest.upload_job_create(
                files=form.cleaned_data["files"], user=request.user,
                options={"resample": form.cleaned_data["resample"],
                         "reference_series_uid": form.cleaned_data["reference_series_uid"]},
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    if job is not None:
        job.refresh_from_db()  # in the embedded mode the job has run by now (its commit ran it)
    context = {"form": form, "job": job, "recent": selectors.ingest_jobs_recent(user=request.user),
               "radiomics": selectors.ingest_job_radiomics(job) if job is not None and job.status == "done" else None}
    return render_page(request, "imaging/upload.html", "imaging/partials/ingest_job.html", context)


@login_required
@permission_required(("imaging.add_lesionmeasurement", "patients.view_importrun"), raise_exception=True)  # curators
@require_http_methods(["GET", "POST"])
def measurement_import(request):
    """The curators' import of CRF measurements and (second form) of externally computed features.

    Like the clinical import page: all-or-nothing, a dry run by default, the report (every problem with its row,
    column and reason) answered as the page's fragment to htmx.
    """
    which = request.POST.get("import") if request.method == "POST" else None
    posted = {"data": request.POST, "files": request.FILES}
    measurements_form = MeasurementImportForm(**(posted if which == "measurements" else {}), prefix="measurements")
    features_form = FeatureImportForm(**(posted if which == "features" else {}), prefix="features")
    form, report = None, None
    if which == "measurements":
        form = measurements_form
        if form.is_valid():
            upload = form.cleaned_data["file"]
            report = services.measurements_import(data=upload.read(), filename=upload.name,
                                                  dry_run=form.cleaned_data["dry_run"], user=request.user)
    elif which == "features":
        if not request.user.has_perm("imaging.add_externalfeatureset"):
            raise PermissionDenied
        form = features_form
        if form.is_valid():
            upload = form.cleaned_data["file"]
            report = services.features_import(
                data=upload.read(), filename=upload.name, profile=form.cleaned_data["profile"],
                description=form.cleaned_data["description"] or None, dry_run=form.cleaned_data["dry_run"],
                user=request.user)
    recent = scope(ImportRun.objects.filter(kind__in=[ImportRun.Kind.MEASUREMENTS, ImportRun.Kind.FEATURES]),
                   request.user).select_related("started_by")[:10]
    context = {"measurements_form": measurements_form, "features_form": features_form, "form": form,
               "report": report, "recent": recent,
               "can_import_features": request.user.has_perm("imaging.add_externalfeatureset")}
    return render_page(request, "imaging/import.html", "imaging/partials/import_report.html", context)


@login_required
def ingest_job(request, pk):
    """An ingest job's status: the fragment polls itself every 2 s while the job is unfinished."""
    try:
        job = selectors.ingest_job_detail(pk=pk)
    except IngestJob.DoesNotExist:
        raise Http404("No such ingest job.") from None
    if not scope(IngestJob.objects.filter(pk=job.pk), request.user).exists():  # own jobs (network-wide: all)
        raise Http404("No such ingest job.")
    radiomics = selectors.ingest_job_radiomics(job) if job.status == "done" else None
    context = {"job": job, "form": None, "recent": [], "radiomics": radiomics}
    response = render_page(request, "imaging/ingest_job.html", "imaging/partials/ingest_job.html", context)
    if job.is_finished and getattr(request, "htmx", None):
        response["HX-Trigger"] = "ingest-job-finished"  # the upload page's recent-jobs list refreshes
    return response


@login_required
@permission_required("imaging.add_ingestjob", raise_exception=True)
@require_GET
def ingest_jobs_recent(request):
    """The uploader's recent ingest jobs (the upload page's list, refreshed when a job finishes)."""
    return render(request, "imaging/partials/recent_jobs.html",
                  {"recent": selectors.ingest_jobs_recent(user=request.user)})


@login_required
@permission_required("imaging.view_featureset", raise_exception=True)
@require_http_methods(["GET", "POST"])
def patient_radiomics(request, pk):
    """Extraction status per lesion mask; curators retry failures. Polls itself while anything is unfinished."""
    patient = _patient_or_404(request, pk)
    if request.method == "POST":
        if not request.user.has_perm("imaging.change_featureset"):
            raise Http404("No such page.")
        fs = get_object_or_404(FeatureSet, pk=request.POST.get("feature_set"),
                               segment__segmentation__image_series__study__patient=patient)
        services.feature_set_retry(feature_set=fs)
    feature_sets = list(selectors.feature_sets_for_patient(patient))
    dates, grid = selectors.feature_set_grid(feature_sets)
    context = {"patient": patient, "feature_sets": feature_sets, "grid_dates": dates, "grid": grid,
               # every feature set's row: open on its own page, and on the patient page when one failed
               "expanded": any(fs.status == "failed" for fs in feature_sets) or not getattr(request, "htmx", None),
               "unfinished": any(not fs.is_finished for fs in feature_sets),
               "can_retry": request.user.has_perm("imaging.change_featureset")}
    return render_page(request, "imaging/patient_radiomics.html", "imaging/partials/radiomics_status.html", context)


# -- the patient page's imaging panels (lazy-loaded by patients/patient_detail.html, also pages of their own) -------
def _patient_or_404(request, pk):
    try:
        return patient_header(pk=pk, user=request.user)  # a patient of another site is a 404, as a missing one
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None


def _grid_context(request, patient, **forms):
    context = selectors.patient_measurement_grid(patient=patient)
    can_record = request.user.has_perm("imaging.add_lesionmeasurement")
    context["can_record"] = can_record
    if can_record:
        context["timepoint_form"] = forms.get("timepoint_form") or TimepointForm(patient=patient)
        context["lesion_form"] = forms.get("lesion_form") or LesionForm(patient=patient)
        context["open_form"] = forms.get("open_form", "")
    context["error"] = forms.get("error", "")
    return context


def _grid_response(request, patient, *, changed, **forms):
    """The lesion table after a recording: to htmx the table (re-targeted onto itself) and, when something was
    written, the ``lesion-data-changed`` event the response and history panels listen for; else back to the page."""
    if not getattr(request, "htmx", None):  # without JavaScript: back to the patient, or the table with the error
        if changed:
            return redirect(f"{patient.get_absolute_url()}#imaging")
        return render(request, "imaging/patient_measurements.html", _grid_context(request, patient, **forms))
    response = render(request, "imaging/partials/measurement_grid.html", _grid_context(request, patient, **forms))
    response["HX-Retarget"], response["HX-Reswap"] = "#measurement-grid", "outerHTML"
    if changed:
        response["HX-Trigger"] = "lesion-data-changed"
    return response


@login_required
@permission_required("imaging.view_lesionmeasurement", raise_exception=True)
@require_GET
def patient_measurements(request, pk):
    """The patient's lesion table: lesions x timepoints (full page, or the fragment for the patient page). Users who
    may record measurements get the forms to add an assessment or a lesion and to record each cell."""
    patient = _patient_or_404(request, pk)
    return render_page(request, "imaging/patient_measurements.html", "imaging/partials/measurement_grid.html",
                       _grid_context(request, patient))


@login_required
@permission_required("imaging.add_lesionmeasurement", raise_exception=True)
@require_http_methods(["GET", "POST"])
def measurement_cell(request, pk, lesion_pk, timepoint_pk):
    """Record or correct one cell of the lesion table (``measurement_record``): GET the cell's form, POST it. A
    refused value comes back with the model's message next to its field, and nothing is written."""
    patient = _patient_or_404(request, pk)
    lesion = get_object_or_404(Lesion, pk=lesion_pk, patient=patient)
    timepoint = get_object_or_404(Timepoint, pk=timepoint_pk, patient=patient)
    form = MeasurementForm(request.POST if request.method == "POST" else None, lesion=lesion, timepoint=timepoint)
    if request.method == "POST" and form.is_valid():
        try:  # a segmentation's proposed size there is overridden by the clinician's own value
            services.measurement_enter(lesion=lesion, timepoint=timepoint, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _grid_response(request, patient, changed=True)
    context = {"patient": patient, "form": form, "lesion": lesion, "timepoint": timepoint}
    return render_page(request, "imaging/measurement_cell.html", "imaging/partials/measurement_cell_form.html",
                       context)


@login_required
@permission_required("imaging.add_lesionmeasurement", raise_exception=True)
@require_POST
def segment_accept(request, pk, segment_pk):
    """One click: the segmentation's proposed RECIST size becomes the lesion's measurement
    (``segment_measurement_accept``; a manual measurement already there is kept, with the reason shown)."""
    patient = _patient_or_404(request, pk)
    segment = get_object_or_404(Segment, pk=segment_pk, segmentation__image_series__study__patient=patient)
    try:
        services.segment_measurement_accept(segment=segment, user=request.user)
    except ValidationError as exc:
        return _grid_response(request, patient, changed=False, error=" ".join(exc.messages))
    return _grid_response(request, patient, changed=True)


@login_required
@permission_required("imaging.add_lesionmeasurement", raise_exception=True)
@require_POST
def timepoint_add(request, pk):
    """Add an imaging assessment (``timepoint_upsert``); its column appears in the lesion table."""
    patient = _patient_or_404(request, pk)
    form = TimepointForm(request.POST, patient=patient)
    if form.is_valid():
        try:
            services.timepoint_upsert(patient=patient, date=form.cleaned_data["date"], kind=form.cleaned_data["kind"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _grid_response(request, patient, changed=True)
    return _grid_response(request, patient, changed=False, timepoint_form=form, open_form="timepoint")


@login_required
@permission_required("imaging.add_lesion", raise_exception=True)
@require_POST
def lesion_add(request, pk):
    """Add a lesion (``lesion_create``): RECIST 1.1's limits (5 targets, 2 per organ) are the model's messages."""
    patient = _patient_or_404(request, pk)
    form = LesionForm(request.POST, patient=patient)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.lesion_create(patient=patient, label=data["label"], organ=data["organ"], role=data["role"],
                                   nodal=data["nodal"], appeared_at=data["appeared_at"], location=data["location"],
                                   equivocal=data["equivocal"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _grid_response(request, patient, changed=True)
    return _grid_response(request, patient, changed=False, lesion_form=form, open_form="lesion")


@login_required
@permission_required("imaging.view_study", raise_exception=True)
@require_GET
def patient_scans(request, pk):
    """The patient's scans and lesion masks with their radiomics status; polls itself while extraction runs."""
    context = selectors.patient_scans(patient=_patient_or_404(request, pk))
    return render_page(request, "imaging/patient_scans.html", "imaging/partials/scans.html", context)


# -- the scan viewer ----------------------------------------------------------------------------------------------
def _series_or_404(request, pk):
    series = scope(Series.objects.select_related("study__patient", "study__timepoint"), request.user).filter(
        pk=pk).first()
    if series is None:
        raise Http404("No such series.")
    return series


@login_required
@permission_required("imaging.view_series", raise_exception=True)
@require_GET
def series_viewer(request, pk):
    """A series slice by slice: a slider and the arrow keys scroll, presets set the window, each segment is outlined
    with its lesion label, and "key slice" jumps to where its RECIST size was measured. Works without JavaScript
    (the form reloads the page on the chosen slice)."""
    series = _series_or_404(request, pk)
    context = selectors.series_viewer(series=series)
    window = request.GET.get("window")
    context["window"] = window if window in context["windows"] else context["default_window"]
    try:
        z = int(request.GET.get("z", ""))
    except ValueError:
        key = next((s.slice_index for s in context["segments"] if s.slice_index is not None), None)
        z = key if key is not None else context["slices"] // 2
    context["z"] = min(max(z, 0), max(context["slices"] - 1, 0))
    context["patient"] = series.study.patient
    context["window_labels"] = [(w, viewer.WINDOW_LABELS[w]) for w in context["windows"]]
    return render(request, "imaging/series_viewer.html", context)


@login_required
@permission_required("imaging.view_series", raise_exception=True)
@require_GET
def series_slice(request, pk, z):
    """One slice as PNG. Not cached by the browser (``no-store``, radimmuno.middleware: pixels are patient data);
    the viewer keeps the slices it has loaded in memory while the page is open."""
    series = _series_or_404(request, pk)
    window = request.GET.get("window", "mediastinum")
    if window not in viewer.WINDOWS:
        raise Http404(f"Unknown window {window!r}; choose one of {', '.join(viewer.WINDOWS)}.")
    try:
        png = selectors.series_slice_png(series=series, z=z, window=window)
    except IndexError as exc:
        raise Http404(str(exc)) from None
    return HttpResponse(png, content_type="image/png")
