from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import scope
from radimmuno.htmx import render_page

from . import selectors, services
from .forms import ClinicalImportForm
from .importer import import_clinical
from .models import ImportRun, Patient

PAGE_SIZE = 25


@login_required
@permission_required("patients.view_patient", raise_exception=True)
def patient_list(request):
    filterset = selectors.patient_list(filters=request.GET, request=request)
    queryset = filterset.qs if filterset.is_valid() else Patient.objects.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.patient_list_rows(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filterset": filterset, "page": page, "query": query.urlencode()}
    return render_page(request, "patients/patient_list.html", "patients/partials/patient_table.html", context)


@login_required
@permission_required("patients.view_patient", raise_exception=True)
def patient_detail(request, pk):
    try:
        context = selectors.patient_detail(pk=pk, user=request.user)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
    context["follows"] = selectors.care_team_follows(patient=context["patient"], user=request.user)
    return render(request, "patients/patient_detail.html", context)


@login_required
@permission_required("patients.view_patient", raise_exception=True)
@require_POST
def care_team(request, pk):
    """Follow the patient (``follow=1``) or stop following (``follow=0``): "my patients" on the worklist and the
    patient list. An htmx request gets the button back; a plain form goes back to the patient page."""
    patient = selectors.patients_visible(user=request.user).filter(pk=pk).first()
    if patient is None:
        raise Http404("No such patient.")
    follow = request.POST.get("follow") == "1"
    services.care_team_follow(patient=patient, user=request.user, follow=follow)
    if getattr(request, "htmx", None):
        return render(request, "patients/partials/care_team.html", {"patient": patient, "follows": follow})
    return redirect(patient)


@login_required
@permission_required("patients.add_patient", raise_exception=True)
@require_http_methods(["GET", "POST"])
def clinical_import(request):
    report = None
    form = ClinicalImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        report = import_clinical(data=upload.read(), filename=upload.name, dry_run=form.cleaned_data["dry_run"],
                                 user=request.user)
    context = {"form": form, "report": report, "recent": scope(ImportRun.objects.select_related("started_by"), request.user)[:10]}
    return render_page(request, "patients/import.html", "patients/partials/import_report.html", context)
