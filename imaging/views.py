from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.views.decorators.http import require_http_methods

from radimmuno.htmx import render_page

from . import selectors, services
from .forms import DicomUploadForm
from .models import IngestJob


@login_required
@permission_required("imaging.add_ingestjob", raise_exception=True)
@require_http_methods(["GET", "POST"])
def dicom_upload(request):
    """Drop DICOM files / a zip (and label maps): stored, then ingested by a job whose progress the page polls."""
    form = DicomUploadForm(request.POST or None, request.FILES or None)
    job = None
    if request.method == "POST" and form.is_valid():
        job = services.upload_job_create(
            files=form.cleaned_data["files"], user=request.user,
            options={"resample": form.cleaned_data["resample"],
                     "reference_series_uid": form.cleaned_data["reference_series_uid"]},
        )
    context = {"form": form, "job": job, "recent": selectors.ingest_jobs_recent(user=request.user)}
    return render_page(request, "imaging/upload.html", "imaging/partials/ingest_job.html", context)


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
    from django.shortcuts import get_object_or_404

    from patients.models import Patient

    from .models import FeatureSet
    from .radiomics import feature_set_retry

    patient = get_object_or_404(Patient, pk=pk)
    if request.method == "POST":
        if not request.user.has_perm("imaging.change_featureset"):
            raise Http404("No such page.")
        fs = get_object_or_404(FeatureSet, pk=request.POST.get("feature_set"),
                               segment__segmentation__image_series__study__patient=patient)
        feature_set_retry(feature_set=fs)
    feature_sets = list(selectors.feature_sets_for_patient(patient))
    context = {"patient": patient, "feature_sets": feature_sets,
               "unfinished": any(not fs.is_finished for fs in feature_sets),
               "can_retry": request.user.has_perm("imaging.change_featureset")}
    return render_page(request, "imaging/patient_radiomics.html", "imaging/partials/radiomics_status.html", context)
