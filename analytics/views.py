import hashlib
import json
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.core.cache import cache
from django.db.models import Case, Count, F, Max, When
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from imaging import selectors as imaging_selectors
from patients.choices import DrugClass, TumourType
from accounts.access import scope, site_ids
from patients.models import Patient, Site
from patients.selectors import patient_header, site_codes
from radimmuno.htmx import render_page

from . import selectors, services
from .compute import svgplots, timeline
from .filtersets import ResponseAssessmentFilterSet
from .forms import AnalysisRunForm, ClassificationRunForm
from .models import Alert, ResponseAssessment

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
            "spider": svgplots.spider_svg(series, ident=f"spider-{a.pk}") if series else "",
            "alerts": selectors.alert_flags(a),
            "overdue": selectors.is_overdue(a),
            "today": timezone.localdate(),
            "confirmation_scan": next((item for item in a.awaiting_read if item.get("confirmation")), None),
            "pseudo_resolved_as": next((e.get("resolved_as") for e in ((a.result or {}).get("pseudoprogression") or {})
                                        .get("episodes", []) if e.get("resolved_as")), ""),
        })
    unfinished = any(not a.is_finished for a in assessments)
    return {"patient": patient, "panels": panels, "unfinished": unfinished}


@login_required
@permission_required("analytics.view_responseassessment", raise_exception=True)
@require_GET
def patient_response(request, pk):
    """The patient's response panel (full page, or the fragment the patient page loads): the engine's stored
    results (``ResponseAssessment``, ``TimepointResponse``), target sums included; polls while recomputing."""
    try:
        patient = patient_header(pk=pk, user=request.user)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
    return render_page(request, "analytics/patient_response.html", "analytics/partials/response_panel.html",
                       _panel_context(patient))


@login_required
@permission_required("analytics.view_responseassessment", raise_exception=True)
@require_GET
def patient_timeline(request, pk):
    """The patient's course on one time axis (SVG with its text alternative): regimens, scans coloured by response,
    irAEs by grade, biomarkers, death or last contact. Refreshed when lesion data changes on the page."""
    try:
        patient = patient_header(pk=pk, user=request.user)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
    data = selectors.patient_timeline(patient=patient)
    svg = timeline.timeline_svg(**data, ident=f"timeline-{patient.pk}") if data else ""
    return render_page(request, "analytics/patient_timeline.html", "analytics/partials/timeline_panel.html",
                       {"patient": patient, "svg": svg})


@login_required
@permission_required("analytics.view_responseassessment", raise_exception=True)
@require_GET
def patient_history(request, pk):
    """What changed for the patient and who changed it — measurements, assessments, treatment, follow-up and the
    worklist alerts (raised, acknowledged, resolved) — newest first."""
    try:
        patient = patient_header(pk=pk, user=request.user)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
    entries, total = selectors.patient_history(patient=patient)
    return render_page(request, "analytics/patient_history.html", "analytics/partials/history_panel.html",
                       {"patient": patient, "entries": entries, "total": total})


@login_required
@permission_required("analytics.view_deltafeature", raise_exception=True)
def patient_deltas(request, pk):
    """The patient's delta-radiomics panel (full page, or the fragment the patient page loads): a heatmap of
    relative changes (features of one family × lesions) for a profile, region and pair, acquisition flags,
    refused pairs, and one feature's trend per lesion. Controls re-render the fragment (``hx-get``)."""
    try:
        patient = patient_header(pk=pk, user=request.user)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
    get = request.GET
    panel = selectors.patient_delta_panel(
        patient=patient, profile=get.get("profile"), region=get.get("region", "lesion"),
        reference=get.get("reference", "baseline"), to=get.get("to"), family=get.get("family"),
        feature=get.get("feature"))
    heatmap = trend = ""
    from .compute import delta_plots  # matplotlib: loaded by the first delta-radiomics panel, not at start-up

    if panel["features"] and panel["columns"]:
        heatmap = delta_plots.delta_heatmap_svg(
            panel["features"], panel["columns"], panel["relative"], flagged=panel["flagged"],
            title=f"Relative change, {panel['family']} ({panel['pair'][0]:%Y-%m-%d} → {panel['pair'][1]:%Y-%m-%d})"
            if panel["pair"] else "Relative change")
    if panel["trend"]:
        trend = delta_plots.feature_trend_svg(panel["trend"], feature=panel["feature"])
    context = {"patient": patient, "panel": panel, "heatmap": heatmap, "trend": trend}
    return render_page(request, "analytics/patient_deltas.html", "analytics/partials/delta_panel.html", context)


@login_required
@permission_required("analytics.view_responseassessment", raise_exception=True)
@require_GET
def patient_models(request, pk):
    """The patient's scores from the latest stored classification models (research decision support): each
    model's target, validated AUC with its CI, and this patient's probability, or why the model cannot score them."""
    try:
        patient = patient_header(pk=pk, user=request.user)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
    rows = []
    for run in selectors.analysis_runs().filter(kind="classification", status="done").exclude(model=None)[:5]:
        scores, refused = selectors.model_probabilities(run, patients=[patient.pk])
        report = _classification_report(run.result, run.spec)
        rows.append({"run": run, "target": report["target"], "auc": report["auc"], "auc_ci": report["auc_ci"],
                     "probability": scores.get(patient.pk), "refused": refused.get(patient.pk),
                     "leak_warning": run.result.get("leak_warning")})
    return render_page(request, "analytics/patient_models.html", "analytics/partials/models_panel.html",
                       {"patient": patient, "rows": rows})


WORKLIST_STATUSES = [("open", "Open"), ("acknowledged", "Acknowledged")]
WORKLIST_SCOPES = [("active", "Living patients on an ongoing regimen"), ("all", "All patients")]
WORKLIST_CARE_TEAMS = [("", "Everyone's patients"), ("mine", "My patients")]


def _worklist_filters(data):
    section = selectors.worklist_section(data.get("section") or data.get("kind", ""))  # ?kind=: the older name
    status = data.get("status", "open")
    scope = data.get("scope", "active")
    return {"section": section,
            "status": status if status in dict(WORKLIST_STATUSES) else "open",
            "scope": scope if scope in dict(WORKLIST_SCOPES) else "active",
            "care_team": "mine" if data.get("care_team") == "mine" else "",
            "site": data.get("site", "")}


def _worklist_context(request):
    chosen = _worklist_filters(request.GET)
    today = timezone.localdate()
    common = {"site": chosen["site"] or None, "status": chosen["status"], "scope": chosen["scope"], "today": today,
              "followed_by": request.user if chosen["care_team"] == "mine" else None, "user": request.user}
    alerts = selectors.worklist_alerts(section=chosen["section"] or None, **common).select_related(
        "patient__site", "regimen", "acknowledged_by").order_by(
        Case(*[When(kind=kind, then=i) for i, kind in enumerate(_SECTION_ORDER)]), F("due_date").asc(nulls_last=True),
        "-subject_date", "pk")
    page = Paginator(alerts, 50).get_page(request.GET.get("page"))
    for alert in page:
        alert.days_left = (alert.due_date - today).days if alert.due_date else None
        alert.days_overdue = -alert.days_left if alert.days_left is not None and alert.days_left < 0 else 0
    query = request.GET.copy()
    query.pop("page", None)
    counts = selectors.worklist_counts(**common)
    curation = (imaging_selectors.curation_counts(user=request.user) if request.user.has_perm("imaging.change_segment")
                else None)
    return {"alerts": page, "page": page, "count": page.paginator.count, "today": today, "query": query.urlencode(),
            "curation": curation,
            "sections": [(name, label, counts[name]) for name, label in selectors.WORKLIST_SECTIONS],
            "statuses": WORKLIST_STATUSES, "scopes": WORKLIST_SCOPES, "care_teams": WORKLIST_CARE_TEAMS,
            "sites": scope(Site.objects.all(), request.user), **chosen}


_SECTION_ORDER = ["scan-to-read", "confirmation-due", "hyperprogression", "irae", "dissociated"]


@login_required
@permission_required("analytics.view_alert", raise_exception=True)
@require_GET
def worklist(request):
    """Home: what needs doing — scans to read, confirmations due and overdue, alerts to review — with counts per
    section, filters (site, open / acknowledged, living patients on ongoing regimens / all, my patients) and SQL
    pagination."""
    return render_page(request, "analytics/worklist.html", "analytics/partials/worklist_table.html",
                       _worklist_context(request))


@login_required
@permission_required("analytics.change_alert", raise_exception=True)
@require_POST
def worklist_acknowledge(request, pk):
    """Acknowledge one alert (``note`` optional): it leaves the open list and the patient's history records who and
    when. An htmx request gets the re-rendered table (its filters come with the form)."""
    alert = scope(Alert.objects.filter(pk=pk), request.user).first()
    if alert is None:
        raise Http404("No such alert.")
    try:
        services.alert_acknowledge(alert=alert, user=request.user, note=request.POST.get("note", "").strip())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    if getattr(request, "htmx", None):
        request.GET = request.POST  # the table re-renders under the filters the form carried
        return render(request, "analytics/partials/worklist_table.html", _worklist_context(request))
    return redirect(f"{reverse('analytics:worklist')}?{request.POST.get('query', '')}")


SWIMMER_LANES_PER_PAGE = 50


COHORT_FILTERS = ("site", "tumour_type", "drug_class")


def _cached_until_recomputed(name, parts, assessments, compute, *, user):
    """``compute()``, cached until an assessment of ``assessments`` is recomputed: the key holds ``parts`` (what was
    asked), the sites the user sees, the row count and the latest computation time, so a cohort of 10,000 is drawn
    once per change — and never shown to a user of other sites."""
    stamp = assessments.order_by().aggregate(n=Count("pk"), latest=Max("computed_at"))
    sites = site_ids(user)
    sites = "all" if sites is None else sorted(sites)
    key = f"{name}:" + hashlib.sha256(json.dumps([parts, sites, stamp["n"], str(stamp["latest"])], sort_keys=True,
                                                 default=str).encode()).hexdigest()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=24 * 3600)
    return value


def _cohort_waterfall(queryset, params, user):
    """The waterfall SVG and its counts (bars, of which with a measurable change)."""
    def draw():
        bars = selectors.cohort_waterfall_bars(queryset)
        return (svgplots.waterfall_svg(bars) if bars else "", len(bars), sum(1 for b in bars if b[1] is not None))

    return _cached_until_recomputed("cohort-waterfall", {k: params.get(k, "") for k in COHORT_FILTERS}, queryset, draw,
                                    user=user)


KM_GROUPS = [("", "No grouping"), ("sex", "Sex"), ("tumour_type", "Tumour type"), ("drug_class", "Drug class"),
             ("ecog_baseline", "Baseline ECOG"), ("line_of_therapy", "Line of therapy")]


@login_required
@permission_required("analytics.view_cohort", raise_exception=True)
@require_GET
def cohort_km(request):
    """The cohort's Kaplan–Meier curves with the numbers at risk, for an endpoint and a grouping, under the cohort
    filters (the same derivation as the survival analyses: ``survival_records`` + ``analytics.compute.survival``).
    Cached until an assessment of the selection is recomputed; loaded into the cohort page after it (lifelines and
    matplotlib are loaded by the first one)."""
    from .compute import survival as survival_compute  # noqa: PLC0415 - the fitting loads on first use

    endpoint = request.GET.get("km_endpoint", "os")
    endpoint = endpoint if endpoint in survival_compute.ENDPOINTS else "os"
    group = request.GET.get("km_group", "")
    group = group if group in dict(KM_GROUPS) else ""
    cohort = {name: [request.GET[name]] for name in COHORT_FILTERS if request.GET.get(name)}
    allowed = site_codes(request.user)
    if allowed is not None:  # the curves of the user's sites' patients only
        cohort["site"] = sorted(set(cohort.get("site") or allowed) & allowed)
    spec = {"kind": "km", "endpoint": endpoint, "cohort": cohort, **({"group_by": group} if group else {})}

    def fit():
        if "site" in cohort and not cohort["site"]:  # never an empty filter: it would mean every site
            return {"svg": "", "error": "no patient of your sites in this selection", "n": None, "events": None}
        try:
            normalised = survival_compute.validate_spec(spec)
            selectors.survival_spec_check(normalised)
            result = survival_compute.run(normalised, selectors.survival_records(spec=normalised))
            return {"svg": survival_compute.km_plot_svg(result), "error": "", "n": result.get("n"),
                    "events": result.get("events")}
        except (survival_compute.SpecError, survival_compute.AnalysisError) as exc:
            return {"svg": "", "error": str(exc), "n": None, "events": None}

    context = _cached_until_recomputed("cohort-km", spec, selectors.cohort_assessments(user=request.user), fit,
                                       user=request.user)
    query = request.GET.copy()
    context = {**context, "endpoint": endpoint, "group": group, "groups": KM_GROUPS, "query": query.urlencode(),
               "endpoints": [(e, survival_compute.ENDPOINT_LABELS[e]) for e in survival_compute.ENDPOINTS],
               **{name: request.GET.get(name, "") for name in COHORT_FILTERS}}
    return render_page(request, "analytics/cohort_km.html", "analytics/partials/cohort_km.html", context)


@login_required
@permission_required("analytics.view_cohort", raise_exception=True)
@require_GET
def cohort(request):
    """Cohort plots under the patient-list filters: the waterfall of every assessed regimen and the swimmer plot one
    page of lanes at a time (longest time on treatment first); SVG drawn per request in milliseconds (no
    matplotlib in the web process), each with its text alternative, downloadable as SVG (``?download=waterfall`` or
    ``swimmer``) or, in the browser, as PNG. Lanes are ordered by regimen start, earliest first."""
    filters = ResponseAssessmentFilterSet(request.GET,  # as the API
                                          queryset=selectors.cohort_assessments(user=request.user))
    site, tumour_type = filters.form.data.get("site", ""), filters.form.data.get("tumour_type", "")
    drug_class = filters.form.data.get("drug_class", "")
    queryset = filters.qs
    download = request.GET.get("download")
    swimmer_only = (getattr(request, "htmx", None) and not request.htmx.boosted) or download == "swimmer"
    waterfall, n, n_measured = ("", 0, 0) if swimmer_only else _cohort_waterfall(queryset, request.GET, request.user)
    by_start = queryset.order_by("regimen__start_date", "patient__study_id")
    page = Paginator(by_start.values_list("pk", flat=True), SWIMMER_LANES_PER_PAGE).get_page(request.GET.get("lanes"))
    lanes = selectors.cohort_swimmer_lanes(by_start.filter(pk__in=list(page.object_list)))
    swimmer = svgplots.swimmer_svg(lanes) if lanes else ""
    if download in ("waterfall", "swimmer") and (waterfall if download == "waterfall" else swimmer):
        response = HttpResponse(waterfall if download == "waterfall" else swimmer, content_type="image/svg+xml")
        response["Content-Disposition"] = f'attachment; filename="radimmuno-{download}.svg"'
        return response
    query = request.GET.copy()
    query.pop("lanes", None)
    query.pop("download", None)
    context = {
        "waterfall": waterfall, "swimmer": swimmer,
        "n": n, "n_measured": n_measured, "lanes": page, "query": query.urlencode(),
        "site": site, "tumour_type": tumour_type, "sites": scope(Site.objects.all(), request.user),
        "tumour_types": TumourType.choices,
        "drug_class": drug_class, "drug_classes": DrugClass.choices,
    }
    return render_page(request, "analytics/cohort.html", "analytics/partials/swimmer.html", context)


# -- survival analyses: the list and the new-analysis form, a run's status (polled) and its report -----------------
@login_required
@permission_required("analytics.view_analysisrun", raise_exception=True)
@require_http_methods(["GET", "POST"])
def analyses(request):
    """Stored analyses, newest first, and the form for a new one (POST: ``analysis_run_create``; a spec error is
    shown on the field it names; success goes to the run's page)."""
    covariate_names = selectors.survival_covariate_names()
    posted = request.POST if request.method == "POST" else None
    is_model = bool(posted) and posted.get("form") == "classification"
    form = AnalysisRunForm(None if is_model else posted, covariate_names=covariate_names)
    model_form = ClassificationRunForm(posted if is_model else None, covariate_names=covariate_names,
                                       profiles=selectors.extraction_profile_names())
    chosen = model_form if is_model else form
    if posted is not None and chosen.is_valid():
        try:
            run = services.analysis_run_create(spec=chosen.spec(), user=request.user)
        except ValidationError as exc:
            chosen.add_spec_errors(exc)
        else:
            return redirect("analytics:analysis-run", pk=run.pk)
    # the list needs n and events from the result, never the figures or the patient pks
    runs = scope(selectors.analysis_runs(), request.user).defer("figures", "patient_ids")
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    context = {"form": form, "model_form": model_form, "model_form_open": is_model, "runs": page, "page": page}
    return render(request, "analytics/analyses.html", context)


def _num(value, digits=3):
    """A number as a researcher reads it (3 significant digits); "NA" for a value not reached / not estimable."""
    if value is None:
        return "NA"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def _classification_report(result, spec):
    target = spec.get("target") or {}
    if "biomarker" in target:
        outcome = (f"{target['biomarker']} ≥ {target['threshold']}" if "threshold" in target
                   else f"{target['biomarker']} in {', '.join(map(str, target.get('positive', [])))}")
    elif "response" in target:
        outcome = {"objective": "objective response (CR/PR, RECIST 1.1)", "dcb": "durable clinical benefit",
                   "pseudoprogression": "pseudoprogression among patients with a first iUPD",
                   "hyperprogression": "hyperprogression (any definition)"}.get(target["response"], target["response"])
    else:
        outcome = (f"irAE {target.get('irae')} of grade ≥ {target.get('min_grade', 1)} within "
                   f"{target.get('within_days', 180)} days of time zero")
    features = spec.get("features") or {}
    radiomics = features.get("radiomics") or {}
    families = ", ".join(filter(None, [
        f"radiomics {', '.join(radiomics.get('include') or ['*'])} ({radiomics.get('aggregate', 'largest')})"
        if radiomics else "", f"clinical {', '.join(features.get('clinical') or [])}" if features.get("clinical")
        else ""]))
    cohort = spec.get("cohort") or {}
    return {
        "target": outcome, "auc": _num(result.get("auc")),
        "auc_ci": f"{_num(result.get('auc_lower'))}–{_num(result.get('auc_upper'))}",
        "permuted_auc": _num(result.get("permuted_auc")), "balanced_accuracy": _num(result.get("balanced_accuracy")),
        "sensitivity": _num(result.get("sensitivity")), "specificity": _num(result.get("specificity")),
        "brier": _num(result.get("brier")), "calibration_slope": _num(result.get("calibration_slope")),
        "calibration_intercept": _num(result.get("calibration_intercept")),
        "cohort": json.dumps(cohort) if cohort else "none (every patient)",
        "time_zero": json.dumps(spec.get("time_zero")), "families": families or "–",
        "profile": radiomics.get("profile", ""), "grid": json.dumps((result.get("pipeline") or {}).get("grid")),
        "sites": len(cohort.get("site") or []) if isinstance(cohort.get("site"), list) else 0,
    }


def _report(result, spec=None):
    """The result's tables, formatted for the page (the numbers are the stored result's, nothing recomputed)."""
    if result.get("kind") == "classification":
        return {"classification": _classification_report(result, spec or {}),
                "excluded": sorted((result.get("excluded") or {}).items()), "warnings": result.get("warnings") or []}
    times = [row["time"] for row in (result.get("groups") or [{}])[0].get("survival", [])]
    groups = [{
        "group": g["group"], "n": g["n"], "events": g["events"], "median": _num(g.get("median")),
        "median_ci": f"{_num(g.get('median_lower'))}–{_num(g.get('median_upper'))}",
        "survival": [f"{s['s']:.3f} ({s['lower']:.3f}–{s['upper']:.3f})" if s.get("s") is not None else "NA"
                     for s in g.get("survival", [])],
    } for g in result.get("groups") or []]
    terms = [{"term": t["term"], "coef": _num(t.get("coef")), "se": _num(t.get("se")), "hr": _num(t.get("hr")),
              "hr_ci": f"{_num(t.get('hr_lower'))}–{_num(t.get('hr_upper'))}", "p": _num(t.get("p"))}
             for t in result.get("terms") or []]
    ph_test = [{"term": r["term"], "statistic": _num(r.get("statistic")), "p": _num(r.get("p")),
                "violated": r.get("violated")} for r in result.get("ph_test") or []]
    logrank = result.get("logrank")
    return {
        "times": times, "groups": groups, "terms": terms, "ph_test": ph_test,
        "ph_violated": any(r["violated"] for r in ph_test),
        "concordance": _num(result["concordance"]) if result.get("concordance") is not None else None,
        "logrank": {"statistic": _num(logrank.get("statistic")), "df": logrank.get("df"),
                    "p": _num(logrank.get("p"))} if logrank else None,
        "reference": result.get("reference") or {},
        "excluded": sorted((result.get("excluded") or {}).items()),
        "warnings": result.get("warnings") or [],
    }


def _run_or_404(request, pk):
    run = scope(selectors.analysis_runs(), request.user).filter(pk=pk).first()  # own runs (every site: all)
    if run is None:
        raise Http404("No such analysis.")
    return run


@login_required
@permission_required("analytics.view_analysisrun", raise_exception=True)
@require_GET
def analysis_run(request, pk):
    """One run: its status row while pending/running (the fragment polls itself every 2 s), then its report."""
    run = _run_or_404(request, pk)
    result = run.result or {}
    context = {
        "run": run, "result": result, "figures": run.figures or {},
        "spec_json": json.dumps(run.spec, indent=2, ensure_ascii=False, sort_keys=True),
        "data_changed": selectors.analysis_run_data_changed(run) if run.status == "done" else None,
        "report": _report(result, run.spec) if run.status == "done" and result else None,
        "reruns": list(run.reruns.order_by("-created_at", "-pk").values_list("pk", flat=True)[:10]),
    }
    return render_page(request, "analytics/analysis_run.html", "analytics/partials/analysis_run_status.html",
                       context)


@login_required
@permission_required("analytics.view_analysisrun", raise_exception=True)
@require_GET
def analysis_run_report(request, pk):
    """A finished run's report as one self-contained HTML file (styles and SVG figures inline), downloaded: the
    same tables and TRIPOD items as the run page, the spec and the versions. 404 until the run is done."""
    run = _run_or_404(request, pk)
    if run.status != "done" or not run.result:
        raise Http404("This analysis has no report yet: it is not finished, or it failed.")
    css_path = finders.find("css/app.css")
    context = {
        "run": run, "result": run.result, "figures": run.figures or {}, "report": _report(run.result, run.spec),
        "spec_json": json.dumps(run.spec, indent=2, ensure_ascii=False, sort_keys=True),
        "data_changed": selectors.analysis_run_data_changed(run), "generated_at": timezone.now(),
        "inline_css": Path(css_path).read_text(encoding="utf-8") if css_path else "",
    }
    response = render(request, "analytics/analysis_report_document.html", context)
    response["Content-Disposition"] = f'attachment; filename="radimmuno-analysis-{run.pk}.html"'
    return response


@login_required
@permission_required("analytics.add_analysisrun", raise_exception=True)
@require_POST
def analysis_run_rerun(request, pk):
    """Re-run the stored spec (``analysis_run_rerun``) and go to the new run."""
    new = services.analysis_run_rerun(_run_or_404(request, pk), user=request.user)
    return redirect("analytics:analysis-run", pk=new.pk)
