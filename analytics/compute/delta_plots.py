"""Delta-radiomics figures as SVG (matplotlib, no Django): a heatmap of relative changes (features × lesions) and
a small trend plot of one feature over a patient's timepoints, per lesion."""
import math

import numpy as np
from matplotlib.colors import TwoSlopeNorm

from .plots import _svg, plt
from .survival.plots import LINE_STYLES, OKABE_ITO

#: Relative changes beyond ±100 % share the end colours (the number is in the cell's tooltip, the table below).
CLIP = 1.0


def delta_heatmap_svg(features, columns, relative, *, flagged=(), title=""):
    """Heatmap of relative changes: one row per feature, one column per lesion (or aggregate).

    ``relative``: rows × columns, NaN where undefined (drawn grey and hatched: the reference was near zero or
    the pair is missing). ``flagged``: column indices whose pair has acquisition differences (marked ⚠ in the
    column label and outlined). Diverging purple–orange scale (readable with the common colour-vision
    deficiencies), centred on no change, clipped at ±100 %.
    """
    values = np.asarray(relative, dtype=float).reshape(len(features), len(columns))
    height = min(0.18 * len(features) + 1.6, 40)
    width = max(3.2, 0.55 * len(columns) + 3.8)
    fig, ax = plt.subplots(figsize=(width, height))
    cmap = plt.get_cmap("PuOr_r").with_extremes(bad="#d9d9d9")
    shown = np.ma.masked_invalid(np.clip(values, -CLIP, CLIP))
    image = ax.imshow(shown, aspect="auto", cmap=cmap, norm=TwoSlopeNorm(vcenter=0.0, vmin=-CLIP, vmax=CLIP),
                      interpolation="nearest")
    for r, c in zip(*np.where(~np.isfinite(values)), strict=True):
        ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///", lw=0, ec="#888"))
    for c in flagged:
        ax.add_patch(plt.Rectangle((c - 0.5, -0.5), 1, len(features), fill=False, lw=1.6, ec="#000", ls="--"))
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([f"⚠ {name}" if i in set(flagged) else name for i, name in enumerate(columns)], rotation=45,
                       ha="right", fontsize=7)
    ax.set_yticks(range(len(features)))
    ax.set_yticklabels(features, fontsize=6 if len(features) > 40 else 7)
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_ticks([-1, -0.5, 0, 0.5, 1])
    bar.set_ticklabels(["≤ −100 %", "−50 %", "0", "+50 %", "≥ +100 %"])
    bar.ax.tick_params(labelsize=7)
    ax.set_title(title or "Relative change", fontsize=9)
    return _svg(fig)


def feature_trend_svg(series, *, feature, title=None):
    """One feature over time, one line per lesion: ``series`` maps a lesion label to ``[(date, value), ...]``."""
    fig, ax = plt.subplots(figsize=(5.2, 2.6))
    for i, (label, points) in enumerate(sorted(series.items())):
        points = sorted((d, v) for d, v in points if v is not None and math.isfinite(v))
        if not points:
            continue
        ax.plot([d for d, _ in points], [v for _, v in points], marker="o", ms=3.5,
                color=OKABE_ITO[i % len(OKABE_ITO)], ls=LINE_STYLES[i % len(LINE_STYLES)], lw=1.4, label=label)
    ax.set_ylabel(feature.split("_", 2)[-1] if "_" in feature else feature, fontsize=8)
    ax.set_title(title or feature, fontsize=8)
    ax.tick_params(labelsize=7)
    fig.autofmt_xdate()
    if series:
        ax.legend(fontsize=7, frameon=False, loc="best")
    return _svg(fig)
