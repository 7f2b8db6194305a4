"""The scikit-learn pipeline of a prediction spec: every data-driven step is fitted inside the fold.

Steps, in order (the names are the pipeline's step names)::

    harmonise    BatchHarmoniser       ComBat across scanners or sites, fitted on the training fold (only when the
                                       spec asks for it: ``harmonise``)
    exclude      NamedFeatureDropper   drop the features the robustness filter refused (names from the caller)
    impute       SimpleImputer         each missing value -> the training fold's median of that feature
    scale        StandardScaler        (x - mean) / sd, training-fold mean and sd (ddof 0)
    decorrelate  CorrelationFilter     drop one feature of each pair with |Pearson r| > threshold, and constants
    select       UnivariateSelector    the k best by ANOVA F (f_classif)           } or nothing
                 | L1Selector          the non-zero coefficients of an L1 logistic  } ("none")
    model        the estimator, its hyper-parameters tuned by the inner cross-validation (see GRIDS)

The features are dropped by name *before* imputation (rather than after it, as one might draw it) because the
pipeline's input is the only place that still has names; imputation is per feature, so the order changes
nothing. Fitting the whole pipeline on a training fold is what keeps the held-out patients out of every
learned quantity: medians, means and sds, the correlation structure, the selected features and the model.
Selecting features on all patients before cross-validating is the classic error that makes noise look
predictive (Ambroise & McLachlan, PNAS 2002;99:6562; Simon et al., J Natl Cancer Inst 2003;95:14).

Hyper-parameter grids (:data:`GRIDS`), listed simplest first so that ties in the inner AUC go to the
sparser or shallower model (GridSearchCV picks the first of the tied candidates):

* ``l1_logistic`` - LogisticRegression, L1 penalty, liblinear solver (``intercept_scaling=100`` so that
  liblinear's penalty on the intercept is negligible and calibration-in-the-large is not shrunk):
  C in {0.05, 0.2, 1, 5};
* ``elastic_net`` - LogisticRegression, elastic-net penalty, saga solver (max_iter 5000):
  C in {0.05, 0.2, 1} x l1_ratio in {0.2, 0.5, 0.8};
* ``random_forest`` - RandomForestClassifier, 200 trees grown to full depth, max_features "sqrt":
  min_samples_leaf in {5, 1} (each fit costs 200 trees, so the grid is small; forests are robust to the rest);
* ``svm`` - SVC, RBF kernel, gamma "scale", with Platt (sigmoid) probabilities from CalibratedClassifierCV(cv=3,
  ensemble=False), as scikit-learn recommends instead of ``SVC(probability=True)``: C in {0.1, 1, 10};
* ``gradient_boosting`` - GradientBoostingClassifier, 100 trees: learning_rate in {0.05, 0.1} x
  max_depth in {1, 2};
* with ``selection: l1`` the selector's C is tuned too: C in {0.1, 1}.

Every random step takes the spec's seed.
"""
import re

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectorMixin, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted, validate_data

from ..harmonisation import ComBat, HarmonisationError
from .model import LINEAR_MODELS, AnalysisError, NoFeaturesLeftError

__all__ = ["BatchHarmoniser", "NamedFeatureDropper", "CorrelationFilter", "UnivariateSelector", "L1Selector", "GRIDS",
           "SELECTION_GRIDS", "build_pipeline", "param_grid", "build_search", "describe_pipeline",
           "selected_features"]

_SKLEARN = tuple(int(part) for part in re.match(r"(\d+)\.(\d+)", sklearn.__version__).groups())

GRIDS = {
    "l1_logistic": {"model__C": [0.05, 0.2, 1.0, 5.0]},
    "elastic_net": {"model__C": [0.05, 0.2, 1.0], "model__l1_ratio": [0.2, 0.5, 0.8]},
    "random_forest": {"model__min_samples_leaf": [5, 1]},
    "svm": {"model__estimator__C": [0.1, 1.0, 10.0]},
    "gradient_boosting": {"model__learning_rate": [0.05, 0.1], "model__max_depth": [1, 2]},
}
SELECTION_GRIDS = {"univariate": {}, "l1": {"select__C": [0.1, 1.0]}, "none": {}}
INNER_SCORING = "roc_auc"
# liblinear penalises the intercept like a coefficient; a large constant column makes that penalty negligible.
LIBLINEAR_INTERCEPT_SCALING = 100.0


def _logistic(*, l1_ratio, **params):
    """LogisticRegression with an L1 (``l1_ratio=1``) or elastic-net penalty, whatever the scikit-learn version:
    from 1.8 the penalty is implied by ``l1_ratio`` (``penalty`` is deprecated); before, it must be named."""
    if _SKLEARN >= (1, 8):
        return LogisticRegression(l1_ratio=l1_ratio, **params)
    penalty = "l1" if l1_ratio == 1 else "elasticnet"
    return LogisticRegression(penalty=penalty, l1_ratio=None if penalty == "l1" else l1_ratio, **params)


def _names_out(estimator, input_features):
    if input_features is not None:
        return np.asarray(input_features, dtype=object)
    if hasattr(estimator, "feature_names_in_"):
        return np.asarray(estimator.feature_names_in_, dtype=object)
    return np.asarray([f"x{i}" for i in range(estimator.n_features_in_)], dtype=object)


class BatchHarmoniser(TransformerMixin, BaseEstimator):
    """ComBat harmonisation of the features across batches (scanners, sites), as a pipeline step.

    The input is a DataFrame holding the features and the ``batch`` column (numeric batch codes: the caller maps
    the labels); the output is the same DataFrame without the batch column, the features harmonised. Everything
    is learned from the data given to :meth:`fit`, in the pipeline the training fold: the batch effects (ComBat,
    :class:`~analytics.compute.harmonisation.ComBat`), and the medians that fill missing values first (ComBat needs
    complete data; a filled value is harmonised like the others, and the imputation step after this one then has
    nothing left to fill in these features).

    Not adjusted (passed through unchanged, counted in ``unadjusted_``): the columns named in ``unadjusted`` (the
    clinical covariates: age or sex are not scanner effects) and the features constant within a batch of the
    training data (ComBat's variance of that batch is zero; the correlation filter drops constant features anyway).

    Parameters
    ----------
    batch : str
        The name of the batch column.
    preserve : sequence of str
        Columns whose effect ComBat keeps (biological covariates, e.g. ``age_at_start``); they are not adjusted.
    unadjusted : sequence of str
        Further columns passed through unadjusted.
    eb, parametric : bool
        As :class:`~analytics.compute.harmonisation.ComBat`.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        The input columns, the batch column included.
    adjusted_ : list of str
        The features ComBat adjusts.
    unadjusted_ : list of str
        The features passed through (named in ``preserve``/``unadjusted``, or constant within a batch).
    medians_ : pandas.Series
        The training medians that fill missing values (0 for a feature without any value).
    combat_ : ComBat or None
        The fitted ComBat (None when no feature is left to adjust).
    batches_ : ndarray
        The batch codes seen in training.
    """

    def __init__(self, batch="batch", preserve=(), unadjusted=(), eb=True, parametric=True):
        self.batch = batch
        self.preserve = preserve
        self.unadjusted = unadjusted
        self.eb = eb
        self.parametric = parametric

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _split(self, X):
        if not isinstance(X, pd.DataFrame) or self.batch not in X.columns:
            raise ValueError(f"BatchHarmoniser needs a pandas DataFrame with the batch column {self.batch!r}")
        batches = X[self.batch]
        if batches.isna().any():
            raise AnalysisError(f"{int(batches.isna().sum())} patients have no {self.batch!r}; ComBat needs every "
                                "patient's batch (exclude them first).")
        return X.drop(columns=[self.batch]).astype(float), batches.to_numpy()

    def fit(self, X, y=None):
        features, batches = self._split(X)
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.medians_ = features.median().fillna(0.0)
        filled = features.fillna(self.medians_)
        self.batches_ = np.unique(batches)
        keep = set(self.preserve) | set(self.unadjusted)
        values = filled.to_numpy()
        varies = np.ones(values.shape[1], dtype=bool)
        for code in self.batches_:
            varies &= np.ptp(values[batches == code], axis=0) > 0
        self.adjusted_ = [c for c, v in zip(features.columns, varies, strict=True) if c not in keep and v]
        self.unadjusted_ = [c for c in features.columns if c not in set(self.adjusted_)]
        self.combat_ = None
        if self.adjusted_:
            covariates = pd.DataFrame({"batch": batches.astype(str),
                                       **{c: filled[c].to_numpy() for c in self.preserve}}, index=features.index)
            combat = ComBat(batch="batch", preserve=list(self.preserve), categorical=(), eb=self.eb,
                            parametric=self.parametric)
            try:
                self.combat_ = combat.fit(filled[self.adjusted_], covariates)
            except HarmonisationError as exc:
                raise AnalysisError(f"ComBat could not be fitted on a training fold: {exc}") from None
        return self

    def transform(self, X):
        check_is_fitted(self, "adjusted_")
        if [str(c) for c in getattr(X, "columns", [])] != list(self.feature_names_in_):
            raise ValueError("the features differ from those the harmonisation was fitted on")
        features, batches = self._split(X)
        unseen = sorted(set(batches.tolist()) - set(self.batches_.tolist()))
        if unseen:
            raise AnalysisError(f"Batch code(s) {', '.join(map(str, unseen))} of {self.batch!r} were not in the "
                                "training data: ComBat can only harmonise batches it was fitted on. Give every batch "
                                "enough patients to be in every training fold, merge small batches, or leave them "
                                "out of the cohort.")
        out = features.copy()
        if self.combat_ is not None:
            filled = features.fillna(self.medians_)
            covariates = pd.DataFrame({"batch": batches.astype(str),
                                       **{c: filled[c].to_numpy() for c in self.preserve}}, index=features.index)
            out[self.adjusted_] = self.combat_.transform(filled[self.adjusted_], covariates).to_numpy()
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "adjusted_")
        return np.asarray([c for c in self.feature_names_in_ if c != self.batch], dtype=object)


class NamedFeatureDropper(TransformerMixin, BaseEstimator):
    """Drop the features named in ``names`` (the robustness filter's refusals, given by the caller).

    Names not among the input's columns are ignored (a profile-wide list may name features this table lacks).
    Missing values pass through untouched (imputation is the next step).

    Parameters
    ----------
    names : sequence of str
        The feature names to drop.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        The input's column names (the input must be a pandas DataFrame when ``names`` is not empty).
    n_features_in_ : int
    support_ : ndarray of bool
        True for the features kept.
    dropped_ : list of str
        The input features that were dropped, in input order.
    """

    def __init__(self, names=()):
        self.names = names

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X, y=None):
        names = set(self.names or ())
        columns = getattr(X, "columns", None)
        if columns is None:
            if names:
                raise ValueError("NamedFeatureDropper drops features by name, so it needs a pandas DataFrame")
            self.n_features_in_ = np.shape(X)[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self.support_ = np.ones(self.n_features_in_, dtype=bool)
            self.dropped_ = []
            return self
        self.feature_names_in_ = np.asarray([str(c) for c in columns], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.support_ = np.array([c not in names for c in self.feature_names_in_], dtype=bool)
        self.dropped_ = [c for c in self.feature_names_in_ if c in names]
        return self

    def transform(self, X):
        check_is_fitted(self, "support_")
        columns = getattr(X, "columns", None)
        if columns is not None and hasattr(self, "feature_names_in_"):
            if [str(c) for c in columns] != list(self.feature_names_in_):
                missing = [c for c in self.feature_names_in_ if c not in set(map(str, columns))]
                raise ValueError("the features differ from those the pipeline was fitted on"
                                 + (f" (missing: {', '.join(missing[:10])})" if missing else " (order or extra columns)"))
        values = np.asarray(X.to_numpy(dtype=float, na_value=np.nan) if columns is not None else X, dtype=float)
        if values.ndim != 2 or values.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} features, got {values.shape[-1]}")
        return values[:, self.support_]

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "support_")
        return _names_out(self, input_features)[self.support_]


class CorrelationFilter(SelectorMixin, BaseEstimator):
    """Drop one feature of every pair whose absolute Pearson correlation exceeds ``threshold``.

    Greedy in column order, keeping the one listed first: feature *j* is kept unless ``|r(i, j)| > threshold``
    for a feature *i < j* that is already kept. (After :class:`~sklearn.preprocessing.StandardScaler` every
    feature has unit variance, so "the one with the higher variance" would not distinguish them; input order is
    deterministic and lets a caller list preferred features first.) Features that are constant in the training
    data (zero range: Pearson r undefined) are dropped too. Everything is learned from the data passed to
    :meth:`fit` — in the pipeline, the training fold only.

    Parameters
    ----------
    threshold : float, default 0.9
        ``0 < threshold <= 1``; at 1 no pair is dropped (only constants).

    Attributes
    ----------
    support_ : ndarray of bool
        True for the features kept.
    constant_ : ndarray of bool
        True for features dropped because they are constant.
    max_abs_r_ : ndarray of float
        For each feature, its largest ``|r|`` with a kept feature listed before it (0 for the first and for
        constants): at most ``threshold`` for kept features, the reason for the others.
    partner_ : ndarray of int
        For a dropped non-constant feature, the index of the kept feature it correlates with most; -1 otherwise.
    n_features_in_, feature_names_in_ : as in scikit-learn.
    """

    _BLOCK = 512  # columns per block of the correlation matrix (memory: BLOCK x n_features floats)

    def __init__(self, threshold=0.9):
        self.threshold = threshold

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=np.float64)
        n_samples, n_features = X.shape
        constant = np.ptp(X, axis=0) == 0
        if constant.all():
            raise NoFeaturesLeftError("Every feature is constant in the training data, so none can predict "
                                      "anything; check the feature extraction or use other features.")
        centred = X - X.mean(axis=0)
        norms = np.sqrt(np.einsum("ij,ij->j", centred, centred))
        # one row per feature, unit length: the dot product of two rows is their Pearson r
        unit = np.ascontiguousarray(np.divide(centred, norms, out=np.zeros_like(centred), where=~constant).T)
        support = ~constant
        partner = np.full(n_features, -1, dtype=np.int64)
        max_abs_r = np.zeros(n_features)
        for start in range(0, n_features, self._BLOCK):
            stop = min(n_features, start + self._BLOCK)
            # |r| of the block's features (rows j) with every feature listed before each of them (columns i < j)
            block = np.tril(np.abs(unit[start:stop] @ unit[:stop].T), k=start - 1)
            # a feature with no earlier feature above the threshold is kept whatever the others do; the rest are
            # decided in column order, each against the earlier features already kept
            if self.threshold < 1:
                high = block > self.threshold
                for j in np.flatnonzero(high.any(axis=1) & support[start:stop]) + start:
                    if (high[j - start, :j] & support[:j]).any():
                        support[j] = False
            kept_earlier = np.where(support[None, :stop], block, -1.0)
            best = np.argmax(kept_earlier, axis=1)
            best_r = kept_earlier[np.arange(stop - start), best]
            max_abs_r[start:stop] = np.where(constant[start:stop], 0.0, np.clip(best_r, 0.0, 1.0))
            dropped = ~support[start:stop] & ~constant[start:stop]
            partner[start:stop] = np.where(dropped, best, -1)
        self.support_, self.constant_, self.max_abs_r_, self.partner_ = support, constant, max_abs_r, partner
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_


class UnivariateSelector(SelectorMixin, BaseEstimator):
    """Keep the ``k`` features with the largest ANOVA F statistic (:func:`~sklearn.feature_selection.f_classif`).

    Equivalent to ``SelectKBest(f_classif, k=min(k, n_features))``: all features are kept when fewer than ``k``
    reach this step (after the filters of a fold), and ties keep the feature listed first.

    Attributes
    ----------
    scores_, pvalues_ : ndarray
        F statistics and p-values on the training data.
    support_ : ndarray of bool
    """

    def __init__(self, k=20):
        self.k = k

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.scores_, self.pvalues_ = f_classif(X, y)
        ranking = np.where(np.isnan(self.scores_), -np.inf, self.scores_)
        order = np.argsort(-ranking, kind="stable")
        self.support_ = np.zeros(X.shape[1], dtype=bool)
        self.support_[order[:min(self.k, X.shape[1])]] = True
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_


class L1Selector(SelectorMixin, BaseEstimator):
    """Keep the features with a non-zero coefficient in an L1-penalised logistic regression (at most ``k``, those
    with the largest absolute coefficients; Tibshirani, J R Stat Soc B 1996;58:267).

    When the penalty is so strong that no coefficient is non-zero, the one feature that would enter the L1 path
    first is kept — the largest ``|x_j . (y - mean(y))|`` on centred features — so that a model can still be fitted.

    Parameters
    ----------
    C : float
        Inverse penalty strength of the L1 logistic regression (liblinear).
    k : int
        The most features kept.
    random_state : int or None

    Attributes
    ----------
    coef_ : ndarray
        The L1 logistic regression's coefficients on the training data.
    support_ : ndarray of bool
    entered_first_ : bool
        True when no coefficient was non-zero and the first feature of the L1 path was kept instead.
    """

    def __init__(self, C=1.0, k=20, random_state=None):
        self.C = C
        self.k = k
        self.random_state = random_state

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        fitted = _logistic(l1_ratio=1.0, C=self.C, solver="liblinear", intercept_scaling=LIBLINEAR_INTERCEPT_SCALING,
                           max_iter=1000, random_state=self.random_state).fit(X, y)
        self.coef_ = fitted.coef_.ravel().copy()
        nonzero = np.flatnonzero(self.coef_)
        order = nonzero[np.argsort(-np.abs(self.coef_[nonzero]), kind="stable")][:self.k]
        self.entered_first_ = order.size == 0
        if self.entered_first_:
            y01 = (np.asarray(y) == fitted.classes_[-1]).astype(float)
            order = [int(np.argmax(np.abs((X - X.mean(axis=0)).T @ (y01 - y01.mean()))))]
        self.support_ = np.zeros(X.shape[1], dtype=bool)
        self.support_[order] = True
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_


def _estimator(model, seed):
    if model == "l1_logistic":
        return _logistic(l1_ratio=1.0, C=1.0, solver="liblinear", intercept_scaling=LIBLINEAR_INTERCEPT_SCALING,
                         max_iter=1000, random_state=seed)
    if model == "elastic_net":
        return _logistic(l1_ratio=0.5, C=1.0, solver="saga", max_iter=5000, random_state=seed)
    if model == "random_forest":
        return RandomForestClassifier(n_estimators=200, max_features="sqrt", random_state=seed, n_jobs=1)
    if model == "svm":
        return CalibratedClassifierCV(SVC(kernel="rbf", gamma="scale", random_state=seed), method="sigmoid", cv=3,
                                      ensemble=False)
    if model == "gradient_boosting":
        return GradientBoostingClassifier(n_estimators=100, random_state=seed)
    raise ValueError(f"unknown model {model!r}")


def _selector(selection, seed):
    if selection["method"] == "univariate":
        return UnivariateSelector(k=selection["k"])
    if selection["method"] == "l1":
        return L1Selector(C=1.0, k=selection["k"], random_state=seed)
    return "passthrough"


def build_pipeline(spec, *, seed=None):
    """The unfitted pipeline of a normalised prediction spec (:func:`~.spec.validate_prediction_spec`).

    ``seed`` overrides ``spec["seed"]`` (the permuted-label runs draw their own)."""
    seed = spec["seed"] if seed is None else seed
    harmonise = spec.get("harmonise")
    first = [("harmonise", BatchHarmoniser(
        batch=harmonise["column"], preserve=tuple(harmonise["preserve"]), unadjusted=tuple(harmonise["unadjusted"]),
        eb=harmonise["eb"], parametric=harmonise["parametric"]))] if harmonise else []
    return Pipeline([
        *first,
        ("exclude", NamedFeatureDropper(names=tuple(spec["exclude_features"]))),
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("decorrelate", CorrelationFilter(threshold=spec["correlation_threshold"])),
        ("select", _selector(spec["selection"], seed)),
        ("model", _estimator(spec["model"], seed)),
    ])


def param_grid(spec):
    """The hyper-parameter grid searched by the inner cross-validation (pipeline parameter -> values)."""
    return {**SELECTION_GRIDS[spec["selection"]["method"]], **GRIDS[spec["model"]]}


def build_search(spec, *, seed=None, n_jobs=1):
    """GridSearchCV over :func:`param_grid` with shuffled StratifiedKFold inner folds, scored by ROC AUC and refitted
    on all the data it is given. A failing fit raises instead of scoring NaN."""
    seed = spec["seed"] if seed is None else seed
    inner = StratifiedKFold(n_splits=spec["cv"]["inner_folds"], shuffle=True, random_state=seed)
    return GridSearchCV(build_pipeline(spec, seed=seed), param_grid(spec), scoring=INNER_SCORING, cv=inner,
                        refit=True, n_jobs=n_jobs, error_score="raise")


def selected_features(pipeline, model):
    """The names of the features the fitted pipeline's model uses: those reaching the model, and for the linear
    models only those with a non-zero coefficient."""
    names = list(pipeline[:-1].get_feature_names_out())
    if model in LINEAR_MODELS:
        coef = pipeline[-1].coef_.ravel()
        names = [name for name, c in zip(names, coef, strict=True) if c != 0]
    return names


_MODEL_TEXT = {
    "l1_logistic": "logistic regression with an L1 (lasso) penalty, liblinear solver, intercept_scaling 100",
    "elastic_net": "logistic regression with an elastic-net penalty, saga solver, max_iter 5000",
    "random_forest": "random forest, 200 trees, max_features sqrt",
    "svm": "support vector machine (RBF kernel, gamma scale) with Platt-scaled probabilities (CalibratedClassifierCV, "
           "sigmoid, 3 folds, ensemble=False)",
    "gradient_boosting": "gradient boosting, 100 trees",
}


def describe_pipeline(spec):
    """Every step of the pipeline and the grid, as plain data for the report (TRIPOD item 10b)."""
    selection = spec["selection"]
    select_text = {
        "univariate": f"the {selection['k']} features with the largest ANOVA F (f_classif); all if fewer remain",
        "l1": f"features with a non-zero L1-logistic coefficient (C tuned), at most {selection['k']}",
        "none": "no selection: every feature that passes the filters",
    }[selection["method"]]
    harmonise = spec.get("harmonise")
    steps = [{"step": "harmonise", "method": "BatchHarmoniser (ComBat)",
              "description": f"ComBat across batches of {harmonise['batch']} (empirical Bayes "
                             f"{'on' if harmonise['eb'] else 'off'}, {'parametric' if harmonise['parametric'] else 'non-parametric'} "
                             "priors), fitted on the training fold; missing values first filled with the training "
                             "fold's medians; clinical covariates and features constant within a batch unadjusted",
              "params": {"batch": harmonise["batch"], "preserve": list(harmonise["preserve"]),
                         "eb": harmonise["eb"], "parametric": harmonise["parametric"]}}] if harmonise else []
    steps += [
        {"step": "exclude", "method": "NamedFeatureDropper",
         "description": "drop the features refused by the robustness filter",
         "params": {"n_names": len(spec["exclude_features"])}},
        {"step": "impute", "method": "SimpleImputer",
         "description": "missing values replaced by the training fold's median", "params": {"strategy": "median"}},
        {"step": "scale", "method": "StandardScaler",
         "description": "standardised with the training fold's mean and standard deviation", "params": {}},
        {"step": "decorrelate", "method": "CorrelationFilter",
         "description": "constant features dropped; of each pair with |Pearson r| above the threshold the one "
                        "listed later is dropped (greedy, training fold)",
         "params": {"threshold": spec["correlation_threshold"]}},
        {"step": "select", "method": {"univariate": "UnivariateSelector", "l1": "L1Selector",
                                      "none": "passthrough"}[selection["method"]],
         "description": select_text, "params": dict(selection)},
        {"step": "model", "method": spec["model"], "description": _MODEL_TEXT[spec["model"]],
         "params": {"random_state": spec["seed"]}},
    ]
    grid = param_grid(spec)
    n_candidates = int(np.prod([len(v) for v in grid.values()])) if grid else 1
    return {"steps": steps, "grid": {k: list(v) for k, v in grid.items()}, "n_candidates": n_candidates,
            "inner_scoring": INNER_SCORING, "fitted_inside_folds": [s["step"] for s in steps]}
