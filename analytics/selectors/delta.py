"""Delta-radiomics reads: the inputs of ``analytics.compute.delta`` gathered from the database, and the stored
``DeltaFeature`` rows for pages, the API and analyses (docs/analytics.md, "Delta-radiomics")."""
import fnmatch

from imaging import selectors as imaging_selectors

from ..compute.delta import LesionInfo, Observation, TimepointInfo, timepoints_needed
from ..models import DeltaFeature, DeltaRefresh


def delta_inputs(*, patients, pairs=None):
    """Yields ``(patient_pk, kwargs)`` for ``analytics.compute.delta.patient_deltas(**kwargs)``, patient by patient
    (the observations of one patient at a time: 40 feature sets of 1,500 features are ~5 MB as arrays, ~100 MB for
    a cohort of 20 — the caller streams). ``patients``: a list of pks. ``pairs``: read only the feature sets of the
    timepoints these pairs compare (None: every timepoint). Four queries for the whole list."""
    patients = list(patients)
    lesions = imaging_selectors.patient_lesion_links(patients=patients)
    timepoints = imaging_selectors.patient_timepoint_dates(patients=patients)
    profiles = imaging_selectors.profile_versions()
    needed = None
    if pairs is not None:
        needed = set()
        for rows in timepoints.values():
            needed |= timepoints_needed(pairs, {pk: TimepointInfo(*row) for pk, row in rows.items()})
    current, observations = None, []

    def kwargs(patient_pk):
        return {"observations": observations,
                "lesions": {pk: LesionInfo(*row) for pk, row in lesions.get(patient_pk, {}).items()},
                "timepoints": {pk: TimepointInfo(*row) for pk, row in timepoints.get(patient_pk, {}).items()},
                "profiles": profiles}

    seen = set()
    for patient_pk, lesion_pk, timepoint_pk, profile_pk, region, features, acquisition in (
            imaging_selectors.lesion_feature_rows(patients=patients,
                                                  timepoints=sorted(needed) if needed is not None else None)):
        if patient_pk != current:
            if current is not None:
                yield current, kwargs(current)
                seen.add(current)
            current, observations = patient_pk, []
        observations.append(Observation(lesion_pk, timepoint_pk, profile_pk, region, features, acquisition))
    if current is not None:
        yield current, kwargs(current)
        seen.add(current)
    for patient_pk in patients:  # patients without features: nothing to compare, rows are cleared
        if patient_pk not in seen:
            observations = []
            yield patient_pk, kwargs(patient_pk)


def delta_features(*, patient=None, lesion=None, profile=None, region=None, reference=None, aggregation=None,
                   level=None):
    """Stored delta rows, filtered (each argument optional; ``profile`` a pk or an ExtractionProfile, ``level``
    "lesion" or "patient"), with the lesion, profile and timepoints joined."""
    rows = DeltaFeature.objects.select_related("lesion", "profile", "from_timepoint", "to_timepoint", "patient")
    for name, value in (("patient", patient), ("lesion", lesion), ("profile", profile), ("region", region),
                        ("reference", reference), ("aggregation", aggregation)):
        if value not in (None, ""):
            rows = rows.filter(**{name: value})
    if level == "lesion":
        rows = rows.filter(lesion__isnull=False)
    elif level == "patient":
        rows = rows.filter(lesion__isnull=True)
    return rows.order_by("patient_id", "profile_id", "region", "lesion__label", "aggregation", "to_timepoint__date")


def delta_long(rows, *, feature_pattern=None):
    """Stored delta rows in long format: one dict per (row, feature) with absolute, relative and per-week change.
    ``feature_pattern``: a shell pattern of pyradiomics names (``original_glcm_*``; several separated by commas)."""
    patterns = [p.strip() for p in (feature_pattern or "").split(",") if p.strip()]
    for row in rows:
        for feature, (absolute, relative) in row.values.items():
            if patterns and not any(fnmatch.fnmatchcase(feature, p) for p in patterns):
                continue
            yield {
                "delta_id": row.pk, "patient": row.patient.study_id, "lesion": row.lesion.label if row.lesion_id else None,
                "members": row.members, "profile": f"{row.profile.name}@v{row.profile.version}", "region": row.region,
                "aggregation": row.aggregation, "reference": row.reference,
                "from_date": row.from_timepoint.date, "to_date": row.to_timepoint.date, "weeks": row.weeks,
                "feature": feature, "absolute": absolute, "relative": relative,
                "per_week": absolute / row.weeks if absolute is not None and row.weeks else None,
                "near_zero": feature in row.near_zero, "acquisition_flags": [f["attribute"] for f in
                                                                            row.acquisition_flags],
            }


def _cell(pair):
    """(absolute, relative in %) of a stored [absolute, relative] pair, for a table cell."""
    if not pair:
        return (None, None)
    absolute, relative = pair
    return (absolute, None if relative is None else relative * 100)


def _family(name):
    """``original_glcm_JointEnergy`` -> ``original_glcm`` (image type and feature class)."""
    parts = name.split("_")
    return "_".join(parts[:2]) if len(parts) >= 3 else name


def patient_delta_panel(*, patient, profile=None, region="lesion", reference="baseline", to=None, family=None,
                        feature=None):
    """What the patient page's delta-radiomics panel shows: the heatmap's features × lesions of relative changes
    for one profile version, region and pair, the pair's acquisition flags and refusals, and one feature's trend
    over the timepoints per lesion.

    The stored pair (``RADIMMUNO_DELTA_PAIRS``, default baseline → first follow-up) is read from ``DeltaFeature``;
    another pair (``to`` a timepoint pk, ``reference`` "baseline" or "nadir") is computed now from the feature sets
    and said to be (``computed_now``). Reads the patient's feature sets once (for the trend and the choices).
    """
    from django.conf import settings

    from ..compute.delta import AGGREGATIONS, DEFAULT_PAIRS, patient_deltas

    ((_, inputs),) = list(delta_inputs(patients=[patient.pk]))
    observations, timepoints, lesions = inputs["observations"], inputs["timepoints"], inputs["lesions"]
    profiles = inputs["profiles"]
    keys = sorted({(o.profile_id, o.region) for o in observations})
    panel = {"has_features": bool(observations), "profiles": [], "regions": [], "follow_ups": [],
             "families": [], "features": [], "columns": [], "relative": [], "flagged": [], "rows": [],
             "refused": [], "trend": {}, "computed_now": False}
    if not observations:
        return panel
    profile_ids = sorted({pk for pk, _ in keys}, key=lambda pk: profiles[pk])
    width = {pk: max(len(o.features) for o in observations if o.profile_id == pk) for pk in profile_ids}
    default = max(profile_ids, key=lambda pk: (width[pk], profiles[pk][1]))  # the richest profile, its latest version
    profile_id = int(profile) if str(profile).isdigit() and int(profile) in profile_ids else default
    regions = sorted({r for pk, r in keys if pk == profile_id})
    region = region if region in regions else ("lesion" if "lesion" in regions else regions[0])
    chosen = [o for o in observations if o.profile_id == profile_id and o.region == region]
    follow_ups = sorted((tp for tp, info in timepoints.items() if info.kind in ("follow-up", "unscheduled")),
                        key=lambda tp: timepoints[tp].date)
    stored_pairs = [tuple(p) for p in getattr(settings, "RADIMMUNO_DELTA_PAIRS", DEFAULT_PAIRS)]
    reference = reference if reference in ("baseline", "nadir") else "baseline"
    to_pk = int(to) if str(to).isdigit() and int(to) in follow_ups else None
    if to_pk is None and (reference, "first_follow_up") in stored_pairs:
        rows = [r for r in DeltaFeature.objects.filter(patient=patient, profile_id=profile_id, region=region,
                                                         reference=reference).select_related("lesion")]
        rows.sort(key=lambda r: (r.lesion_id is None, r.lesion.label if r.lesion_id else r.aggregation))
        columns = [(r.lesion.label if r.lesion_id else f"patient ({r.aggregation.replace('_', '-')})",
                    r.values, r.acquisition_flags, r) for r in rows]
        refresh = DeltaRefresh.objects.filter(patient=patient).first()
        refused = [r for r in (refresh.refused if refresh else []) if r["profile"] == profile_id
                   and r["region"] == region and r["reference"] == reference]
        pair = (rows[0].from_timepoint.date, rows[0].to_timepoint.date) if rows else None
    else:
        target = to_pk if to_pk is not None else "first_follow_up"
        result = patient_deltas(chosen, lesions=lesions, timepoints=timepoints, profiles=profiles,
                                pairs=[(reference, target)], aggregations=AGGREGATIONS)
        columns = []
        for r in result.rows:
            label = lesions[r.lesion_id].label if r.lesion_id is not None else f"patient ({r.aggregation.replace('_', '-')})"
            columns.append((label, r.values(), r.flags, None))
        columns.sort(key=lambda c: (c[0].startswith("patient ("), c[0]))
        refused = [{"lesion": r.lesion, "reason": r.reason, "to": r.to} for r in result.refused]
        first = result.rows[0] if result.rows else None
        pair = (timepoints[first.from_timepoint].date, timepoints[first.to_timepoint].date) if first else None
        panel["computed_now"] = True
    names = sorted({name for _, values, _, _ in columns for name in values}) or sorted(
        {n for o in chosen for n in o.features})
    families = sorted({_family(n) for n in names})
    family = family if family in families else ("original_firstorder" if "original_firstorder" in families
                                                else families[0])
    features = [n for n in names if _family(n) == family]
    relative = [[(values.get(name) or [None, None])[1] for _, values, _, _ in columns] for name in features]
    feature = feature if feature in names else ("original_shape_VoxelVolume" if "original_shape_VoxelVolume" in names
                                                else features[0] if features else None)
    trend = {}
    for o in chosen:
        if feature in o.features:
            trend.setdefault(lesions[o.lesion_id].label, []).append((timepoints[o.timepoint_id].date,
                                                                    o.features[feature]))
    panel.update({
        "profiles": [(pk, f"{profiles[pk][0]} v{profiles[pk][1]}") for pk in profile_ids], "profile": profile_id,
        "regions": regions, "region": region, "reference": reference, "to": to_pk,
        "follow_ups": [(tp, timepoints[tp].date) for tp in follow_ups], "pair": pair,
        "families": families, "family": family, "features": features, "feature": feature, "all_features": names,
        "columns": [c[0] for c in columns], "flags": [c[2] for c in columns],
        "flagged": [i for i, c in enumerate(columns) if c[2]],
        "relative": [[float("nan") if v is None else v for v in row] for row in relative],
        "flag_lines": [(c[0], c[2]) for c in columns if c[2]],
        "table": [{"feature": name, "cells": [_cell(values.get(name)) for _, values, _, _ in columns]}
                  for name in features],
        "refused": refused, "trend": trend,
    })
    return panel
