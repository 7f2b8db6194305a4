from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from patients.choices import TumourType
from patients.models import Patient, Site
from patients.selectors import patient_header
from radimmuno.htmx import render_page

from . import selectors
from .filtersets import ResponseAssessmentFilterSet
from .compute import plots
from .models import ResponseAssessment

WORKLIST_KINDS = [("", "All alerts"), ("awaiting", "iUPD awaiting confirmation"), ("overdue", "Overdue confirmation"),
                  ("hyperprogression", "Hyperprogression"), ("dissociated", "Dissociated response")]


def _panel_context(patient):
    assessments = list(
        ResponseAssessment.objects.filter(patient=patient).select_related("regimen").prefetch_related(
            "regimen__agents", "timepoint_responses__timepoint")
    )
    panels = []
    for a in assessments:
        rows = {}
        for tr in a.timepoint_responses.all():
            row = rows.setdefault(tr.timepoint_id, {"timepoint": tr.timepoint, "common": tr})
            row["recist" if tr.criteria == "recist1.1" else "irecist"] = tr
        series = []
        if a.result:
            points = [(t["days_from_treatment_start"], t["pct_change_from_baseline"], t["irecist_tpr"])
                      for t in a.result["timepoints"] if t["kind"] == "follow-up"]
            if points:
                series = [{"label": patient.study_id, "points": [(0, 0.0, "")] + points}]
        panels.append({
            "assessment": a,
            "baseline": (a.result or {}).get("baseline"),  # the stored document's baseline (its target sum)
            "rows": sorted(rows.values(), key=lambda r: r["timepoint"].date),
            "spider": plots.spider(series) if series else "",
            "alerts": selectors.alert_flags(a),
            "overdue": selectors.is_overdue(a),
        })
    unfinished = any(not a.is_finished for a in assessments)
    return {"patient": patient, "panels": panels, "unfinished": unfinished}


@login_required
@require_GET
def patient_response(request, pk):
    """The patient's response panel (full page, or the fragment the patient page loads): the engine's stored
    results (``ResponseAssessment``, ``TimepointResponse``), target sums included; polls while recomputing."""
    try:
        patient = patient_header(pk=pk)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
    return render_page(request, "analytics/patient_response.html", "analytics/partials/response_panel.html",
                       _panel_context(patient))


@login_required
def worklist(request):
    kind = request.GET.get("kind", "")
    kind = kind if kind in dict(WORKLIST_KINDS) else ""
    site = request.GET.get("site", "")
    today = timezone.localdate()
    items = [{"assessment": a, "overdue": selectors.is_overdue(a, today), "alerts": selectors.alert_flags(a)}
             for a in selectors.worklist(kind=kind or None, site=site or None, today=today)]
    items.sort(key=lambda i: (not i["overdue"], not i["assessment"].iupd_awaiting_confirmation))
    page = Paginator(items, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"items": page, "page": page, "count": len(items), "kinds": WORKLIST_KINDS, "kind": kind, "site": site,
               "sites": Site.objects.all(), "today": today, "query": query.urlencode()}
    return render_page(request, "analytics/worklist.html", "analytics/partials/worklist_table.html", context)


@login_required
def cohort(request):
    filters = ResponseAssessmentFilterSet(request.GET, queryset=selectors.cohort_assessments())  # as the API
    site, tumour_type = filters.form.data.get("site", ""), filters.form.data.get("tumour_type", "")
    assessments = list(filters.qs.prefetch_related("patient__adverse_events"))
    bars = [(a.patient.study_id, a.best_pct_change, a.irecist_ibor) for a in assessments]
    lanes = []
    for a in assessments[:60]:
        start = a.regimen.start_date
        end = a.regimen.end_date or timezone.localdate()
        events = [((e.onset_date - start).days, "irAE") for e in a.patient.adverse_events.all()
                  if e.onset_date >= start]
        if a.hyperprogression_any and a.result:
            first = next((t for t in a.result["timepoints"] if t["kind"] == "follow-up"), None)
            if first:
                events.append((first["days_from_treatment_start"], "HPD"))
        responses = [(t["days_from_treatment_start"], t["irecist_tpr"]) for t in (a.result or {}).get("timepoints", [])
                     if t["kind"] == "follow-up"]
        lanes.append({"label": a.patient.study_id, "end_day": max(1, (end - start).days),
                      "ongoing": a.regimen.end_date is None, "responses": responses, "events": events})
    context = {
        "waterfall": plots.waterfall(bars) if bars else "",
        "swimmer": plots.swimmer(lanes) if lanes else "",
        "n": len(assessments), "lanes_shown": len(lanes), "site": site, "tumour_type": tumour_type,
        "sites": Site.objects.all(), "tumour_types": TumourType.choices,
    }
    return render(request, "analytics/cohort.html", context)
