"""Feature robustness: the intraclass correlation ICC(3,1) of every feature across repeated measurements.

A radiomic feature is *robust* to a perturbation (the lesion mask eroded or dilated by one voxel, a random contour
change, a rescan) when it still tells the lesions apart after the perturbation: the variance between lesions is
large compared with the variance the perturbation adds. ICC(3,1) measures exactly that and is the usual choice in
radiomics robustness studies (Zwanenburg A et al. Sci Rep 2019;9:614; Koo TK & Li MY, J Chiropr Med 2016;15:155
for the thresholds: < 0.5 poor, 0.5-0.75 moderate, 0.75-0.9 good, > 0.9 excellent).

:class:`ICC31` computes it for every feature at once (an array lesions x perturbations x features, or a long
table), with the F-distribution confidence interval, and flags the features where it is undefined instead of
returning NaN. :func:`feature_class` splits a pyradiomics feature name into its image type and feature class,
:func:`class_summary` gives the ICC by feature class.

Pure numpy/scipy/pandas; no Django imports.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["ICC31", "ICCUndefinedWarning", "UNDEFINED_CONSTANT", "UNDEFINED_TOO_FEW", "class_summary", "feature_class",
           "FEATURE_CLASSES", "TEXTURE_CLASSES"]

#: pyradiomics' feature classes, in the order summaries list them.
FEATURE_CLASSES = ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
#: The high-order (texture) classes.
TEXTURE_CLASSES = ("glcm", "glrlm", "glszm", "gldm", "ngtdm")

UNDEFINED_CONSTANT = "constant"  # the same value for every lesion (up to a shift per perturbation): ICC is 0/0
UNDEFINED_TOO_FEW = "too few lesions"

# A feature whose spread is below this fraction of its magnitude is constant up to rounding: pyradiomics computes a
# constant feature through floating-point sums, which leave noise in the last bits and would give a random ICC.
_RELATIVE_CONSTANT_TOLERANCE = 1e-12


class ICCUndefinedWarning(UserWarning):
    """ICC(3,1) is undefined for some features (no variance at all, or fewer lesions than ``min_targets``).

    Those features are flagged in ``undefined_`` (their ICC is NaN there and nowhere else).
    """


def feature_class(name: str) -> tuple[str, str]:
    """(image type, feature class) of a pyradiomics feature name.

    ``original_shape_VoxelVolume`` -> ``("original", "shape")``; ``wavelet-LLH_glcm_Contrast`` ->
    ``("wavelet-LLH", "glcm")``; ``log-sigma-1-0-mm-3D_firstorder_Mean`` -> ``("log-sigma-1-0-mm-3D",
    "firstorder")``. A name without the three parts gives ``("", "")``.
    """
    parts = str(name).split("_")
    if len(parts) < 3:
        return "", ""
    return "_".join(parts[:-2]), parts[-2]


class ICC31:
    """Two-way mixed-effects, consistency, single-measurement intraclass correlation ICC(3,1), per feature.

    Shrout PE & Fleiss JL, Psychol Bull 1979;86:420 (case 3, single rater); McGraw KO & Wong SP, Psychol Methods
    1996;1:30 ("ICC(C,1)"). For ``n`` lesions (targets) each measured under ``k`` perturbations (raters), from the
    two-way ANOVA without replication:

    .. math::

        \\mathrm{ICC}(3,1) = \\frac{MS_R - MS_E}{MS_R + (k - 1)\\,MS_E}, \\qquad
        MS_R = \\frac{k \\sum_i (\\bar x_{i\\cdot} - \\bar x)^2}{n - 1}, \\qquad
        MS_E = \\frac{\\sum_{ij} (x_{ij} - \\bar x_{i\\cdot} - \\bar x_{\\cdot j} + \\bar x)^2}{(n - 1)(k - 1)}.

    The confidence interval is McGraw & Wong's (Table 7, case 3), as pingouin computes it: with
    :math:`F = MS_R / MS_E`, :math:`F_L = F / F_{1-\\alpha/2}(n-1, (n-1)(k-1))` and
    :math:`F_U = F \\cdot F_{1-\\alpha/2}((n-1)(k-1), n-1)`, the limits are :math:`(F_L - 1)/(F_L + k - 1)` and
    :math:`(F_U - 1)/(F_U + k - 1)`.

    Consistency ignores a shift common to all lesions (an eroded mask makes every volume smaller): what counts is
    whether the lesions keep their order and spacing. The residual sum of squares is computed from the residuals
    themselves, not as a difference of sums of squares, so features with an ICC close to 1 keep their precision.

    Parameters
    ----------
    alpha : float
        1 - confidence level of the interval (0.05: 95 %).
    min_targets : int
        Fewest lesions with a complete set of measurements for the ICC of a feature to be reported (at least 2,
        which the F distribution needs).

    Attributes
    ----------
    feature_names_ : list of str
    icc_, ci_lower_, ci_upper_ : ndarray of shape (n_features,)
        NaN exactly where ``undefined_`` is set.
    f_, ms_rows_, ms_error_ : ndarray of shape (n_features,)
        The F statistic and the two mean squares.
    n_targets_ : ndarray of int, shape (n_features,)
        Lesions used for each feature: those measured under every perturbation (listwise deletion, as pingouin's
        ``nan_policy="omit"``).
    n_raters_ : int
        Perturbations (measurements per lesion).
    undefined_ : ndarray of object, shape (n_features,)
        ``""`` where the ICC is defined, else the reason: ``"constant"`` (every lesion has the same value under
        each perturbation, so both mean squares are zero and the ICC is 0/0) or ``"too few lesions"``.

    Notes
    -----
    When the perturbations change nothing (:math:`MS_E = 0`) and the lesions differ, the ICC is 1 and so are both
    confidence limits. A feature that differs between perturbations but not between lesions has
    :math:`MS_R = 0` and ICC :math:`-1/(k-1)`: defined, and as non-robust as a feature can be.

    Examples
    --------
    Shrout & Fleiss (1979) Table 2: 6 targets rated by 4 judges; their Table 4 gives ICC(3,1) = 0.71.

    >>> ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    >>> round(float(ICC31().fit(ratings[:, :, None]).icc_[0]), 2)
    0.71
    """

    def __init__(self, *, alpha: float = 0.05, min_targets: int = 2):
        self.alpha = alpha
        self.min_targets = min_targets

    def fit(self, X, feature_names: Sequence[str] | None = None, *, targets: str = "lesion",
            raters: str = "perturbation", features: str = "feature", values: str = "value") -> ICC31:
        """Compute the ICC of every feature.

        Parameters
        ----------
        X : array-like of shape (n_lesions, n_perturbations, n_features) or (n_lesions, n_perturbations), or a
            long DataFrame
            An array: NaN marks a missing measurement (that lesion is left out for that feature). A DataFrame: one
            row per (lesion, perturbation, feature) with columns named by ``targets``, ``raters``, ``features``
            and ``values``; the ``features`` column may be absent (one feature).
        feature_names : sequence of str, optional
            For an array: the features' names (default ``"0"``, ``"1"``, ...).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Fewer than two perturbations, a lesion measured twice under one perturbation, non-numeric values.

        Warns
        -----
        ICCUndefinedWarning
            When the ICC of some features is undefined (they are flagged in ``undefined_``).
        """
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha!r}.")
        if self.min_targets < 2:
            raise ValueError(f"min_targets must be at least 2 (the F distribution needs n - 1 >= 1), "
                             f"got {self.min_targets!r}.")
        if isinstance(X, pd.DataFrame):
            cube, names = self._cube_from_long(X, targets=targets, raters=raters, features=features, values=values)
        else:
            cube = np.asarray(X, dtype=float)
            if cube.ndim == 2:
                cube = cube[:, :, np.newaxis]
            if cube.ndim != 3:
                raise ValueError(f"X must be lesions x perturbations x features, got an array of shape {cube.shape}.")
            names = [str(i) for i in range(cube.shape[2])] if feature_names is None else [str(f) for f in feature_names]
            if len(names) != cube.shape[2]:
                raise ValueError(f"{len(names)} feature names for {cube.shape[2]} features.")
        if cube.shape[1] < 2:
            raise ValueError(f"ICC needs at least two measurements per lesion (perturbations), got {cube.shape[1]}.")
        self.feature_names_ = names
        self._compute(cube)
        return self

    @staticmethod
    def _cube_from_long(frame, *, targets, raters, features, values):
        missing = [c for c in (targets, raters, values) if c not in frame.columns]
        if missing:
            raise ValueError(f"The table has no column {', '.join(map(repr, missing))} "
                             f"(columns: {', '.join(map(str, frame.columns))}).")
        frame = frame.copy()
        if features not in frame.columns:
            frame[features] = "value"
        if not pd.api.types.is_numeric_dtype(frame[values]):
            raise ValueError(f"Column {values!r} must be numeric.")
        keys = [targets, raters, features]
        repeated = frame.duplicated(keys)
        if repeated.any():
            first = frame.loc[repeated, keys].iloc[0].tolist()
            raise ValueError(f"{int(repeated.sum())} measurement(s) repeat a (lesion, perturbation, feature), "
                             f"e.g. {first}: each lesion is measured once per perturbation.")
        t_codes, _ = pd.factorize(frame[targets], sort=True)
        r_codes, _ = pd.factorize(frame[raters], sort=True)
        f_codes, f_names = pd.factorize(frame[features], sort=True)
        cube = np.full((t_codes.max() + 1, r_codes.max() + 1, len(f_names)), np.nan)
        cube[t_codes, r_codes, f_codes] = frame[values].to_numpy(dtype=float)
        return cube, [str(name) for name in f_names]

    def _compute(self, cube: np.ndarray) -> None:
        n_all, k, p = cube.shape
        complete = np.isfinite(cube).all(axis=1)  # (n, p): lesion measured under every perturbation
        n = complete.sum(axis=0)  # (p,)
        x = np.where(complete[:, np.newaxis, :], cube, 0.0)
        w = complete[:, np.newaxis, :].astype(float)
        safe_n = np.maximum(n, 1)

        row_mean = x.mean(axis=1)  # (n, p); zero for excluded lesions
        grand = (row_mean * complete).sum(axis=0) / safe_n  # (p,)
        col_mean = x.sum(axis=0) / safe_n  # (k, p)
        residual = (x - row_mean[:, np.newaxis, :] - col_mean[np.newaxis, :, :] + grand) * w
        ss_error = (residual ** 2).sum(axis=(0, 1))
        ss_rows = k * (((row_mean - grand) ** 2) * complete).sum(axis=0)
        df_rows = n - 1
        df_error = (n - 1) * (k - 1)

        too_few = n < self.min_targets
        scale = np.abs(x).max(axis=(0, 1)) if n_all else np.zeros(p)
        spread = (ss_rows + ss_error) / np.maximum(n * k, 1)  # mean square about the model without rater effects
        constant = ~too_few & (spread <= (_RELATIVE_CONSTANT_TOLERANCE * scale) ** 2)
        defined = ~too_few & ~constant

        with np.errstate(divide="ignore", invalid="ignore"):
            ms_rows = np.where(defined, ss_rows / np.maximum(df_rows, 1), np.nan)
            ms_error = np.where(defined, ss_error / np.maximum(df_error, 1), np.nan)
            icc = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error)
            f_stat = ms_rows / ms_error
            df1 = np.maximum(df_rows, 1).astype(float)
            df2 = np.maximum(df_error, 1).astype(float)
            q = 1 - self.alpha / 2
            f_low = f_stat / stats.f.ppf(q, df1, df2)
            f_up = f_stat * stats.f.ppf(q, df2, df1)
            lower = (f_low - 1) / (f_low + k - 1)
            upper = (f_up - 1) / (f_up + k - 1)
        perfect = defined & (ms_error == 0)  # the perturbations changed nothing: F is infinite
        icc[perfect], lower[perfect], upper[perfect] = 1.0, 1.0, 1.0

        undefined = np.full(p, "", dtype=object)
        undefined[constant] = UNDEFINED_CONSTANT
        undefined[too_few] = UNDEFINED_TOO_FEW
        for arr in (icc, lower, upper, f_stat, ms_rows, ms_error):
            arr[~defined] = np.nan
        self.icc_, self.ci_lower_, self.ci_upper_ = icc, lower, upper
        self.f_, self.ms_rows_, self.ms_error_ = f_stat, ms_rows, ms_error
        self.n_targets_ = n.astype(int)
        self.n_raters_ = int(k)
        self.undefined_ = undefined
        if not defined.all():
            shown = [f"{name} ({why})" for name, why in zip(self.feature_names_, undefined) if why][:5]
            n_bad = int((~defined).sum())
            warnings.warn(
                f"ICC(3,1) is undefined for {n_bad} of {p} feature(s): {', '.join(shown)}"
                f"{' ...' if n_bad > len(shown) else ''} (constant: the same value for every lesion; "
                f"too few lesions: fewer than {self.min_targets} measured under every perturbation).",
                ICCUndefinedWarning, stacklevel=3)

    def table(self, threshold: float | None = None) -> pd.DataFrame:
        """The result as a DataFrame indexed by feature: icc, ci_lower, ci_upper, n_lesions, undefined, and
        (with ``threshold``) ``robust`` = ICC >= threshold (False where undefined)."""
        if not hasattr(self, "icc_"):
            raise RuntimeError("Call fit() first.")
        out = pd.DataFrame({"icc": self.icc_, "ci_lower": self.ci_lower_, "ci_upper": self.ci_upper_,
                            "n_lesions": self.n_targets_, "undefined": self.undefined_},
                           index=pd.Index(self.feature_names_, name="feature"))
        if threshold is not None:
            out["robust"] = (out["undefined"] == "") & (out["icc"] >= threshold)
        return out


def class_summary(features, *, image_type: str | None = None, texture_row: bool = False) -> pd.DataFrame:
    """ICC by feature class: n features, n robust, median ICC and its quartiles, in :data:`FEATURE_CLASSES` order.

    Parameters
    ----------
    features : mapping of feature name to ``{"icc": float | None, "robust": bool, ...}``
        A stored robustness table (``FeatureRobustness.features``) or :meth:`ICC31.table` as records.
    image_type : str, optional
        Only features of this image type (e.g. ``"original"``; ``"log"`` and ``"wavelet"`` match every sigma and
        sub-band). Shape features are computed on the original image only, so ``"original"`` compares the classes
        on the same image.
    texture_row : bool
        Add a row ``"texture"``: the :data:`TEXTURE_CLASSES` together.

    Returns
    -------
    DataFrame indexed by class with columns n_features, n_robust, n_undefined, median_icc, q1_icc, q3_icc (classes
    without a feature are left out; undefined ICCs do not enter the quantiles).
    """
    rows = []
    for name, row in features.items():
        kind, cls = feature_class(name)
        if image_type is not None and kind != image_type and kind.split("-")[0] != image_type:
            continue
        icc = row.get("icc")
        rows.append({"class": cls or "other", "icc": np.nan if icc is None else float(icc),
                     "robust": bool(row.get("robust"))})
    frame = pd.DataFrame(rows, columns=["class", "icc", "robust"])
    if texture_row:
        texture = frame[frame["class"].isin(TEXTURE_CLASSES)].assign(**{"class": "texture"})
        frame = pd.concat([frame, texture], ignore_index=True)
    grouped = frame.groupby("class")
    out = pd.DataFrame({
        "n_features": grouped.size(),
        "n_robust": grouped["robust"].sum().astype(int),
        "n_undefined": grouped["icc"].apply(lambda s: int(s.isna().sum())),
        "median_icc": grouped["icc"].median(),
        "q1_icc": grouped["icc"].quantile(0.25),
        "q3_icc": grouped["icc"].quantile(0.75),
    })
    known = (*FEATURE_CLASSES, "texture")
    order = [c for c in known if c in out.index] + sorted(set(out.index) - set(known))
    return out.loc[order]
