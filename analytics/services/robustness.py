"""Feature-robustness writes: the ICC(3,1) of every feature of a profile version across perturbations of a cohort's
lesion masks, stored as one ``FeatureRobustness`` row per (profile version, method).

The cohort is every lesion mask (a segment mapped to a lesion) with a done ``lesion``-region feature set of the
profile version. imaging re-extracts each mask as it is and eroded / dilated by one voxel (and, if asked, with a
seeded random contour change) with the profile's own parameters, through the app's extractor
(``imaging.services.radiomics.feature_sets_extract_perturbed``); the ICC is computed here
(``analytics.compute.robustness.ICC31``). A mask whose perturbation cannot be used (the erosion of a small lesion
leaves no voxel, pyradiomics refuses a one-voxel region) is left out of every feature's ICC and listed with its
reason in ``excluded``. Recomputing replaces the row: it is the current robustness of that profile version.
"""
import hashlib
import json
import platform
import warnings

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from imaging import selectors as imaging_selectors
from imaging.services.radiomics import feature_sets_extract_perturbed
from radimmuno.lazy import lazy_import
from radimmuno.jobs import JobFailed, JobStatus, run_job

from ..models import FeatureRobustness
from ..models.robustness import DEFAULT_ICC_THRESHOLD

pd = lazy_import("pandas")
scipy = lazy_import("scipy")
robustness = lazy_import("analytics.compute.robustness")  # scipy, pandas: loaded by the first robustness run

#: The perturbations a run may ask for; the original mask is always the first measurement.
PERTURBATIONS = ("erode", "dilate", "random")
DEFAULT_PERTURBATIONS = ("erode", "dilate")
DEFAULT_CONTOUR_PROBABILITY = 0.25
#: Fewest usable lesion masks for a robustness table worth storing.
MIN_LESIONS = 5


def _checked(perturbations, threshold, probability, limit):
    chosen = list(dict.fromkeys(perturbations or ()))
    unknown = [p for p in chosen if p not in PERTURBATIONS]
    if unknown or not chosen:
        raise ValidationError({"perturbations": f"Choose one or more of {', '.join(PERTURBATIONS)}"
                                                + (f"; unknown: {', '.join(unknown)}." if unknown else ".")})
    if not -1.0 <= float(threshold) <= 1.0:
        raise ValidationError({"threshold": f"The ICC threshold is between -1 and 1, got {threshold}."})
    if not 0.0 < float(probability) <= 1.0:
        raise ValidationError({"contour_probability": f"A probability in (0, 1], got {probability}."})
    if limit is not None and limit < MIN_LESIONS:
        raise ValidationError({"limit": f"At least {MIN_LESIONS} lesion masks are needed, got a limit of {limit}."})
    return ["original", *chosen]


def feature_robustness_request(*, profile, perturbations=DEFAULT_PERTURBATIONS, seed=0,
                               threshold=DEFAULT_ICC_THRESHOLD, probability=DEFAULT_CONTOUR_PROBABILITY, limit=None):
    """Store the parameters of a (re)computation of the profile version's segmentation robustness, pending.

    Returns the row. A computation of the same profile that is running (its heartbeat fresh) is not overwritten:
    ``ValidationError``.
    """
    measured = _checked(perturbations, threshold, probability, limit)
    with transaction.atomic():
        row, _ = FeatureRobustness.objects.select_for_update().get_or_create(
            profile=profile, method=FeatureRobustness.Method.SEGMENTATION)
        alive_since = timezone.now() - row.heartbeat_deadline()
        if row.status == JobStatus.RUNNING and row.heartbeat_at and row.heartbeat_at > alive_since:
            started = f"{row.started_at:%Y-%m-%d %H:%M}" if row.started_at else "just now"
            raise ValidationError(f"The robustness of {profile} is being computed (started {started}); "
                                  "wait for it to finish.")
        FeatureRobustness.objects.filter(pk=row.pk).update(
            status=JobStatus.PENDING, error="", claim_token="", finished_at=None, enqueued_at=timezone.now(),
            perturbations=measured, seed=int(seed), threshold=float(threshold), contour_probability=float(probability),
            lesion_limit=limit, n_lesions=0, n_patients=0, n_features=0, n_robust=0, features={}, lesions=[],
            excluded=[], notes=[], inputs_sha256="", computed_at=None)
        row.refresh_from_db()
    return row


def feature_robustness_now(*, profile, workers=None, progress=None, **parameters):
    """Request and compute the robustness of ``profile`` (a profile version) in this process; the refreshed row.

    ``parameters``: those of :func:`feature_robustness_request`. ``progress(done, total)`` counts extracted masks.
    A failure (too few lesion masks, ...) ends the row ``failed`` with its reason.
    """
    row = feature_robustness_request(profile=profile, **parameters)
    run_job(FeatureRobustness, row.pk, lambda job: feature_robustness_execute(job, workers=workers,
                                                                            progress=progress))
    row.refresh_from_db()
    return row


def _describe(fs):
    segment = fs.segment
    study = segment.segmentation.image_series.study
    when = study.timepoint.date if study.timepoint else study.study_date
    return {"segment": segment.pk, "feature_set": fs.pk, "lesion": segment.lesion.label,
            "patient": study.patient.study_id, "date": when.isoformat() if when else None}


def _versions(entries):
    provenance = next((e["provenance"] for entry in entries for e in entry.values() if e.get("provenance")), {})
    versions = {key: provenance[key] for key in ("pyradiomics", "numpy", "simpleitk", "pywavelets", "scipy",
                                                 "python", "extractor") if key in provenance}
    versions.update(icc={"numpy": np.__version__, "scipy": scipy.__version__, "pandas": pd.__version__,
                         "python": platform.python_version()})
    return versions


def _number(value):
    return None if value is None or not np.isfinite(value) else float(value)


def feature_robustness_execute(row, *, workers=None, progress=None):
    """The job body (through ``run_job``): re-extract, compute the ICC per feature, return the row's done fields.

    Idempotent: recomputes from the current lesion masks and profile. Raises ``JobFailed`` (shown as is) when fewer
    than :data:`MIN_LESIONS` lesion masks can be used.
    """
    profile = row.profile
    feature_sets = imaging_selectors.lesion_feature_sets_done(profile=profile, limit=row.lesion_limit)
    if len(feature_sets) < MIN_LESIONS:
        raise JobFailed(f"{profile} has {len(feature_sets)} lesion mask(s) with done lesion features (segments "
                        f"mapped to a lesion); the robustness needs at least {MIN_LESIONS}. Extract them first "
                        f"(manage.py extract_features --profile {profile.name}).")
    measured = list(row.perturbations)
    extracted = feature_sets_extract_perturbed(feature_sets, perturbations=measured, seed=row.seed,
                                               probability=row.contour_probability, workers=workers,
                                               progress=progress)
    used, lesions, excluded = [], [], []
    for fs in feature_sets:
        entries = extracted[fs.pk]
        errors = [f"{p}: {entries[p]['error']}" for p in measured if "error" in entries.get(p, {"error": "missing"})]
        if errors:
            excluded.append({**_describe(fs), "reason": "; ".join(errors)})
            continue
        used.append(entries)
        lesions.append({**_describe(fs), "voxels": {p: entries[p]["voxels"] for p in measured},
                        "image_sha256": entries["original"]["provenance"].get("image_sha256", ""),
                        "mask_sha256": {p: entries[p]["mask_sha256"] for p in measured}})
    if len(used) < MIN_LESIONS:
        shown = "; ".join(f"{e['lesion']} ({e['patient']}): {e['reason']}" for e in excluded[:3])
        raise JobFailed(f"Only {len(used)} of {len(feature_sets)} lesion mask(s) could be extracted under every "
                        f"perturbation; the robustness needs at least {MIN_LESIONS}. Left out: {shown}"
                        f"{' ...' if len(excluded) > 3 else ''}")

    names = sorted(set().union(*(entries[p]["features"] for entries in used for p in measured)))
    index = {name: j for j, name in enumerate(names)}
    cube = np.full((len(used), len(measured), len(names)), np.nan)
    for i, entries in enumerate(used):
        for k, p in enumerate(measured):
            for name, value in entries[p]["features"].items():
                cube[i, k, index[name]] = value
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", robustness.ICCUndefinedWarning)
        icc = robustness.ICC31().fit(cube, names)
    table = icc.table(threshold=row.threshold)
    features = {}
    for name, r in table.iterrows():
        entry = {"icc": _number(r.icc), "ci_lower": _number(r.ci_lower), "ci_upper": _number(r.ci_upper),
                 "robust": bool(r.robust), "n": int(r.n_lesions)}
        if r.undefined:
            entry["undefined"] = r.undefined
        features[name] = entry
    notes = [str(w.message) for w in caught if issubclass(w.category, robustness.ICCUndefinedWarning)]
    record = {"params_hash": profile.params_hash, "perturbations": measured, "seed": row.seed,
              "contour_probability": row.contour_probability,
              "lesions": [(e["segment"], e["image_sha256"], e["mask_sha256"]) for e in lesions]}
    return {
        "features": features, "lesions": lesions, "excluded": excluded, "notes": notes,
        "n_lesions": len(lesions), "n_patients": len({e["patient"] for e in lesions}),
        "n_features": len(features), "n_robust": int(table["robust"].sum()),
        "versions": _versions(used),
        "inputs_sha256": hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest(),
        "computed_at": timezone.now(),
    }
