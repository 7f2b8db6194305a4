"""The prediction models' input, read from the database: a target (0/1) and a feature table per patient.

``prediction_table(spec=...)`` is the bridge between the database and ``analytics.compute.prediction`` (which
never imports Django). The cohort, time zero, clinical covariates and response groups come from the survival
records (``survival_records``: the same definitions as the survival analyses); radiomic features from the
patients' baseline feature sets (``imaging.selectors.lesion_feature_rows``) aggregated over the target lesions
with the delta-radiomics rules, and delta features from the stored ``DeltaFeature`` rows. Every candidate
feature is passed on: selection happens inside the cross-validation folds, never here (docs/analytics.md,
"Prediction models").
"""
import fnmatch
import re
from collections import defaultdict

import numpy as np

from imaging import selectors as imaging_selectors
from radimmuno.lazy import lazy_import

from ..compute.delta import TimepointInfo, _schedule, is_additive
from ..compute.survival import SpecError
from patients.models import Patient

from ..models import DeltaFeature, ResponseAssessment
from .survival import PATIENT_COVARIATES, survival_covariate_names, survival_records

pd = lazy_import("pandas")  # the prediction table; not needed to import this module

TARGET_RESPONSES = ("objective", "dcb", "pseudoprogression", "hyperprogression")
AGGREGATES = ("largest", "mean", "volume_weighted")
#: What ComBat can harmonise across (``harmonise.batch``): the patient's site or a series attribute of the baseline.
HARMONISE_BATCHES = ("site", "manufacturer", "manufacturer_model_name", "convolution_kernel")
VOLUME = "original_shape_VoxelVolume"


def _target(spec):
    target = spec.get("target")
    if not isinstance(target, dict) or len({"biomarker", "response", "irae"} & set(target)) != 1:
        raise SpecError("target", 'name one target: {"biomarker": "pdl1_tps", "threshold": 50}, {"biomarker": "msi", '
                                  '"positive": ["MSI-H"]}, {"response": "objective"|"dcb"|"pseudoprogression"|'
                                  '"hyperprogression"} or {"irae": "pneumonitis", "min_grade": 2, "within_days": 180}')
    if "biomarker" in target:
        kinds = {n for n, k in survival_covariate_names().items() if k == "biomarker"}
        if target["biomarker"] not in kinds:
            raise SpecError("target", f"unknown biomarker {target['biomarker']!r}; known: {', '.join(sorted(kinds))}")
        if ("threshold" in target) == ("positive" in target):
            raise SpecError("target", "a biomarker target needs either a numeric threshold (value >= threshold is "
                                      "positive) or a list of positive categories")
        if "positive" in target and not (isinstance(target["positive"], list) and target["positive"]):
            raise SpecError("target", "positive must be a non-empty list of categories, e.g. [\"MSI-H\"]")
    elif "response" in target:
        if target["response"] not in TARGET_RESPONSES:
            raise SpecError("target", f"response must be one of {', '.join(TARGET_RESPONSES)}")
    else:
        grade, days = target.get("min_grade", 1), target.get("within_days", 180)
        if not isinstance(grade, int) or not 1 <= grade <= 5:
            raise SpecError("target", "min_grade must be a CTCAE grade, 1 to 5")
        if not isinstance(days, int) or days < 1:
            raise SpecError("target", "within_days must be a positive whole number of days")
    return target


def _features(spec):
    features = spec.get("features")
    if not isinstance(features, dict) or not (features.get("radiomics") or features.get("clinical")):
        raise SpecError("features", 'name the features: {"radiomics": {"profile": "ct-default", "timepoint": '
                                    '"baseline", "aggregate": "largest", "include": ["original_*"]}, '
                                    '"clinical": ["age_at_start", "pdl1_tps"]}')
    clinical = features.get("clinical") or []
    known = survival_covariate_names()
    for name in clinical:
        if known.get(name) not in ("patient", "biomarker"):
            raise SpecError("features.clinical", f"unknown clinical covariate {name!r}; use the patient covariates "
                                                 f"({', '.join(PATIENT_COVARIATES)}) or biomarker kind codes")
    radiomics = features.get("radiomics")
    if radiomics:
        if not isinstance(radiomics, dict) or not radiomics.get("profile"):
            raise SpecError("features.radiomics", "needs a profile name, e.g. {\"profile\": \"ct-default\"}")
        if not re.fullmatch(r"lesion|ring_\d+(\.\d+)?-\d+(\.\d+)?mm", str(radiomics.get("region", "lesion"))):
            raise SpecError("features.radiomics", "region is lesion or a peritumoral ring named as the extraction "
                                                  "names it, e.g. ring_0-3mm")
        if radiomics.get("aggregate", "largest") not in AGGREGATES:
            raise SpecError("features.radiomics", f"aggregate must be one of {', '.join(AGGREGATES)}")
        timepoint = radiomics.get("timepoint", "baseline")
        if timepoint != "baseline" and timepoint != {"delta": ["baseline", "first_follow_up"]}:
            raise SpecError("features.radiomics", 'timepoint is "baseline" or {"delta": ["baseline", '
                                                  '"first_follow_up"]} (the stored delta pair)')
        if isinstance(timepoint, dict) and radiomics.get("aggregate", "largest") == "largest":
            raise SpecError("features.radiomics", "delta features are aggregated per patient: aggregate mean or "
                                                  "volume_weighted")
        versions = [v for (name, v) in imaging_selectors.profile_versions().values() if name == radiomics["profile"]]
        if not versions:
            raise SpecError("features.radiomics", f"there is no extraction profile named {radiomics['profile']!r}")
        if radiomics.get("exclude_flagged") and not isinstance(timepoint, dict):
            raise SpecError("features.radiomics", "exclude_flagged applies to delta features (a pair of scans); "
                                                  "baseline features have no pair")
        if radiomics.get("robust_only"):
            robust_exclusions(radiomics)  # SpecError when the profile version's robustness was never computed
    harmonise = spec.get("harmonise")
    if harmonise:
        if not radiomics:
            raise SpecError("harmonise", "harmonises radiomic features across scanners or sites; name radiomic "
                                         "features in the spec (or leave harmonise out)")
        if harmonise["batch"] not in HARMONISE_BATCHES:
            raise SpecError("harmonise", f"batch must be one of {', '.join(HARMONISE_BATCHES)} (the patient's site or "
                                         "an attribute of the baseline scan's series)")
        unknown = [name for name in harmonise.get("preserve") or [] if name not in clinical]
        if unknown:
            raise SpecError("harmonise", f"preserve names covariates of features.clinical; not there: "
                                         f"{', '.join(unknown)}")
    return features


def robust_exclusions(radiomics):
    """The feature names ``robust_only`` excludes: those of the profile's latest version below its stored ICC
    threshold (``feature_robustness``), as the feature table names them (``delta_rel:`` for delta features)."""
    from .robustness import non_robust_features

    from ..models import FeatureRobustness

    try:
        names = non_robust_features(profile=radiomics["profile"], threshold=radiomics.get("icc_threshold"))
    except FeatureRobustness.DoesNotExist as exc:
        raise SpecError("features.radiomics", f"robust_only: {exc}") from None
    prefix = "delta_rel:" if isinstance(radiomics.get("timepoint"), dict) else ""
    return [f"{prefix}{name}" for name in names]


def extraction_profile_names():
    """The extraction profile names a prediction spec may name (each name once, sorted)."""
    return sorted({name for name, _ in imaging_selectors.profile_versions().values()})


def prediction_spec_check(spec):
    """Check what only the database can tell (the target, the feature names, the profile); SpecError otherwise."""
    _target(spec)
    _features(spec)


def _target_values(spec, records, assessments):
    """{patient: 0/1} and {reason: count} for the excluded."""
    target, excluded, values = spec["target"], defaultdict(int), {}
    for r in records:
        if r.time_zero is None:
            excluded["no regimen matching time_zero"] += 1
            continue
        if "biomarker" in target:
            value = r.covariates.get(target["biomarker"])
            if value is None:
                excluded[f"no {target['biomarker']} measured on or before time zero"] += 1
                continue
            values[r.patient_id] = int(float(value) >= target["threshold"]) if "threshold" in target else int(
                str(value) in {str(p) for p in target["positive"]})
        elif "response" in target:
            kind = target["response"]
            if not r.assessed:
                excluded["no response assessment"] += 1
                continue
            if kind == "objective":
                bor = r.response_groups.get("recist_bor")
                if bor in (None, "", "NE"):
                    excluded["best overall response not evaluable"] += 1
                    continue
                values[r.patient_id] = int(bor in ("CR", "PR"))
            elif kind == "dcb":
                dcb = r.response_groups.get("dcb")
                if dcb is None:
                    excluded["durable clinical benefit not yet known"] += 1
                    continue
                values[r.patient_id] = int(dcb == "DCB")
            elif kind == "pseudoprogression":
                if not assessments.get(r.patient_id):
                    excluded["no iUPD (pseudoprogression is asked among patients with a first iUPD)"] += 1
                    continue
                values[r.patient_id] = int(bool(r.response_groups.get("pseudoprogression")))
            else:
                values[r.patient_id] = int(bool(r.response_groups.get("hyperprogression_any")))
        else:
            term, grade, days = target["irae"], target.get("min_grade", 1), target.get("within_days", 180)
            hit = any((term in ("any", "irae_any") or t == term) and g >= grade and (onset - r.time_zero).days <= days
                      for t, g, onset in r.irae_onsets)
            follow_up = ((r.death_date or r.last_contact) - r.time_zero).days if (r.death_date or r.last_contact) else 0
            if not hit and follow_up < days:
                excluded[f"followed for fewer than {days} days without the irAE"] += 1
                continue
            values[r.patient_id] = int(hit)
    return values, dict(excluded)


def _clinical_columns(records, names, *, columns=None):
    """Clinical covariates as numbers: numeric ones as they are, categorical ones dummy-coded against their first
    level in sorted order (``name[level]``) — or, given a trained model's ``columns``, exactly those columns."""
    frame = pd.DataFrame([{**{n: r.covariates.get(n) for n in names}, "patient": r.patient_id} for r in records])
    frame = frame.set_index("patient") if len(frame) else pd.DataFrame(index=pd.Index([], name="patient"))
    out = {}
    for name in names:
        values = frame[name] if name in frame else pd.Series(index=frame.index, dtype=object)
        dummies = None
        if columns is not None:
            known = [c[len(name) + 1:-1] for c in columns if c.startswith(f"{name}[") and c.endswith("]")]
            dummies = known if known or name not in columns else None
        elif not values.dropna().map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
            dummies = sorted({str(v) for v in values.dropna()})[1:]  # the first level is the reference
        if dummies is None:
            out[name] = pd.to_numeric(values, errors="coerce").astype(float)
            continue
        for level in dummies:
            out[f"{name}[{level}]"] = values.map(lambda v, lv=level: np.nan if v is None else float(str(v) == lv))
    return pd.DataFrame(out, index=frame.index)


def _baseline_target_sets(patients, *, profile_pk, region):
    """``(patient, features, acquisition)`` of each target lesion's feature set at the patient's baseline, of this
    profile version and region (``acquisition``: the series attributes, None for imported features)."""
    lesions = imaging_selectors.patient_lesion_links(patients=patients)
    timepoints = imaging_selectors.patient_timepoint_dates(patients=patients)
    baselines = {p: _schedule({pk: TimepointInfo(*row) for pk, row in tps.items()})[0] for p, tps in timepoints.items()}
    for patient, lesion, timepoint, profile, reg, features, acquisition in imaging_selectors.lesion_feature_rows(
            patients=patients, timepoints=[b for b in baselines.values() if b is not None]):
        if profile == profile_pk and reg == region and timepoint == baselines.get(patient) and (
                lesions[patient][lesion][1] == "target"):
            yield patient, features, acquisition


def _batch_labels(spec, patients, *, profile_pk):
    """{patient pk: batch label} for ComBat (``harmonise.batch``): the patient's site code, or the series attribute
    of the baseline scan of the patient's target lesions (the most frequent value when they differ; ties: the
    first in sorted order). Patients without one are left out (the caller counts them)."""
    batch = spec["harmonise"]["batch"]
    if batch == "site":
        return {pk: code for pk, code in Patient.objects.filter(pk__in=patients).values_list("pk", "site__code")}
    region = spec["features"]["radiomics"].get("region", "lesion")
    values = defaultdict(list)
    for patient, _, acquisition in _baseline_target_sets(patients, profile_pk=profile_pk, region=region):
        value = (acquisition or {}).get(batch)
        if value not in (None, ""):
            values[patient].append(str(value).strip())
    return {patient: sorted(set(v), key=lambda x: (-v.count(x), x))[0] for patient, v in values.items()}


def _radiomic_columns(spec, patients, *, profile_pk=None):
    """Baseline radiomics aggregated over the target lesions, or the stored delta (relative change) per patient,
    of the profile's latest version (or of ``profile_pk``: the version a stored model was fitted on)."""
    radiomics = spec["features"]["radiomics"]
    profile_name, region = radiomics["profile"], radiomics.get("region", "lesion")
    aggregate = radiomics.get("aggregate", "largest")
    include = radiomics.get("include") or ["*"]
    profiles = imaging_selectors.profile_versions()
    latest = profile_pk or max((pk for pk, (name, _) in profiles.items() if name == profile_name),
                               key=lambda pk: profiles[pk][1])
    rows = {}
    if isinstance(radiomics.get("timepoint"), dict):
        for row in DeltaFeature.objects.filter(patient__in=patients, lesion__isnull=True, profile_id=latest,
                                               region=region, aggregation=aggregate, reference="baseline"):
            if radiomics.get("exclude_flagged") and row.acquisition_flags:
                rows.setdefault("__flagged__", set()).add(row.patient_id)
                continue
            rows[row.patient_id] = {f"delta_rel:{name}": (rel if rel is not None else np.nan)
                                    for name, (_, rel) in row.values.items()
                                    if any(fnmatch.fnmatchcase(name, p) for p in include)}
        flagged = rows.pop("__flagged__", set())
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.attrs["flagged"] = flagged
        return frame, latest
    by_patient = defaultdict(list)
    for patient, features, _ in _baseline_target_sets(patients, profile_pk=latest, region=region):
        by_patient[patient].append({n: v for n, v in features.items()
                                    if any(fnmatch.fnmatchcase(n, p) for p in include) or n == VOLUME})
    for patient, sets in by_patient.items():
        frame = pd.DataFrame(sets)
        volumes = frame[VOLUME] if VOLUME in frame else None
        if aggregate == "largest":
            chosen = frame.iloc[int(np.nanargmax(volumes))] if volumes is not None else frame.mean()
        else:
            weights = volumes if aggregate == "volume_weighted" and volumes is not None else None
            chosen = pd.Series({c: frame[c].sum() if is_additive(c) else (
                np.average(frame[c], weights=weights) if weights is not None else frame[c].mean())
                for c in frame.columns})
        rows[patient] = {n: v for n, v in chosen.items() if any(fnmatch.fnmatchcase(n, p) for p in include)}
    return pd.DataFrame.from_dict(rows, orient="index"), latest


def prediction_table(*, spec):
    """``(X, y, excluded, profile_pk)`` for ``run_prediction``: X patients × features (raw, NaN missing), y 0/1,
    excluded {reason: count} (no target value, no radiomic features). Raises SpecError for what must be fixed."""
    prediction_spec_check(spec)
    clinical = list(spec["features"].get("clinical") or [])
    target = spec["target"]
    names = list(dict.fromkeys(clinical + ([target["biomarker"]] if "biomarker" in target else [])))
    records = survival_records(spec={"cohort": spec.get("cohort") or {}, "time_zero": spec.get("time_zero"),
                                     "covariates": names})
    iupd = {}
    if target.get("response") == "pseudoprogression":
        for patient, pseudo in ResponseAssessment.objects.filter(
                patient__in=[r.patient_id for r in records], status="done").values_list(
                "patient_id", "summary__pseudoprogression"):
            iupd[patient] = iupd.get(patient) or bool((pseudo or {}).get("episodes"))
    y, excluded = _target_values(spec, records, iupd)
    kept = [r for r in records if r.patient_id in y]
    parts = []
    if clinical:
        parts.append(_clinical_columns(kept, clinical))
    profile_pk = None
    if spec["features"].get("radiomics"):
        radiomic, profile_pk = _radiomic_columns(spec, [r.patient_id for r in kept])
        flagged = radiomic.attrs.get("flagged", set())
        if flagged:
            excluded["delta pair with acquisition differences (exclude_flagged)"] = len(flagged)
            for pk in flagged:
                y.pop(pk, None)
        without = [pk for pk in y if pk not in radiomic.index]
        if without:
            excluded["no radiomic features at the baseline (or no stored delta)"] = len(without)
            for pk in without:
                y.pop(pk)
        parts.append(radiomic)
    levels = None
    if spec.get("harmonise"):
        labels = _batch_labels(spec, list(y), profile_pk=profile_pk)
        without = [pk for pk in y if pk not in labels]
        if without:
            excluded[f"no {spec['harmonise']['batch']} recorded for the baseline scan (harmonise)"] = len(without)
            for pk in without:
                y.pop(pk)
        levels = {label: code for code, label in enumerate(sorted(set(labels[pk] for pk in y)))}
        parts.append(pd.DataFrame({spec["harmonise"]["column"]: {pk: float(levels[labels[pk]]) for pk in y}}))
    X = pd.concat(parts, axis=1).reindex(sorted(y)) if parts else pd.DataFrame(index=sorted(y))
    X.index.name = "patient"
    X = X.astype(float)
    X.attrs["batch_levels"] = levels
    return X, pd.Series(y, dtype=int).reindex(X.index), excluded, profile_pk


def prediction_features(*, spec, patients, profile_pk=None, columns=None, batch_levels=None):
    """The feature rows of these patients for a stored model's spec (no target needed), in the model's
    ``columns`` (the training table's, in order; absent features are NaN, imputed as in training): ``(X, missing)`` with
    ``missing`` {patient pk: reason} for patients whose features cannot be built (no regimen matching time zero,
    no features of the model's profile version at the baseline)."""
    clinical = list(spec["features"].get("clinical") or [])
    records = [r for r in survival_records(spec={"cohort": {}, "time_zero": spec.get("time_zero"),
                                                 "covariates": clinical}) if r.patient_id in set(patients)]
    missing = {r.patient_id: "no regimen matching the model's time zero" for r in records if r.time_zero is None}
    kept = [r for r in records if r.time_zero is not None]
    parts = [_clinical_columns(kept, clinical, columns=columns)] if clinical else []
    if spec["features"].get("radiomics"):
        radiomic, _ = _radiomic_columns(spec, [r.patient_id for r in kept], profile_pk=profile_pk)
        for r in kept:
            if r.patient_id not in radiomic.index:
                name, version = imaging_selectors.profile_versions(pks=[profile_pk]).get(profile_pk, ("?", "?"))
                missing[r.patient_id] = (f"no baseline features of profile {name} v{version}, the version the "
                                         f"model was fitted on (features of another version are never mixed)")
        parts.append(radiomic)
    if spec.get("harmonise"):
        batch, levels = spec["harmonise"]["batch"], batch_levels or {}
        labels = _batch_labels(spec, [r.patient_id for r in kept if r.patient_id not in missing], profile_pk=profile_pk)
        for r in kept:
            if r.patient_id in missing:
                continue
            if r.patient_id not in labels:
                missing[r.patient_id] = f"no {batch} recorded for the baseline scan (the model harmonises by {batch})"
            elif labels[r.patient_id] not in levels:
                missing[r.patient_id] = (f"{batch} {labels[r.patient_id]!r} was not in the model's training data "
                                         "(ComBat can only harmonise the batches it was fitted on)")
        parts.append(pd.DataFrame({spec["harmonise"]["column"]: {pk: float(levels[label])
                                                                 for pk, label in labels.items() if label in levels}}))
    ids = sorted(r.patient_id for r in kept if r.patient_id not in missing)
    X = pd.concat(parts, axis=1).reindex(ids) if parts else pd.DataFrame(index=ids)
    if columns is not None:
        X = X.reindex(columns=list(columns))
    X.index.name = "patient"
    return X.astype(float), missing


def model_probabilities(run_row, *, patients):
    """A stored classification model's probabilities for these patient pks: ``({pk: probability}, {pk: reason})``
    (refused: no features of the profile version the model was fitted on, no regimen for its time zero)."""
    from ..compute.prediction import load_model, score_patients

    pipeline = load_model(bytes(run_row.model), sha256=run_row.model_sha256)
    X, missing = prediction_features(spec=run_row.spec, patients=list(patients),
                                     profile_pk=run_row.result.get("profile"),
                                     columns=run_row.result.get("feature_names"),
                                     batch_levels=(run_row.result.get("harmonise") or {}).get("levels"))
    probabilities = score_patients(pipeline, X) if len(X) else []
    scores = {int(pk): float(p) for pk, p in zip(X.index, probabilities, strict=True)}
    for pk in patients:
        if pk not in scores and pk not in missing:
            missing[pk] = "not in the cohort the model's time zero applies to"
    return scores, missing
