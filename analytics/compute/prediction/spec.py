"""Validation and normalisation of the prediction part of an analysis spec.

The full ``"kind": "classification"`` spec also names the cohort, the target and the features; those are
resolved on the Django side. :func:`validate_prediction_spec` checks the keys the modelling code uses
(:data:`PREDICTION_KEYS`), fills their defaults and refuses, with a :class:`~.model.SpecError` naming the key,
anything that cannot be run. Other keys are left to the caller (``strict=True`` refuses them too).
"""
import math
from collections.abc import Mapping
from numbers import Real

from .model import MODELS, SELECTION_METHODS, SpecError

PREDICTION_KEYS = ("model", "seed", "cv", "selection", "correlation_threshold", "permutations", "threshold",
                   "bootstrap", "exclude_features", "harmonise")
CV_KEYS = ("outer_folds", "inner_folds", "repeats", "permutation_repeats")
DEFAULT_CV = {"outer_folds": 5, "inner_folds": 5, "repeats": 3, "permutation_repeats": 1}
DEFAULT_SELECTION = {"method": "univariate", "k": 20}
DEFAULT_CORRELATION_THRESHOLD = 0.9
DEFAULT_PERMUTATIONS = 10
DEFAULT_THRESHOLD = 0.5
DEFAULT_BOOTSTRAP = 1000
MAX_FOLDS = 20
MAX_REPEATS = 100
MAX_PERMUTATIONS = 1000
MIN_BOOTSTRAP = 100
MAX_BOOTSTRAP = 100_000


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _whole(field, value, low, high, what):
    if not _is_int(value) or not low <= value <= high:
        raise SpecError(field, f"must be a whole number from {low} to {high} ({what})")
    return value


def _cv(value):
    if value is None:
        return dict(DEFAULT_CV)
    if not isinstance(value, Mapping):
        raise SpecError("cv", 'must be an object such as {"outer_folds": 5, "inner_folds": 5, "repeats": 3}')
    unknown = sorted(set(value) - set(CV_KEYS))
    if unknown:
        raise SpecError("cv", f"unknown key {unknown[0]!r}; the keys are {', '.join(CV_KEYS)}")
    cv = {**DEFAULT_CV, **value}
    _whole("cv", cv["outer_folds"], 2, MAX_FOLDS, "outer_folds: the folds that estimate performance")
    _whole("cv", cv["inner_folds"], 2, MAX_FOLDS, "inner_folds: the folds that tune the hyper-parameters")
    _whole("cv", cv["repeats"], 1, MAX_REPEATS, "repeats: how often the outer folds are redrawn")
    _whole("cv", cv["permutation_repeats"], 1, MAX_REPEATS,
           "permutation_repeats: outer-fold repeats of each permuted-label run")
    return {key: cv[key] for key in CV_KEYS}


def _selection(value):
    if value is None:
        return dict(DEFAULT_SELECTION)
    if isinstance(value, str):
        value = {"method": value}
    if not isinstance(value, Mapping):
        raise SpecError("selection", 'must be an object such as {"method": "univariate", "k": 20}')
    unknown = sorted(set(value) - {"method", "k"})
    if unknown:
        raise SpecError("selection", f"unknown key {unknown[0]!r}; the keys are method and k")
    selection = {**DEFAULT_SELECTION, **value}
    if selection["method"] not in SELECTION_METHODS:
        raise SpecError("selection", f"method must be one of {', '.join(SELECTION_METHODS)} "
                                     "(univariate: the k best by ANOVA F; l1: L1-logistic non-zero coefficients, at "
                                     "most k; none: every feature that passes the filters)")
    _whole("selection", selection["k"], 1, 100_000, "k: the most features the selection keeps")
    return {"method": selection["method"], "k": selection["k"]}


def _exclude(value):
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise SpecError("exclude_features", "must be a list of feature names (the features the robustness filter "
                                            "refused)")
    names = []
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise SpecError("exclude_features", "every entry must be a non-empty feature name")
        if name not in names:
            names.append(name)
    return names


HARMONISE_KEYS = ("method", "batch", "column", "preserve", "unadjusted", "eb", "parametric")


def _names_list(field, value, what):
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple) or not all(
            isinstance(v, str) and v.strip() for v in value):
        raise SpecError(field, f"{what} must be a list of names")
    return list(dict.fromkeys(value))


def _harmonise(value):
    """None, or the normalised ComBat block: the batch (its label and the table column holding its numeric codes,
    default ``batch:<batch>``), the covariates to preserve, the columns left unadjusted, eb and parametric."""
    if value is None or value is False:
        return None
    if not isinstance(value, Mapping):
        raise SpecError("harmonise", 'must be an object such as {"method": "combat", "batch": "site"}')
    unknown = sorted(set(value) - set(HARMONISE_KEYS))
    if unknown:
        raise SpecError("harmonise", f"unknown key {unknown[0]!r}; the keys are {', '.join(HARMONISE_KEYS)}")
    if value.get("method", "combat") != "combat":
        raise SpecError("harmonise", "method must be combat (the only harmonisation offered)")
    batch = value.get("batch")
    if not isinstance(batch, str) or not batch.strip():
        raise SpecError("harmonise", "needs the batch, e.g. {\"batch\": \"site\"} or {\"batch\": \"manufacturer\"}")
    for key in ("eb", "parametric"):
        if not isinstance(value.get(key, True), bool):
            raise SpecError("harmonise", f"{key} must be true or false")
    return {"method": "combat", "batch": batch, "column": value.get("column") or f"batch:{batch}",
            "preserve": _names_list("harmonise", value.get("preserve"), "preserve"),
            "unadjusted": _names_list("harmonise", value.get("unadjusted"), "unadjusted"),
            "eb": value.get("eb", True), "parametric": value.get("parametric", True)}


def validate_prediction_spec(spec, *, strict=False):
    """Check the prediction keys of a spec and return them normalised (every key present, defaults filled).

    Parameters
    ----------
    spec : Mapping
        The analysis spec. Keys (all optional):

        * ``model`` - one of :data:`~.model.MODELS` (default ``l1_logistic``);
        * ``seed`` - whole number 0 to 2**32 - 1 seeding every random step (default 0);
        * ``cv`` - ``{"outer_folds": 5, "inner_folds": 5, "repeats": 3, "permutation_repeats": 1}``;
        * ``selection`` - ``{"method": "univariate" | "l1" | "none", "k": 20}``;
        * ``correlation_threshold`` - drop one of each feature pair with ``|r|`` above it, 0 < t <= 1 (0.9);
        * ``permutations`` - permuted-label control runs, 1 to 1000 (10);
        * ``threshold`` - decision threshold on the predicted probability for sensitivity/specificity (0.5);
        * ``bootstrap`` - bootstrap resamples for the AUC confidence interval, 100 to 100,000 (1000);
        * ``exclude_features`` - feature names to drop before modelling (the robustness filter's refusals);
        * ``harmonise`` - ``{"method": "combat", "batch": "site", "column": "batch:site", "preserve": [...],
          "unadjusted": [...], "eb": true, "parametric": true}``: ComBat fitted in every training fold on the
          table's batch column (numeric codes, default ``batch:<batch>``); ``preserve`` keeps those columns' effect,
          they and ``unadjusted`` are not adjusted (default none).
    strict : bool
        Also refuse keys outside :data:`PREDICTION_KEYS` (when the caller passes only the prediction part).

    Returns
    -------
    dict
        The normalised prediction keys only.

    Raises
    ------
    SpecError
        With ``field`` the offending key and a ``message`` a researcher can act on.
    """
    if not isinstance(spec, Mapping):
        raise SpecError("spec", "must be a JSON object")
    if strict:
        unknown = sorted(set(spec) - set(PREDICTION_KEYS))
        if unknown:
            raise SpecError(unknown[0], f"unknown key; the keys are {', '.join(PREDICTION_KEYS)}")
    model = spec.get("model") or MODELS[0]
    if model not in MODELS:
        raise SpecError("model", f"must be one of {', '.join(MODELS)}")
    seed = spec.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed < 2 ** 32:
        raise SpecError("seed", "must be a whole number from 0 to 4294967295")
    correlation_threshold = spec.get("correlation_threshold", DEFAULT_CORRELATION_THRESHOLD)
    if not _is_number(correlation_threshold) or not 0 < correlation_threshold <= 1:
        raise SpecError("correlation_threshold", "must be a number above 0 and at most 1 (|Pearson r| above which "
                                                 "one feature of a pair is dropped; 1 drops none)")
    permutations = _whole("permutations", spec.get("permutations", DEFAULT_PERMUTATIONS), 1, MAX_PERMUTATIONS,
                          "permuted-label control runs; at least 1, 10 or more for a reliable control")
    threshold = spec.get("threshold", DEFAULT_THRESHOLD)
    if not _is_number(threshold) or not 0 < threshold < 1:
        raise SpecError("threshold", "must be a probability strictly between 0 and 1 (the decision threshold for "
                                     "sensitivity and specificity)")
    bootstrap = _whole("bootstrap", spec.get("bootstrap", DEFAULT_BOOTSTRAP), MIN_BOOTSTRAP, MAX_BOOTSTRAP,
                       "bootstrap resamples of the patients for the AUC confidence interval")
    return {
        "model": model, "seed": seed, "cv": _cv(spec.get("cv")), "selection": _selection(spec.get("selection")),
        "correlation_threshold": float(correlation_threshold), "permutations": permutations,
        "threshold": float(threshold), "bootstrap": bootstrap, "exclude_features": _exclude(spec.get("exclude_features")),
        "harmonise": _harmonise(spec.get("harmonise")),
    }
