"""ComBat harmonisation of radiomic features across scanners or sites, as an option of the analyses.

Features extracted from scans of different manufacturers, models, reconstruction kernels or sites differ by more
than the patients do (Mackin DS et al. Invest Radiol 2015;50:757). ComBat (Johnson WE, Li C & Rabinovic A,
Biostatistics 2007;8:118) models every feature as

.. math:: y_{ij} = \\alpha + X_j \\beta + \\gamma_{i} + \\delta_{i} \\varepsilon_{ij}

for sample :math:`j` of batch :math:`i` (:math:`X_j` the biological covariates to preserve), estimates each
batch's additive (:math:`\\gamma`) and multiplicative (:math:`\\delta`) effect with an empirical-Bayes prior
pooled over the features, and removes them. Fortin JP et al. brought it to imaging features (NeuroImage
2018;167:104, ``neuroCombat``); Orlhac F et al. J Nucl Med 2018;59:1321 and Radiology 2019;291:53 to radiomics.

:class:`ComBat` is that method, written as an estimator so that it can be fitted on the training samples of a
cross-validation fold and applied to the held-out samples (of batches seen in training): the prediction models of
issue 12 must not let a test sample's values into the harmonisation. It reproduces ``neuroCombat`` 0.2.12
(``neuroCombat.neuroCombat``) to 1e-9 — parametric and non-parametric priors, with and without empirical Bayes,
``mean_only`` — with these deliberate differences:

* a batch with one sample, a feature constant within a batch, missing values, covariates confounded with the batch
  and, at transform time, an unseen batch raise :class:`HarmonisationError` saying what to do; neuroCombat divides
  by zero, or silently replaces a zero variance with 1 (``convert_zeroes``) or with the median of a boolean mask;
* the non-parametric prior's likelihoods are weighted in log space, where neuroCombat's ``1 / (2 pi d)^(n/2)``
  underflows to 0/0 for batches of more than a few hundred samples (the values are the same where it does not);
* continuous covariates stay float64 (neuroCombat casts them to float32);
* new samples are adjusted with their own covariates (:meth:`ComBat.transform`), where
  ``neuroCombatFromTraining`` uses the training samples' mean covariate effect for every new sample; without
  covariates the two are the same.

Pure numpy/pandas; no Django imports.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["ComBat", "HarmonisationError"]


class HarmonisationError(ValueError):
    """The data cannot be harmonised as asked (the message says why and what to do)."""


def _names(values, limit=5):
    values = [str(v) for v in values]
    return ", ".join(values[:limit]) + (f" and {len(values) - limit} more" if len(values) > limit else "")


class ComBat:
    """ComBat harmonisation (Johnson, Li & Rabinovic 2007; Fortin et al. 2018), fitted on training samples.

    Parameters
    ----------
    batch : str
        Column of the covariate table holding the batch (scanner manufacturer or model, site, ...).
    preserve : sequence of str
        Biological covariates whose effect is kept (e.g. ``["age_at_start", "sex"]``).
    categorical : sequence of str, optional
        Which ``preserve`` columns are categorical; by default the non-numeric (and boolean) ones. Categorical
        covariates enter the design as indicators of every level but the first (sorted), continuous ones as they are.
    eb : bool
        Shrink the batch effects towards their mean over features (empirical Bayes); ``False`` uses each feature's
        own location/scale estimates.
    parametric : bool
        Parametric priors (normal for :math:`\\gamma`, inverse gamma for :math:`\\delta^2`, solved iteratively) or
        the non-parametric prior (each feature's posterior a likelihood-weighted mean over the other features'
        estimates).
    mean_only : bool
        Adjust the batch means only (:math:`\\delta = 1`).
    tol : float
        Convergence of the parametric iteration: relative change of the estimates (neuroCombat's ``conv``).
    max_iter : int
        Iterations of the parametric solution before giving up (:class:`HarmonisationError`).

    Attributes
    ----------
    batches_ : ndarray
        The batches seen in training (sorted).
    n_per_batch_ : ndarray of int
    feature_names_ : list of str
    grand_mean_, var_pooled_ : ndarray of shape (n_features,)
        :math:`\\hat\\alpha` and the pooled residual variance (divided by n, as in ComBat).
    beta_ : ndarray of shape (n_covariate_columns, n_features)
        Coefficients of the preserved covariates.
    gamma_hat_, delta_hat_ : ndarray of shape (n_batches, n_features)
        Per-feature batch location and scale (standardised units).
    gamma_star_, delta_star_ : ndarray of shape (n_batches, n_features)
        The adjustments applied (posterior estimates with ``eb``).
    covariate_columns_ : list of str
        Names of the design columns of the preserved covariates (e.g. ``sex=M``, ``age_at_start``).

    Examples
    --------
    >>> combat = ComBat(batch="manufacturer", preserve=["age_at_start"]).fit(train, covariates.loc[train.index])
    ... # doctest: +SKIP
    >>> harmonised_test = combat.transform(test, covariates.loc[test.index])  # doctest: +SKIP
    """

    def __init__(self, *, batch: str = "batch", preserve: Sequence[str] = (), categorical: Sequence[str] | None = None,
                 eb: bool = True, parametric: bool = True, mean_only: bool = False, tol: float = 1e-4,
                 max_iter: int = 10_000):
        self.batch = batch
        self.preserve = preserve
        self.categorical = categorical
        self.eb = eb
        self.parametric = parametric
        self.mean_only = mean_only
        self.tol = tol
        self.max_iter = max_iter

    # ------------------------------------------------------------------------------------------------ inputs
    def _data(self, X, *, fitted: bool):
        if isinstance(X, pd.DataFrame):
            names = [str(c) for c in X.columns]
            non_numeric = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
            if non_numeric:
                raise HarmonisationError(f"Features must be numeric; not: {_names(non_numeric)}.")
            values = X.to_numpy(dtype=float)
        else:
            values = np.asarray(X, dtype=float)
            if values.ndim != 2:
                raise HarmonisationError(f"X must be samples x features, got an array of shape {values.shape}.")
            names = [str(j) for j in range(values.shape[1])]
        if fitted and names != self.feature_names_:
            if len(names) != len(self.feature_names_):
                raise HarmonisationError(f"{len(names)} features given, {len(self.feature_names_)} in training.")
            raise HarmonisationError("The features differ from those ComBat was fitted on (names or order): "
                                     f"{_names(n for n, m in zip(names, self.feature_names_) if n != m)}.")
        missing = ~np.isfinite(values)
        if missing.any():
            bad = [names[j] for j in np.flatnonzero(missing.any(axis=0))]
            raise HarmonisationError(f"ComBat needs complete, finite data; missing or infinite values in "
                                     f"{_names(bad)}. Impute or drop them first.")
        return values, names

    def _covariates(self, covariates, n):
        if not isinstance(covariates, pd.DataFrame):
            raise HarmonisationError("covariates must be a DataFrame with the batch column (and those to preserve).")
        columns = [self.batch, *self.preserve]
        absent = [c for c in columns if c not in covariates.columns]
        if absent:
            raise HarmonisationError(f"The covariate table has no column {_names(absent)} "
                                     f"(columns: {_names(covariates.columns, 20)}).")
        if len(covariates) != n:
            raise HarmonisationError(f"{len(covariates)} covariate rows for {n} samples.")
        table = covariates[columns]
        empty = [c for c in columns if table[c].isna().any()]
        if empty:
            raise HarmonisationError(f"Missing values in the covariate column(s) {_names(empty)}.")
        return table

    def _is_categorical(self, column, series):
        if self.categorical is not None:
            return column in self.categorical
        return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)

    def _covariate_design(self, table, *, fit: bool):
        """Design columns of the preserved covariates (indicators for every level but the first, values)."""
        blocks, names = [], []
        if fit:
            self.levels_ = {}
        for column in self.preserve:
            series = table[column]
            if self._is_categorical(column, series):
                values = series.astype(str).to_numpy()
                if fit:
                    self.levels_[column] = np.unique(values)
                levels = self.levels_[column]
                unseen = sorted(set(values) - set(levels))
                if unseen:
                    raise HarmonisationError(f"Covariate {column!r}: level(s) {_names(unseen)} were not in the "
                                             f"training data (seen: {_names(levels)}).")
                for level in levels[1:]:
                    blocks.append((values == level).astype(float))
                    names.append(f"{column}={level}")
            else:
                blocks.append(series.to_numpy(dtype=float))
                names.append(column)
        design = np.column_stack(blocks) if blocks else np.zeros((len(table), 0))
        return design, names

    # ------------------------------------------------------------------------------------------------ fit
    def fit(self, X, covariates: pd.DataFrame) -> ComBat:
        """Estimate the batch effects on training samples.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_features)
            Samples in rows (the transpose of neuroCombat's ``dat``).
        covariates : DataFrame with n_samples rows
            The ``batch`` column and the ``preserve`` columns, in the order of ``X``'s rows.

        Returns
        -------
        self

        Raises
        ------
        HarmonisationError
            Fewer than two batches, a batch with a single sample, a feature constant within a batch, missing values,
            covariates confounded with the batch, fewer than two features with ``eb``.
        """
        Y, names = self._data(X, fitted=False)
        n, p = Y.shape
        table = self._covariates(covariates, n)
        batch = table[self.batch].to_numpy(dtype=object)
        batches, codes, counts = np.unique(batch.astype(str), return_inverse=True, return_counts=True)
        if len(batches) < 2:
            raise HarmonisationError(f"Only one batch ({_names(batches)}) in {self.batch!r}: nothing to harmonise.")
        single = batches[counts < 2]
        if len(single):
            raise HarmonisationError(
                f"Batch(es) {_names(single)} of {self.batch!r} have a single sample: ComBat estimates each batch's "
                "mean and variance and needs at least 2 samples per batch. Merge the batch with a similar one (e.g. "
                "the same manufacturer) or leave its samples out.")
        if self.eb and p < 2:
            raise HarmonisationError("Empirical Bayes pools the batch effects over features and needs at least 2 "
                                     "features; use eb=False for a single feature.")
        constant = np.flatnonzero(Y.max(axis=0) == Y.min(axis=0))
        if len(constant):
            raise HarmonisationError(f"Feature(s) {_names(names[j] for j in constant)} are constant: there is nothing "
                                     "to harmonise and ComBat cannot scale them. Drop them (a near-zero-variance "
                                     "filter) before harmonising.")
        for i, level in enumerate(batches if not self.mean_only else ()):
            values = Y[codes == i]
            constant = np.flatnonzero(values.max(axis=0) == values.min(axis=0))
            if len(constant):
                raise HarmonisationError(
                    f"Feature(s) {_names(names[j] for j in constant)} are constant within batch {str(level)!r} of "
                    f"{self.batch!r}: ComBat cannot estimate that batch's scale for them. Drop these features (a "
                    "near-zero-variance filter), leave the batch out, or adjust the means only (mean_only=True).")
        onehot = (codes[:, None] == np.arange(len(batches))[None, :]).astype(float)
        cov_design, cov_names = self._covariate_design(table, fit=True)
        design = np.hstack([onehot, cov_design])
        if np.linalg.matrix_rank(design) < design.shape[1]:
            raise HarmonisationError(
                f"The covariates to preserve ({_names(self.preserve)}) are confounded with {self.batch!r} (the design "
                "matrix is singular, e.g. a covariate level found in one batch only, or a covariate constant): ComBat "
                "cannot tell their effects apart. Drop the covariate or merge the batches.")

        n_batch = len(batches)
        # Location/scale model (Johnson et al. 2007, eq. 2.1): least squares over batch indicators + covariates.
        B_hat = np.linalg.inv(design.T @ design) @ design.T @ Y  # (columns, p)
        grand_mean = (counts / n) @ B_hat[:n_batch]
        var_pooled = ((Y - design @ B_hat) ** 2).mean(axis=0)
        explained = np.flatnonzero(var_pooled == 0)
        if len(explained):
            raise HarmonisationError(f"Feature(s) {_names(names[j] for j in explained)} are exactly explained by the "
                                     "batch and the covariates (no residual variance): ComBat cannot scale them. "
                                     "Drop them before harmonising.")
        beta = B_hat[n_batch:]
        mod_mean = cov_design @ beta  # (n, p)
        sd = np.sqrt(var_pooled)
        s_data = (Y - grand_mean - mod_mean) / sd

        gamma_hat = np.linalg.inv(onehot.T @ onehot) @ onehot.T @ s_data  # per-batch means, (n_batch, p)
        if self.mean_only:
            delta_hat = np.ones((n_batch, p))
        else:
            delta_hat = np.vstack([s_data[codes == i].var(axis=0, ddof=1) for i in range(n_batch)])
        if not self.eb:
            gamma_star, delta_star = gamma_hat.copy(), delta_hat.copy()
        elif self.parametric:
            gamma_star, delta_star = self._parametric(s_data, codes, gamma_hat, delta_hat, batches)
        else:
            gamma_star, delta_star = self._non_parametric(s_data, codes, gamma_hat, delta_hat)

        self.batches_, self.n_per_batch_ = batches, counts.astype(int)
        self.feature_names_ = names
        self.grand_mean_, self.var_pooled_, self.beta_ = grand_mean, var_pooled, beta
        self.covariate_columns_ = cov_names
        self.gamma_hat_, self.delta_hat_ = gamma_hat, delta_hat
        self.gamma_star_, self.delta_star_ = gamma_star, delta_star
        return self

    def _parametric(self, s_data, codes, gamma_hat, delta_hat, batches):
        """Posterior estimates under normal / inverse-gamma priors (Johnson et al. 2007, section 3.1), iterated to
        convergence per batch as ``sva::ComBat`` and ``neuroCombat`` do (``it.sol`` / ``it_sol``)."""
        n_batch, p = gamma_hat.shape
        gamma_bar = gamma_hat.mean(axis=1)
        t2 = gamma_hat.var(axis=1, ddof=1)
        gamma_star, delta_star = np.empty_like(gamma_hat), np.empty_like(delta_hat)
        for i in range(n_batch):
            if self.mean_only:
                gamma_star[i] = (t2[i] * gamma_hat[i] + gamma_bar[i]) / (t2[i] + 1)  # postmean with n = d = 1
                delta_star[i] = 1.0
                continue
            m, s2 = delta_hat[i].mean(), delta_hat[i].var(ddof=1)
            a, b = (2 * s2 + m ** 2) / s2, (m * s2 + m ** 3) / s2  # method-of-moments inverse-gamma prior
            x = s_data[codes == i]
            n = x.shape[0]
            g_old, d_old = gamma_hat[i].copy(), delta_hat[i].copy()
            for _ in range(self.max_iter):
                g_new = (t2[i] * n * gamma_hat[i] + d_old * gamma_bar[i]) / (t2[i] * n + d_old)
                sum2 = ((x - g_new) ** 2).sum(axis=0)
                d_new = (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
                # The relative change as sva::ComBat measures it (signed by g_old).
                change = max((np.abs(g_new - g_old) / g_old).max(), (np.abs(d_new - d_old) / d_old).max())
                g_old, d_old = g_new, d_new
                if not change > self.tol:
                    break
            else:
                raise HarmonisationError(f"The parametric empirical-Bayes estimates of batch {str(batches[i])!r} "
                                         f"did not converge in {self.max_iter} iterations; try parametric=False.")
            gamma_star[i], delta_star[i] = g_new, d_new
        return gamma_star, delta_star

    def _non_parametric(self, s_data, codes, gamma_hat, delta_hat, chunk=256):
        """Non-parametric posterior (Johnson et al. 2007, section 3.2): each feature's estimates are the means of
        the other features' estimates weighted by their likelihood of its data,
        :math:`L_{g'} = \\prod_j \\phi(x_j; \\hat\\gamma_{g'}, \\hat\\delta^2_{g'})`, computed in log space."""
        n_batch, p = gamma_hat.shape
        gamma_star, delta_star = np.empty_like(gamma_hat), np.empty_like(delta_hat)
        for i in range(n_batch):
            x = s_data[codes == i]  # (n_i, p)
            n = x.shape[0]
            g, d = gamma_hat[i], delta_hat[i]
            sum_x, sum_x2 = x.sum(axis=0), (x ** 2).sum(axis=0)
            for start in range(0, p, chunk):
                rows = np.arange(start, min(start + chunk, p))
                # sum over samples of (x_f - g_{g'})^2 for feature f (rows) and every other feature g' (columns)
                sum2 = sum_x2[rows, None] - 2.0 * sum_x[rows, None] * g[None, :] + n * g[None, :] ** 2
                log_lh = -0.5 * n * np.log(2 * np.pi * d)[None, :] - sum2 / (2.0 * d[None, :])
                log_lh[np.arange(len(rows)), rows] = -np.inf  # leave the feature itself out
                weights = np.exp(log_lh - log_lh.max(axis=1, keepdims=True))
                total = weights.sum(axis=1)
                gamma_star[i, rows] = weights @ g / total
                delta_star[i, rows] = weights @ d / total
        return gamma_star, delta_star

    # ------------------------------------------------------------------------------------------------ transform
    def transform(self, X, covariates: pd.DataFrame):
        """Harmonise samples of batches seen in training with the fitted estimates.

        A sample of batch :math:`i` with covariates :math:`X` is standardised,
        :math:`s = (y - \\hat\\alpha - X\\hat\\beta) / \\hat\\sigma`, adjusted,
        :math:`s^* = (s - \\gamma^*_i) / \\sqrt{\\delta^*_i}`, and brought back,
        :math:`y^* = \\hat\\sigma s^* + \\hat\\alpha + X\\hat\\beta`. On the training samples this is the fitted ComBat
        output.

        Returns
        -------
        DataFrame (when ``X`` is one, same index and columns) or ndarray of shape (n_samples, n_features)

        Raises
        ------
        HarmonisationError
            An unseen batch or covariate level, other features than in training, missing values.
        """
        if not hasattr(self, "gamma_star_"):
            raise HarmonisationError("ComBat is not fitted yet: call fit() on the training samples first.")
        Y, _ = self._data(X, fitted=True)
        table = self._covariates(covariates, Y.shape[0])
        batch = table[self.batch].to_numpy(dtype=object).astype(str)
        unseen = sorted(set(batch) - set(self.batches_))
        if unseen:
            raise HarmonisationError(
                f"Batch(es) {_names(unseen)} of {self.batch!r} were not in the training data (seen: "
                f"{_names(self.batches_, 20)}): ComBat can only harmonise batches it was fitted on. Fit it on data "
                "that include them, or leave those samples out.")
        codes = np.searchsorted(self.batches_, batch)
        cov_design, _ = self._covariate_design(table, fit=False)
        mod_mean = cov_design @ self.beta_
        sd = np.sqrt(self.var_pooled_)
        s_data = (Y - self.grand_mean_ - mod_mean) / sd
        adjusted = (s_data - self.gamma_star_[codes]) / np.sqrt(self.delta_star_[codes])
        out = adjusted * sd + self.grand_mean_ + mod_mean
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=X.columns)
        return out

    def fit_transform(self, X, covariates: pd.DataFrame):
        """:meth:`fit` then :meth:`transform` on the same samples (neuroCombat's output)."""
        return self.fit(X, covariates).transform(X, covariates)
