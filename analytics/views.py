from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from patients.choices import TumourType
from patients.models import Patient, Site
from radimmuno.htmx import render_page

from . import selectors
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
            "rows": sorted(rows.values(), key=lambda r: r["timepoint"].date),
            "spider": plots.spider(series) if series else "",
            "alerts": selectors.alert_flags(a),
            "overdue": selectors.is_overdue(a),
        })
    unfinished = any(not a.is_finished for a in assessments)
    return {"patient": patient, "panels": panels, "unfinished": unfinished}


@login_required
def patient_response(request, pk):
    patient = Patient.objects.filter(pk=pk).select_related("site").first()
    if patient is None:
        raise Http404("No such patient.")
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
    site = request.GET.get("site", "")
    tumour_type = request.GET.get("tumour_type", "")
    assessments = selectors.cohort_assessments(site=site or None)
    if tumour_type:
        assessments = assessments.filter(patient__tumour_type=tumour_type)
    assessments = list(assessments.prefetch_related("patient__adverse_events"))
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
