"""Performance of out-of-fold predicted probabilities: discrimination, calibration, bootstrap intervals.

Every function takes the outcome ``y`` (n patients, 0/1) and the out-of-fold probabilities ``oof`` of shape
(repeats, n): row *r* holds each patient's probability from the outer fold of repeat *r* that held them out.
A metric is computed per repeat and averaged over the repeats, unless said otherwise.

* AUC: the Mann-Whitney form, ``(sum of the positives' ranks - n1 (n1 + 1) / 2) / (n1 n0)`` with mid-ranks for
  ties (Hanley & McNeil, Radiology 1982;143:29), equal to :func:`sklearn.metrics.roc_auc_score`.
* Bootstrap: patients are resampled with replacement (the same resample for every repeat), the statistic is
  recomputed, and the 95 % interval is the 2.5th-97.5th percentile of the resampled values (percentile
  bootstrap; Efron & Tibshirani 1993, ch. 13). Resamples with a single class are skipped and counted.
* ROC: the empirical curve of each repeat read at fixed false-positive rates (linear between its vertices,
  the upper point on vertical segments), averaged over repeats (vertical averaging; Fawcett, Pattern Recogn Lett
  2006;27:861); the band is the pointwise percentile bootstrap.
* Calibration slope and intercept: logistic recalibration (Cox, Biometrika 1958;45:562; Van Calster et al.,
  J Clin Epidemiol 2016;74:167 and BMC Med 2019;17:230, "Calibration: the Achilles heel of predictive
  analytics"). The slope is b in ``logit P(y = 1) = a + b logit(p)``; the intercept (calibration-in-the-large)
  is a in ``logit P(y = 1) = a + logit(p)``, i.e. with the slope fixed at 1 through an offset. Ideal: slope 1,
  intercept 0; a slope below 1 means predictions too extreme (overfitting). Fitted by Newton-Raphson.
"""
import warnings

import numpy as np
from scipy.special import expit, logit
from scipy.stats import rankdata
from sklearn.calibration import calibration_curve

from .model import BootstrapWarning, CalibrationWarning

__all__ = ["ROC_GRID", "auc", "roc_on_grid", "bootstrap_auc", "threshold_metrics", "brier_score",
           "logistic_recalibration", "calibration_slope_intercept", "calibration_table", "PROBABILITY_CLIP"]

#: False-positive rates at which ROC curves are reported (0, 0.01, ..., 1).
ROC_GRID = np.linspace(0.0, 1.0, 101)
#: Probabilities are clipped to [PROBABILITY_CLIP, 1 - PROBABILITY_CLIP] before taking their logit.
PROBABILITY_CLIP = 1e-8
#: A warning is given when more than this fraction of bootstrap resamples had a single class.
SKIPPED_RESAMPLES_WARNING = 0.01


def auc(y, scores):
    """ROC AUC of ``scores`` against the 0/1 outcome ``y``, along the last axis (vectorised over leading axes).

    Returns NaN where a row has a single class; callers skip those rows explicitly.
    """
    y = np.asarray(y)
    scores = np.asarray(scores, dtype=float)
    positive = (y == 1)
    ranks = rankdata(scores, axis=-1)
    n1 = positive.sum(axis=-1)
    n0 = positive.shape[-1] - n1
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((ranks * positive).sum(axis=-1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def _roc_vertices(y, p):
    """The empirical ROC curve's vertices (fpr, tpr), from (0, 0), one per distinct probability."""
    order = np.argsort(-p, kind="mergesort")
    ranked_p, ranked_y = p[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(ranked_p)), ranked_p.size - 1]
    tps = np.cumsum(ranked_y)[last_of_tie]
    fps = last_of_tie + 1 - tps
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]]


def roc_on_grid(y, p, grid=ROC_GRID):
    """True-positive rate of the empirical ROC curve at the false-positive rates ``grid`` (the curve is linear
    between its vertices; on a vertical segment, i.e. at a vertex's own fpr, the upper point is taken)."""
    y = np.asarray(y, dtype=float)
    fpr, tpr = _roc_vertices(y, np.asarray(p, dtype=float))
    at = np.searchsorted(fpr, grid, side="right") - 1
    after = np.minimum(at + 1, fpr.size - 1)
    span = fpr[after] - fpr[at]
    fraction = np.divide(grid - fpr[at], span, out=np.zeros_like(grid, dtype=float), where=span > 0)
    return tpr[at] + fraction * (tpr[after] - tpr[at])


def bootstrap_auc(y, oof, *, n_boot, seed, level=0.95, grid=ROC_GRID):
    """Percentile-bootstrap interval of the repeat-averaged AUC and a pointwise band for the averaged ROC curve.

    Parameters
    ----------
    y : array of 0/1, shape (n,)
    oof : array, shape (repeats, n)
    n_boot : int
        Number of resamples of the patients.
    seed : int or numpy SeedSequence
        Seeds the resampling (the same seed gives the same interval).
    level : float
        Coverage of the interval (0.95: the 2.5th and 97.5th percentiles).

    Returns
    -------
    dict
        ``auc_lower``, ``auc_upper``, ``roc_lower``, ``roc_upper`` (arrays on ``grid``), ``aucs`` (the resampled
        AUCs), ``n_boot``, ``skipped`` (single-class resamples). Warns :class:`BootstrapWarning` when more than
        1 % were skipped.
    """
    y = np.asarray(y, dtype=int)
    oof = np.atleast_2d(np.asarray(oof, dtype=float))
    n = y.size
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, size=(n_boot, n))
    resampled_y = y[index]
    positives = resampled_y.sum(axis=1)
    valid = (positives > 0) & (positives < n)
    skipped = int(n_boot - valid.sum())
    if valid.sum() < 2:
        raise ValueError("almost every bootstrap resample has a single class; the outcome is too rare to resample")
    if skipped > SKIPPED_RESAMPLES_WARNING * n_boot:
        warnings.warn(BootstrapWarning(
            f"{skipped} of {n_boot} bootstrap resamples contained a single outcome class and were skipped; the "
            "AUC interval rests on the others and may be rough (the outcome is rare in this sample)."), stacklevel=2)
    index, resampled_y = index[valid], resampled_y[valid]
    aucs = np.mean([auc(resampled_y, row[index]) for row in oof], axis=0)
    tails = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    lower, upper = np.percentile(aucs, tails)
    curves = np.empty((index.shape[0], grid.size))
    for b, (rows, labels) in enumerate(zip(index, resampled_y, strict=True)):
        curves[b] = np.mean([roc_on_grid(labels, row[rows], grid) for row in oof], axis=0)
    roc_lower, roc_upper = np.percentile(curves, tails, axis=0)
    return {"auc_lower": float(lower), "auc_upper": float(upper), "roc_lower": roc_lower, "roc_upper": roc_upper,
            "aucs": aucs, "n_boot": int(n_boot), "skipped": skipped, "level": level}


def threshold_metrics(y, oof, threshold):
    """Sensitivity, specificity and balanced accuracy with "positive" meaning ``p >= threshold``, averaged over the
    repeats (balanced accuracy = (sensitivity + specificity) / 2)."""
    y = np.asarray(y, dtype=int)
    oof = np.atleast_2d(oof)
    predicted = oof >= threshold
    sensitivity = predicted[:, y == 1].mean(axis=1)
    specificity = (~predicted[:, y == 0]).mean(axis=1)
    return {"sensitivity": float(sensitivity.mean()), "specificity": float(specificity.mean()),
            "balanced_accuracy": float(((sensitivity + specificity) / 2).mean())}


def brier_score(y, oof):
    """Mean squared difference between probability and outcome (Brier, Mon Weather Rev 1950;78:1), averaged over
    repeats."""
    y = np.asarray(y, dtype=float)
    return float(np.mean((np.atleast_2d(oof) - y) ** 2))


class _NoEstimate(Exception):
    pass


def _newton_logistic(design, y, offset, start, *, max_iter=100, tol=1e-10):
    """Maximum-likelihood logistic regression ``logit P(y = 1) = offset + design @ beta`` by Newton-Raphson with
    step halving. Raises _NoEstimate when it does not converge (no finite maximum, e.g. separation)."""
    def log_likelihood(beta):
        eta = offset + design @ beta
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)))

    beta = np.asarray(start, dtype=float)
    current = log_likelihood(beta)
    for _ in range(max_iter):
        mu = expit(offset + design @ beta)
        gradient = design.T @ (y - mu)
        hessian = design.T @ (design * (mu * (1 - mu))[:, None])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError as exc:
            raise _NoEstimate from exc
        length = 1.0
        while True:
            candidate = beta + length * step
            value = log_likelihood(candidate)
            if value >= current - 1e-12 * (1 + abs(current)) or length < 1e-10:
                break
            length /= 2
        beta, current = candidate, value
        if np.max(np.abs(length * step)) < tol * (1 + np.max(np.abs(beta))):
            if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 1e6:
                raise _NoEstimate
            return beta
    raise _NoEstimate


def logistic_recalibration(y, p):
    """Calibration slope and intercept of probabilities ``p`` for outcomes ``y`` (Van Calster et al. 2016, 2019).

    Parameters
    ----------
    y : array of 0/1
    p : array of probabilities; clipped to [1e-8, 1 - 1e-8] before the logit (counted in ``clipped``).

    Returns
    -------
    dict
        ``slope`` (b of ``logit P(y) = a + b logit(p)``), ``intercept`` (a of ``logit P(y) = a + logit(p)``,
        slope fixed at 1 by an offset), ``clipped``. A value without a finite maximum-likelihood estimate is
        ``None`` and a :class:`CalibrationWarning` says why.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    clipped = int(np.sum((p < PROBABILITY_CLIP) | (p > 1 - PROBABILITY_CLIP)))
    lp = logit(np.clip(p, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP))
    n, events = y.size, y.sum()
    if events == 0 or events == n:
        warnings.warn(CalibrationWarning("Calibration cannot be assessed: every patient has the same outcome."),
                      stacklevel=2)
        return {"slope": None, "intercept": None, "clipped": clipped}
    slope = None
    separated = lp[y == 0].max() <= lp[y == 1].min() or lp[y == 1].max() <= lp[y == 0].min()
    if np.ptp(lp) == 0:
        warnings.warn(CalibrationWarning("The calibration slope is undefined: every patient received the same "
                                         "predicted probability."), stacklevel=2)
    elif separated:
        warnings.warn(CalibrationWarning("The calibration slope is undefined (infinite): the predicted probabilities "
                                         "separate the outcomes perfectly, so logistic recalibration has no finite "
                                         "estimate."), stacklevel=2)
    else:
        try:
            slope = float(_newton_logistic(np.column_stack([np.ones(n), lp]), y, np.zeros(n), [0.0, 1.0])[1])
        except _NoEstimate:
            warnings.warn(CalibrationWarning("The calibration slope did not converge (logistic recalibration by "
                                             "Newton-Raphson)."), stacklevel=2)
    try:
        intercept = float(_newton_logistic(np.ones((n, 1)), y, lp, [0.0])[0])
    except _NoEstimate:
        intercept = None
        warnings.warn(CalibrationWarning("The calibration intercept did not converge (logistic recalibration with "
                                         "the slope fixed at 1)."), stacklevel=2)
    return {"slope": slope, "intercept": intercept, "clipped": clipped}


def calibration_slope_intercept(y, oof):
    """:func:`logistic_recalibration` of each repeat's out-of-fold probabilities, averaged over the repeats where
    it is defined (``None`` if it is defined in none; a :class:`CalibrationWarning` tells)."""
    fits = [logistic_recalibration(y, row) for row in np.atleast_2d(oof)]
    out = {"clipped": int(sum(f["clipped"] for f in fits))}
    for key in ("slope", "intercept"):
        values = [f[key] for f in fits if f[key] is not None]
        out[key] = float(np.mean(values)) if values else None
        out[f"{key}_by_repeat"] = [f[key] for f in fits]
        if values and len(values) < len(fits):
            warnings.warn(CalibrationWarning(f"The calibration {key} is the mean of the {len(values)} of {len(fits)} "
                                             "repeats where it is defined."), stacklevel=2)
    if out["clipped"]:
        warnings.warn(CalibrationWarning(f"{out['clipped']} out-of-fold probabilities were 0 or 1 (within "
                                         f"{PROBABILITY_CLIP:g}) and were clipped before the logit; the calibration "
                                         "slope and intercept are sensitive to them."), stacklevel=2)
    return out


def calibration_table(y, oof, *, n_bins=10):
    """Calibration curve of the pooled out-of-fold predictions of all repeats
    (:func:`sklearn.calibration.calibration_curve`, ``strategy="quantile"``): one row per non-empty bin with the
    mean predicted probability, the observed fraction of positives and ``n``, the number of predictions in the
    bin (patients x repeats in all)."""
    oof = np.atleast_2d(np.asarray(oof, dtype=float))
    pooled_y = np.tile(np.asarray(y, dtype=int), oof.shape[0])
    pooled_p = oof.ravel()
    observed, predicted = calibration_curve(pooled_y, pooled_p, n_bins=n_bins, strategy="quantile")
    # calibration_curve returns no counts: the same quantile edges and bin assignment give them
    edges = np.percentile(pooled_p, np.linspace(0, 100, n_bins + 1))
    counts = np.bincount(np.searchsorted(edges[1:-1], pooled_p), minlength=n_bins)
    counts = counts[counts > 0]
    if counts.size != predicted.size:
        raise RuntimeError("calibration bins could not be counted (scikit-learn changed calibration_curve's bins)")
    return [{"predicted": float(a), "observed": float(b), "n": int(c)}
            for a, b, c in zip(predicted, observed, counts, strict=True)]
