"""Nested cross-validation and the permuted-label control.

Nested cross-validation (Varma & Simon, BMC Bioinformatics 2006;7:91; Cawley & Talbot, JMLR 2010;11:2079):
the outer folds (``RepeatedStratifiedKFold``, seeded) estimate performance; inside each outer training set a
``GridSearchCV`` over shuffled ``StratifiedKFold`` inner folds, scored by ROC AUC, picks the hyper-parameters
and refits the whole pipeline (:mod:`.pipeline`) on that outer training set, which then predicts the held-out
outer fold. Each repeat therefore predicts every patient exactly once, by a model that never saw them — not in
imputation, scaling, filtering, selection, tuning or fitting.

Permuted-label control (Ojala & Garriga, JMLR 2010;11:1833): the same nested cross-validation with the
outcome randomly permuted. Any real association is destroyed, so an honest pipeline scores AUC ~ 0.5; a mean
permuted AUC far from 0.5 means information from the held-out patients reaches the model (a leak) or that the
validation is biased for this sample. The rule (:func:`leak_assessment`): the mean of the permuted AUCs may sit
at most ``max(LEAK_TOLERANCE, 3 x its standard error)`` from 0.5, the standard error being the permuted AUCs'
standard deviation over sqrt(number of permutations) (when there are at least two).

Seeds: everything derives from the spec's ``seed`` through :class:`numpy.random.SeedSequence` streams, so the same
spec and data give the same numbers: the real analysis uses ``seed`` for its outer and inner folds and for the
estimators; permutation *i* draws its permutation from ``SeedSequence([seed, 1, i])`` and its folds and
estimator seed from ``SeedSequence([seed, 2, i])``; the bootstrap uses ``SeedSequence([seed, 3])``.
"""
import math

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold

from .metrics import auc
from .model import AnalysisError
from .pipeline import build_search, selected_features
from .spec import validate_prediction_spec

__all__ = ["NestedCV", "permuted_label_control", "leak_assessment", "minimum_minority", "check_class_counts",
           "LEAK_TOLERANCE", "MIN_MINORITY", "PERMUTATION_STREAM", "PERMUTATION_FOLDS_STREAM", "BOOTSTRAP_STREAM",
           "derived_seed"]

#: The mean permuted-label AUC may differ from 0.5 by this much (or 3 standard errors, if more) without a warning.
LEAK_TOLERANCE = 0.10
#: The fewest patients in the smaller outcome class that an analysis accepts, whatever the folds.
MIN_MINORITY = 10
#: Each inner validation fold must hold at least this many patients of the smaller class (an AUC needs both).
MIN_MINORITY_PER_INNER_FOLD = 2
PERMUTATION_STREAM, PERMUTATION_FOLDS_STREAM, BOOTSTRAP_STREAM = 1, 2, 3


def derived_seed(seed, *stream):
    """A 32-bit seed for scikit-learn from the spec's seed and a stream label (see the module docstring)."""
    return int(np.random.SeedSequence([seed, *stream]).generate_state(1)[0])


def _guaranteed_inner(minority, outer_folds, inner_folds):
    """(fewest minority patients in an inner validation fold, fewest in an inner training fold), given that
    stratified folds split each class as evenly as possible."""
    outer_train = minority - math.ceil(minority / outer_folds)
    return outer_train // inner_folds, outer_train - math.ceil(outer_train / inner_folds)


def minimum_minority(outer_folds, inner_folds, model=None):
    """The fewest patients of the smaller class for which the folds work: at least :data:`MIN_MINORITY`, and
    enough for 2 in every inner validation fold (and 3 in every inner training fold for ``svm``, whose Platt
    scaling uses 3 internal folds)."""
    m = MIN_MINORITY
    while True:
        validation, training = _guaranteed_inner(m, outer_folds, inner_folds)
        if validation >= MIN_MINORITY_PER_INNER_FOLD and (model != "svm" or training >= 3):
            return m
        m += 1


def check_class_counts(y, spec):
    """Refuse (:class:`AnalysisError`) an outcome with one class or too few patients in the smaller class."""
    y = np.asarray(y, dtype=int)
    positives = int(y.sum())
    negatives = int(y.size - positives)
    if positives == 0 or negatives == 0:
        which = "positive" if negatives == 0 else "negative"
        raise AnalysisError(f"All {y.size} patients are {which} for the target, so there is nothing to predict; "
                            "check the target definition or the cohort.")
    cv = spec["cv"]
    needed = minimum_minority(cv["outer_folds"], cv["inner_folds"], spec["model"])
    minority = min(positives, negatives)
    if minority < needed:
        label = "positive" if positives <= negatives else "negative"
        raise AnalysisError(
            f"Only {minority} patients are {label} for the target ({positives} positive, {negatives} negative); "
            f"{cv['outer_folds']} outer x {cv['inner_folds']} inner folds need at least {needed} in the smaller "
            f"class ({MIN_MINORITY} at the very least, and {MIN_MINORITY_PER_INNER_FOLD} in every inner validation "
            "fold). Widen the cohort, or use fewer folds.")


class NestedCV:
    """Nested cross-validation of the pipeline a prediction spec describes.

    Parameters
    ----------
    spec : Mapping
        A prediction spec (validated by :func:`~.spec.validate_prediction_spec`).
    seed : int or None
        Overrides ``spec["seed"]`` for the outer folds, the inner folds and the estimators.
    repeats : int or None
        Overrides ``spec["cv"]["repeats"]``.
    n_jobs : int
        Parallel fits inside each grid search (1: none; results do not depend on it).
    keep_models : bool
        Keep each outer fold's fitted pipeline in ``models_`` (memory grows with the folds).

    Attributes
    ----------
    oof_ : ndarray, shape (repeats, n)
        Out-of-fold probability of the positive class per repeat and patient (input row order).
    auc_by_repeat_ : list of float
    auc_ : float
        Mean of ``auc_by_repeat_``.
    folds_ : list of dict
        Per outer fold: ``repeat``, ``fold``, ``train`` and ``test`` (row positions), ``best_params``,
        ``inner_auc`` (the chosen candidate's mean inner AUC), ``features`` (those the fold's model uses).
    models_ : list of Pipeline
        Only with ``keep_models``.
    """

    def __init__(self, spec, *, seed=None, repeats=None, n_jobs=1, keep_models=False):
        self.spec = spec
        self.seed = seed
        self.repeats = repeats
        self.n_jobs = n_jobs
        self.keep_models = keep_models

    def fit(self, X, y, progress=None):
        """Run the nested cross-validation.

        Parameters
        ----------
        X : pandas.DataFrame
            Patients x features (raw values; missing values allowed).
        y : array of 0/1
        progress : callable or None
            ``progress(done, total, message)`` after each outer fold.

        Returns
        -------
        self
        """
        spec = validate_prediction_spec(self.spec)
        seed = spec["seed"] if self.seed is None else self.seed
        repeats = spec["cv"]["repeats"] if self.repeats is None else self.repeats
        n_folds = spec["cv"]["outer_folds"]
        y = np.asarray(y, dtype=int)
        outer = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=repeats, random_state=seed)
        oof = np.full((repeats, y.size), np.nan)
        folds, models = [], []
        total = n_folds * repeats
        for done, (train, test) in enumerate(outer.split(np.zeros((y.size, 1)), y), start=1):
            repeat, fold = divmod(done - 1, n_folds)
            search = build_search(spec, seed=seed, n_jobs=self.n_jobs).fit(X.iloc[train], y[train])
            best = search.best_estimator_
            oof[repeat, test] = best.predict_proba(X.iloc[test])[:, 1]
            folds.append({"repeat": repeat, "fold": fold, "train": train, "test": test,
                          "best_params": dict(search.best_params_), "inner_auc": float(search.best_score_),
                          "features": selected_features(best, spec["model"])})
            if self.keep_models:
                models.append(best)
            if progress is not None:
                progress(done, total, f"repeat {repeat + 1}/{repeats}, outer fold {fold + 1}/{n_folds}")
        if np.isnan(oof).any():  # cannot happen with stratified k-fold; guards the "every patient once" promise
            raise RuntimeError("some patients received no out-of-fold prediction")
        self.oof_ = oof
        self.auc_by_repeat_ = [float(auc(y, row)) for row in oof]
        self.auc_ = float(np.mean(self.auc_by_repeat_))
        self.folds_ = folds
        self.models_ = models
        return self


def permuted_label_control(spec, X, y, *, progress=None, n_jobs=1):
    """The permuted-label control: ``spec["permutations"]`` nested cross-validations, each of
    ``spec["cv"]["permutation_repeats"]`` repeats, with the outcome permuted (seeded, see the module docstring).

    Returns
    -------
    list of float
        The repeat-averaged AUC of each permutation.
    """
    spec = validate_prediction_spec(spec)
    y = np.asarray(y, dtype=int)
    count, repeats = spec["permutations"], spec["cv"]["permutation_repeats"]
    per_run = spec["cv"]["outer_folds"] * repeats
    aucs = []
    for i in range(count):
        rng = np.random.default_rng(np.random.SeedSequence([spec["seed"], PERMUTATION_STREAM, i]))
        permuted = rng.permutation(y)

        def report(done, total, message, i=i):
            if progress is not None:
                progress(i * per_run + done, count * per_run, f"permuted labels {i + 1}/{count}: {message}")

        run = NestedCV(spec, seed=derived_seed(spec["seed"], PERMUTATION_FOLDS_STREAM, i), repeats=repeats,
                       n_jobs=n_jobs).fit(X, permuted, progress=report)
        aucs.append(run.auc_)
    return aucs


def leak_assessment(permuted_aucs):
    """``(tolerance, warning text or None)`` for the permuted-label AUCs (rule in the module docstring)."""
    values = np.asarray(permuted_aucs, dtype=float)
    mean = float(values.mean())
    tolerance = LEAK_TOLERANCE
    if values.size >= 2:
        tolerance = max(tolerance, 3 * float(values.std(ddof=1)) / math.sqrt(values.size))
    distance = mean - 0.5
    if abs(distance) <= tolerance:
        return tolerance, None
    summary = (f"The permuted-label control has a mean AUC of {mean:.3f} over {values.size} permutation"
               f"{'s' if values.size != 1 else ''}, {abs(distance):.3f} from 0.5 (tolerance {tolerance:.3f}). ")
    if distance > 0:
        return tolerance, summary + ("With the outcome shuffled the pipeline should not predict anything: it leaks "
                                     "information from the held-out patients into the model, so the AUC above is "
                                     "optimistic and must not be reported.")
    return tolerance, summary + ("The pipeline predicts shuffled outcomes systematically worse than chance, so the "
                                 "cross-validation is biased for this sample (too few patients or events for the "
                                 "folds); treat the AUC above with caution.")
