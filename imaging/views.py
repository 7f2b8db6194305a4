from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_http_methods

from patients.models import ImportRun, Patient
from patients.selectors import patient_header
from radimmuno.htmx import render_page

from . import ingest, selectors, services
from .forms import DicomUploadForm, FeatureImportForm, MeasurementImportForm
from .models import FeatureSet, IngestJob


@login_required
@permission_required("imaging.add_ingestjob", raise_exception=True)
@require_http_methods(["GET", "POST"])
def dicom_upload(request):
    """Drop DICOM files / a zip (and label maps): stored, then ingested by a job whose progress the page polls."""
    form = DicomUploadForm(request.POST or None, request.FILES or None)
    job = None
    if request.method == "POST" and form.is_valid():
        job = ingest.upload_job_create(
            files=form.cleaned_data["files"], user=request.user,
            options={"resample": form.cleaned_data["resample"],
                     "reference_series_uid": form.cleaned_data["reference_series_uid"]},
        )
    context = {"form": form, "job": job, "recent": selectors.ingest_jobs_recent(user=request.user)}
    return render_page(request, "imaging/upload.html", "imaging/partials/ingest_job.html", context)


@login_required
@permission_required("imaging.add_lesionmeasurement", raise_exception=True)
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
    recent = ImportRun.objects.filter(kind__in=[ImportRun.Kind.MEASUREMENTS, ImportRun.Kind.FEATURES]).select_related(
        "started_by")[:10]
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
    if not request.user.is_staff and job.started_by_id != request.user.pk:
        raise Http404("No such ingest job.")
    context = {"job": job, "form": None, "recent": []}
    return render_page(request, "imaging/ingest_job.html", "imaging/partials/ingest_job.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def patient_radiomics(request, pk):
    """Extraction status per lesion mask; curators retry failures. Polls itself while anything is unfinished."""
    patient = _patient_or_404(pk)
    if request.method == "POST":
        if not request.user.has_perm("imaging.change_featureset"):
            raise Http404("No such page.")
        fs = get_object_or_404(FeatureSet, pk=request.POST.get("feature_set"),
                               segment__segmentation__image_series__study__patient=patient)
        services.feature_set_retry(feature_set=fs)
    feature_sets = list(selectors.feature_sets_for_patient(patient))
    context = {"patient": patient, "feature_sets": feature_sets,
               "unfinished": any(not fs.is_finished for fs in feature_sets),
               "can_retry": request.user.has_perm("imaging.change_featureset")}
    return render_page(request, "imaging/patient_radiomics.html", "imaging/partials/radiomics_status.html", context)


# -- the patient page's imaging panels (lazy-loaded by patients/patient_detail.html, also pages of their own) -------
def _patient_or_404(pk):
    try:
        return patient_header(pk=pk)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None


@login_required
@require_GET
def patient_measurements(request, pk):
    """The patient's lesions x timepoints measurement grid (full page, or the fragment for the patient page)."""
    context = selectors.patient_measurement_grid(patient=_patient_or_404(pk))
    return render_page(request, "imaging/patient_measurements.html", "imaging/partials/measurement_grid.html",
                       context)


@login_required
@require_GET
def patient_scans(request, pk):
    """The patient's scans and lesion masks with their radiomics status; polls itself while extraction runs."""
    context = selectors.patient_scans(patient=_patient_or_404(pk))
    return render_page(request, "imaging/patient_scans.html", "imaging/partials/scans.html", context)
