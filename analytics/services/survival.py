"""Writes of the survival analyses: a run is created from a spec, computed as a background job, re-run from its record.

The spec is validated before anything is stored (``analytics.compute.survival.validate_spec`` for its form, the
database for its cohort filters, time zero and covariate names), so a researcher's mistake is a
``ValidationError`` naming the field, never a failed job. A run that fails on the data (too few events, a
covariate with one level, no convergence) ends ``failed`` with the analysis's own readable message.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from patients.selectors import site_codes
from radimmuno.jobs import JobFailed, run_job

from ..compute import prediction, survival  # their fitting and figures load on first use (see their __init__)
from ..compute.prediction import PREDICTION_KEYS, validate_prediction_spec
from ..compute.survival import AnalysisError, SpecError, validate_spec
from ..compute.survival.spec import _time_zero as survival_time_zero
from ..models import AnalysisRun
from ..selectors.prediction import model_probabilities, prediction_spec_check, prediction_table, robust_exclusions
from ..selectors.survival import records_sha256, survival_records, survival_spec_check


CLASSIFICATION_KEYS = ("kind", "cohort", "time_zero", "target", "features", *PREDICTION_KEYS)


def _classification_spec(spec):
    """A classification spec normalised: its cohort, time zero, target and features, and the prediction keys."""
    unknown = sorted(set(spec) - set(CLASSIFICATION_KEYS))
    if unknown:
        raise SpecError(unknown[0], f"unknown key; a classification spec's keys are {', '.join(CLASSIFICATION_KEYS)}")
    normalised = {"kind": "classification", "cohort": dict(spec.get("cohort") or {}),
                  "time_zero": survival_time_zero(spec.get("time_zero")), "target": spec.get("target"),
                  "features": spec.get("features"), **validate_prediction_spec(spec)}
    survival_spec_check({"cohort": normalised["cohort"], "time_zero": normalised["time_zero"]})
    prediction_spec_check(normalised)
    return normalised


def _spec_checked(spec):
    """The normalised spec, or ValidationError({field: message}) for anything a researcher must fix."""
    if not isinstance(spec, dict):
        raise ValidationError({"spec": "The spec must be a JSON object."})
    try:
        if spec.get("kind") == "classification":
            return _classification_spec(spec)
        normalised = validate_spec(spec)
        survival_spec_check(normalised)
    except SpecError as exc:
        raise ValidationError({exc.field: exc.message}) from None
    return normalised


def _endpoint(spec):
    """What the run's ``endpoint`` column shows: the survival endpoint, or a classification's target in short."""
    if spec.get("kind") != "classification":
        return spec.get("endpoint", "")
    target = spec["target"]
    return str(target.get("biomarker") or target.get("response") or f"irae:{target.get('irae')}")[:20]


def _scoped_to_sites(spec, user):
    """The spec with its cohort narrowed to the user's sites (issue 15: an analysis reads only the patients its
    author may see). A user of every site, or no user (the command line), keeps the spec as it is. Refuses a spec
    that asks only for sites the user does not belong to."""
    allowed = site_codes(user) if user is not None else None
    if allowed is None or not isinstance(spec, dict) or not isinstance(spec.get("cohort") or {}, dict):
        return spec
    cohort = dict(spec.get("cohort") or {})
    asked = cohort.get("site")
    asked = [asked] if isinstance(asked, str) else list(asked or [])
    kept = sorted(set(asked) & allowed) if asked else sorted(allowed)
    if not kept:
        raise ValidationError({"cohort.site": f"You can analyse the patients of your sites only "
                                              f"({', '.join(sorted(allowed)) or 'none'})."})
    return {**spec, "cohort": {**cohort, "site": kept}}


def _run_row(spec, *, user=None, rerun_of=None):
    """A new pending run of the checked, normalised spec (its cohort within the user's sites)."""
    normalised = _spec_checked(_scoped_to_sites(spec, user))
    return AnalysisRun.objects.create(
        spec=normalised, kind=normalised.get("kind", ""), endpoint=_endpoint(normalised),
        seed=normalised.get("seed", 0) or 0, created_by=user if user and user.is_authenticated else None,
        rerun_of=rerun_of)


def analysis_run_create(*, spec, user=None, rerun_of=None):
    """Validate the spec, store the run (pending) and enqueue its computation after commit."""
    with transaction.atomic():
        run_row = _run_row(spec, user=user, rerun_of=rerun_of)
        run_row.enqueue()
    return run_row


def analysis_run_rerun(run_row, *, user=None):
    """A new run of the same (normalised) spec, linked to the original; the original record is kept."""
    return analysis_run_create(spec=run_row.spec, user=user, rerun_of=run_row)


def analysis_run_now(*, spec, user=None, progress=None):
    """Store a run of the spec and compute it in this process (``manage.py run_analysis``); the refreshed row.
    ``progress(done, total, message)`` is told as a classification run's folds finish (besides the status row)."""
    run_row = _run_row(spec, user=user)
    run_job(AnalysisRun, run_row.pk, lambda row: analysis_run_execute(row, progress=progress))
    run_row.refresh_from_db()
    return run_row


def analysis_run_execute(run_row, *, progress=None):
    """The task body (through ``run_job``): records from the database, the analysis, its figures (idempotent).

    Returns the fields stored with the done status. Data that cannot be analysed, or a spec that no longer fits
    the database, fails the run with the analysis's readable message (``JobFailed``: shown as is).
    """
    if run_row.spec.get("kind") == "classification":
        return _classification_execute(run_row, progress=progress)
    try:
        records = survival_records(spec=run_row.spec)
        result = survival.run(run_row.spec, records)
    except SpecError as exc:
        raise JobFailed(f"{exc.field}: {exc.message}") from None
    except AnalysisError as exc:
        raise JobFailed(exc.message) from None
    patient_ids = result.pop("patient_ids")
    figures = {}
    if result.get("groups"):
        figures["km"] = survival.km_plot_svg(result)
    if result.get("terms"):
        figures["forest"] = survival.forest_plot_svg(result)
    return {
        "result": result,
        "patient_ids": patient_ids,
        "input_sha256": result.get("input_sha256", ""),
        "records_sha256": records_sha256(records),
        "versions": result.get("versions") or {},
        "figures": figures,
    }


def _classification_execute(run_row, *, progress=None):
    """A classification run: the table from the database, nested CV + permuted control + final model, figures.
    Each finished fold is recorded on the status row (the run page's progress bar) and told to ``progress``."""
    report = progress

    def progress(done, total, message):
        AnalysisRun.objects.filter(pk=run_row.pk).update(
            progress={"done": done, "total": total, "message": message})
        if report:
            report(done, total, message)

    try:
        X, y, excluded, profile_pk = prediction_table(spec=run_row.spec)
        spec = dict(run_row.spec)
        radiomics = (spec.get("features") or {}).get("radiomics") or {}
        if radiomics.get("robust_only"):  # dropped by name inside the pipeline, reported as excluded_features
            spec["exclude_features"] = sorted(set(spec.get("exclude_features") or []) | set(
                robust_exclusions(radiomics)))
        levels = X.attrs.get("batch_levels")
        if spec.get("harmonise"):  # clinical columns are not scanner effects: preserved or left alone
            clinical = list(spec["features"].get("clinical") or [])
            column = lambda c, name: c == name or c.startswith(f"{name}[")  # noqa: E731 (dummy-coded levels)
            spec["harmonise"] = {**spec["harmonise"],
                                 "preserve": [c for c in X.columns if any(column(c, n) for n in
                                                                          spec["harmonise"]["preserve"])],
                                 "unadjusted": [c for c in X.columns if any(column(c, n) for n in clinical)]}
        result, model_bytes = prediction.run_prediction(spec, X, y, progress=progress)
    except SpecError as exc:
        raise JobFailed(f"{exc.field}: {exc.message}") from None
    except AnalysisError as exc:
        raise JobFailed(exc.message) from None
    result["excluded"] = excluded
    result["profile"] = profile_pk
    result["feature_names"] = [str(c) for c in X.columns]
    if result.get("harmonise"):
        result["harmonise"]["levels"] = levels
    patient_ids = result.pop("patient_ids")
    figures = {"roc": prediction.roc_plot_svg(result), "calibration": prediction.calibration_plot_svg(result)}
    if result.get("importance"):
        figures["importance"] = prediction.importance_plot_svg(result)
    return {
        "result": result, "patient_ids": [int(pk) for pk in patient_ids], "input_sha256": result["input_sha256"],
        "records_sha256": result["input_sha256"], "versions": result.get("versions") or {}, "figures": figures,
        "model": model_bytes, "model_sha256": result["model_sha256"],
    }


def model_score(run_row, *, patients):
    """Score patients with a stored classification run's final model: ``{"scores": [{patient, probability}],
    "refused": [{patient, reason}]}``. Only features of the profile version the model was fitted on are used;
    a patient without them is refused with the reason (never scored from another version's features).
    Research decision support: the probability of the model's target, with the model's validated AUC."""
    if run_row.kind != "classification" or run_row.status != "done" or not run_row.model:
        raise ValidationError("Only a finished classification run has a model to score with.")
    scores, missing = model_probabilities(run_row, patients=[p.pk for p in patients])
    return {"scores": [{"patient": p.study_id, "probability": scores[p.pk]} for p in sorted(patients, key=lambda p: p.pk)
                       if p.pk in scores],
            "refused": [{"patient": p.study_id, "reason": missing[p.pk]} for p in sorted(patients, key=lambda p: p.pk)
                        if p.pk in missing],
            "auc": run_row.result.get("auc"), "auc_lower": run_row.result.get("auc_lower"),
            "auc_upper": run_row.result.get("auc_upper")}
