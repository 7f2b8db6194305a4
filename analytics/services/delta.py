"""Delta-radiomics writes: refresh a patient's stored ``DeltaFeature`` rows from their current feature sets.

The hand-off: a feature set finishes, features are imported, a lesion's identity or a timepoint changes → the
receiver calls ``delta_request`` → after commit the ``analytics.refresh_deltas`` task runs ``delta_refresh``
(idempotent: it recomputes every stored pair of the patient from the current data and replaces the rows).
"""
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from radimmuno.jobs import JobStatus

from ..compute.delta import AGGREGATIONS, DEFAULT_PAIRS, patient_deltas
from ..models import DeltaFeature, DeltaRefresh
from ..selectors.delta import delta_inputs


def stored_pairs():
    """The pairs stored for every patient (``RADIMMUNO_DELTA_PAIRS``, default baseline → first follow-up)."""
    return tuple(tuple(p) for p in getattr(settings, "RADIMMUNO_DELTA_PAIRS", DEFAULT_PAIRS))


def delta_request(*, patient_id):
    """Mark the patient's deltas stale and enqueue their refresh after commit."""
    job, _ = DeltaRefresh.objects.get_or_create(patient_id=patient_id)
    job.enqueue()
    return job


def _rows(patient_pk, result):
    rows = []
    for r in result.rows:
        rows.append(DeltaFeature(
            patient_id=patient_pk, lesion_id=r.lesion_id, members=list(r.members), profile_id=r.profile_id,
            region=r.region, aggregation=r.aggregation, reference=r.reference, from_timepoint_id=r.from_timepoint,
            to_timepoint_id=r.to_timepoint, weeks=r.weeks, values=_values(r), near_zero=list(r.near_zero),
            acquisition_flags=r.flags))
    return rows


def _values(row):
    relative = [None if r != r else r for r in row.relative.tolist()]  # NaN (undefined) -> null
    return dict(zip(row.names, zip(row.absolute.tolist(), relative, strict=True), strict=True))


def _refused(result):
    return [{"lesion": r.lesion, "profile": r.profile_id, "region": r.region, "reference": r.reference, "to": r.to,
             "reason": r.reason} for r in result.refused]


def _store(results):
    """Replace the stored rows of these patients ({patient pk: DeltaResult}) in one transaction."""
    with transaction.atomic():
        DeltaFeature.objects.filter(patient_id__in=list(results)).delete()
        DeltaFeature.objects.bulk_create([row for pk, result in results.items() for row in _rows(pk, result)],
                                         batch_size=50)


def delta_refresh(job):
    """The task body: recompute and replace one patient's stored deltas. Returns the job's done fields."""
    pairs = stored_pairs()
    ((patient_pk, kwargs),) = list(delta_inputs(patients=[job.patient_id], pairs=pairs))
    result = patient_deltas(**kwargs, pairs=pairs, aggregations=AGGREGATIONS)
    _store({patient_pk: result})
    return {"rows": len(result.rows), "refused": _refused(result)}


def delta_refresh_patients(patient_ids, *, chunk=50, progress=None):
    """Refresh many patients now, in this process (bulk loads, the demo, the bench): ``chunk`` patients per read
    and per write. Their status rows are set done. Returns the number of rows stored."""
    patient_ids, pairs = sorted(patient_ids), stored_pairs()
    stored = 0
    for start in range(0, len(patient_ids), chunk):
        results = {pk: patient_deltas(**kwargs, pairs=pairs, aggregations=AGGREGATIONS)
                   for pk, kwargs in delta_inputs(patients=patient_ids[start:start + chunk], pairs=pairs)}
        _store(results)
        existing = {job.patient_id: job for job in DeltaRefresh.objects.filter(patient_id__in=list(results))}
        now = timezone.now()
        for pk, result in results.items():
            job = existing.get(pk) or DeltaRefresh(patient_id=pk)
            job.status, job.rows, job.refused, job.error, job.finished_at = (
                JobStatus.DONE, len(result.rows), _refused(result), "", now)
            existing[pk] = job
        DeltaRefresh.objects.bulk_create([j for j in existing.values() if j.pk is None])
        DeltaRefresh.objects.bulk_update([j for j in existing.values() if j.pk is not None],
                                         ["status", "rows", "refused", "error", "finished_at"])
        stored += sum(len(r.rows) for r in results.values())
        if progress:
            progress(len(results))
    return stored
