"""Prediction figures as SVG (matplotlib, no Django), each drawn from a :func:`~.run.run_prediction` result so a
stored result can be redrawn: the ROC curve with its bootstrap band and the permuted-label control, the
calibration plot, and the feature-importance bars.

Colours: the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies); lines also differ
in style, so the figures read in greyscale print.
"""
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..plots import _svg, plt
from ..survival.plots import OKABE_ITO

__all__ = ["roc_plot_svg", "calibration_plot_svg", "importance_plot_svg"]

BLUE, VERMILLION, GREEN, GREY = OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[2], "#555555"


def _fmt(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def roc_plot_svg(result, *, title=None):
    """Out-of-fold ROC curve (mean over repeats) with its 95 % bootstrap band, the chance diagonal, and the
    AUC of the real and of the permuted-label runs in the legend."""
    roc = result.get("roc") or []
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    fpr = [0.0] + [p["fpr"] for p in roc]
    tpr = [0.0] + [p["tpr"] for p in roc]
    lower = [0.0] + [p["lower"] for p in roc]
    upper = [0.0] + [p["upper"] for p in roc]
    ax.fill_between(fpr, lower, upper, color=BLUE, alpha=0.2, lw=0, step=None)
    ax.plot(fpr, tpr, color=BLUE, lw=1.8)
    ax.plot([0, 1], [0, 1], color=GREY, lw=0.9, ls="--")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 − specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (true-positive rate)")
    cv = result.get("cv") or {}
    repeats = cv.get("repeats", "?")
    scheme = (f"{cv.get('outer_folds', '?')}×{cv.get('inner_folds', '?')} nested CV, {repeats} "
              f"repeat{'' if repeats == 1 else 's'}")
    handles = [
        Line2D([], [], color=BLUE, lw=1.8,
               label=f"AUC {_fmt(result.get('auc'))} (95 % CI {_fmt(result.get('auc_lower'))}–"
                     f"{_fmt(result.get('auc_upper'))})"),
        Patch(color=BLUE, alpha=0.2, label="95 % bootstrap band"),
        Line2D([], [], color=GREY, lw=0.9, ls="--",
               label=f"permuted labels: AUC {_fmt(result.get('permuted_auc'))} "
                     f"(mean of {len(result.get('permuted_aucs') or [])})"),
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=False)
    heading = title or f"ROC, out-of-fold ({scheme})"
    if result.get("leak_warning"):
        heading += "\nWARNING: the permuted-label control is far from 0.5"
    ax.set_title(heading, fontsize=9)
    return _svg(fig)


def calibration_plot_svg(result, *, title=None):
    """Observed fraction of positives against mean predicted probability per quantile bin (marker area ∝ n),
    the ideal diagonal, and the calibration slope, intercept and Brier score."""
    curve = result.get("calibration_curve") or []
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    ax.plot([0, 1], [0, 1], color=GREY, lw=0.9, ls="--")
    if curve:
        largest = max(p["n"] for p in curve) or 1
        ax.plot([p["predicted"] for p in curve], [p["observed"] for p in curve], color=VERMILLION, lw=1.2)
        ax.scatter([p["predicted"] for p in curve], [p["observed"] for p in curve],
                   s=[12 + 60 * p["n"] / largest for p in curve], color=VERMILLION, zorder=3, edgecolor="white",
                   linewidth=0.5)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("predicted probability (out-of-fold)")
    ax.set_ylabel("observed fraction positive")
    text = (f"calibration slope {_fmt(result.get('calibration_slope'))}\n"
            f"calibration intercept {_fmt(result.get('calibration_intercept'))}\n"
            f"Brier score {_fmt(result.get('brier'), 3)}")
    ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=7)
    handles = [Line2D([], [], color=GREY, lw=0.9, ls="--", label="ideal (slope 1, intercept 0)"),
               Line2D([], [], color=VERMILLION, marker="o", lw=1.2, label="quantile bins (size ∝ n)")]
    ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=False)
    ax.set_title(title or "Calibration", fontsize=9)
    return _svg(fig)


def importance_plot_svg(result, *, top=20, title=None):
    """Horizontal bars of the final model's feature importance, the ``top`` largest; for the linear models the
    bar colour gives the coefficient's sign (blue raises the predicted risk, vermillion lowers it)."""
    rows = (result.get("importance") or [])[:top]
    fig, ax = plt.subplots(figsize=(6.4, 0.28 * max(1, len(rows)) + 1.2))
    colours = [BLUE if r.get("coefficient", 1) >= 0 else VERMILLION for r in rows]
    ax.barh(range(len(rows)), [r["importance"] for r in rows], color=colours,
            xerr=[r.get("std", 0) for r in rows] if any("std" in r for r in rows) else None,
            error_kw={"ecolor": GREY, "lw": 0.8})
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r["feature"] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0, color=GREY, lw=0.6)
    linear = any("coefficient" in r for r in rows)
    ax.set_xlabel("|standardised coefficient| (log-odds per SD)" if linear else "decrease in AUC when the feature is "
                  "shuffled (permutation importance)", fontsize=7)
    if rows and linear:
        ax.legend(handles=[Patch(color=BLUE, label="coefficient > 0 (higher risk)"),
                           Patch(color=VERMILLION, label="coefficient < 0 (lower risk)")],
                  fontsize=7, frameon=False, loc="lower right")
    if not rows:
        ax.text(0.5, 0.5, "the final model uses no feature", transform=ax.transAxes, ha="center", va="center")
    ax.set_title(title or f"Feature importance (top {min(top, len(rows))})", fontsize=9)
    return _svg(fig)
