"""Writes of the survival analyses: a run is created from a spec, computed as a background job, re-run from its record.

The spec is validated before anything is stored (``analytics.compute.survival.validate_spec`` for its form, the
database for its cohort filters, time zero and covariate names), so a researcher's mistake is a
``ValidationError`` naming the field, never a failed job. A run that fails on the data (too few events, a
covariate with one level, no convergence) ends ``failed`` with the analysis's own readable message.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from radimmuno.jobs import JobFailed, run_job

from ..compute.survival import (
    AnalysisError,
    SpecError,
    forest_plot_svg,
    km_plot_svg,
    run,
    validate_spec,
)
from ..models import AnalysisRun
from ..selectors.survival import records_sha256, survival_records, survival_spec_check


def _spec_checked(spec):
    """The normalised spec, or ValidationError({field: message}) for anything a researcher must fix."""
    if not isinstance(spec, dict):
        raise ValidationError({"spec": "The spec must be a JSON object."})
    try:
        normalised = validate_spec(spec)
        survival_spec_check(normalised)
    except SpecError as exc:
        raise ValidationError({exc.field: exc.message}) from None
    return normalised


def _run_row(spec, *, user=None, rerun_of=None):
    """A new pending run of the checked, normalised spec."""
    normalised = _spec_checked(spec)
    return AnalysisRun.objects.create(
        spec=normalised, kind=normalised.get("kind", ""), endpoint=normalised.get("endpoint", ""),
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


def analysis_run_now(*, spec, user=None):
    """Store a run of the spec and compute it in this process (``manage.py run_analysis``); the refreshed row."""
    run_row = _run_row(spec, user=user)
    run_job(AnalysisRun, run_row.pk, analysis_run_execute)
    run_row.refresh_from_db()
    return run_row


def analysis_run_execute(run_row):
    """The task body (through ``run_job``): records from the database, the analysis, its figures (idempotent).

    Returns the fields stored with the done status. Data that cannot be analysed, or a spec that no longer fits
    the database, fails the run with the analysis's readable message (``JobFailed``: shown as is).
    """
    try:
        records = survival_records(spec=run_row.spec)
        result = run(run_row.spec, records)
    except SpecError as exc:
        raise JobFailed(f"{exc.field}: {exc.message}") from None
    except AnalysisError as exc:
        raise JobFailed(exc.message) from None
    patient_ids = result.pop("patient_ids")
    figures = {}
    if result.get("groups"):
        figures["km"] = km_plot_svg(result)
    if result.get("terms"):
        figures["forest"] = forest_plot_svg(result)
    return {
        "result": result,
        "patient_ids": patient_ids,
        "input_sha256": result.get("input_sha256", ""),
        "records_sha256": records_sha256(records),
        "versions": result.get("versions") or {},
        "figures": figures,
    }
