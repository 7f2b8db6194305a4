"""Survival figures as SVG (matplotlib, no Django): Kaplan–Meier curves with a numbers-at-risk table, and a
forest plot of Cox hazard ratios. Both read a :func:`~.run.run` result, so a stored result can be redrawn.

Colours: the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies and in greyscale
print, where line styles also differ).
"""
import math

from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ..plots import _svg, plt

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
LINE_STYLES = ("-", "--", "-.", ":")


def _steps(curve):
    xs, ys, lo, hi = [], [], [], []
    for point in curve:
        xs.append(point["time"])
        ys.append(point["s"])
        lo.append(point["lower"] if point["lower"] is not None else point["s"])
        hi.append(point["upper"] if point["upper"] is not None else point["s"])
    return xs, ys, lo, hi


def km_plot_svg(result, *, title=None):
    """Kaplan–Meier curves by group: CI bands, censor ticks (+), log-rank p, and the numbers at risk below."""
    groups = result.get("groups") or []
    n_groups = max(1, len(groups))
    fig = plt.figure(figsize=(7, 4.2 + 0.22 * n_groups))
    grid = fig.add_gridspec(2, 1, height_ratios=[4, 0.35 + 0.25 * n_groups], hspace=0.35)
    ax, table = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    ticks = sorted({row["time"] for g in groups for row in g.get("at_risk", [])})
    handles = []
    for i, group in enumerate(groups):
        colour, style = OKABE_ITO[i % len(OKABE_ITO)], LINE_STYLES[i % len(LINE_STYLES)]
        xs, ys, lo, hi = _steps(group.get("curve", []))
        if xs:
            ax.step(xs, ys, where="post", color=colour, ls=style, lw=1.6)
            ax.fill_between(xs, lo, hi, step="post", color=colour, alpha=0.15, lw=0)
            censored = group.get("censored", [])
            heights = [_value_at(xs, ys, t) for t in censored]
            ax.plot(censored, heights, "|", color=colour, ms=7, mew=1.2)
        median = group.get("median")
        label = f"{group['group']} (n = {group['n']}, median {'NR' if median is None else f'{median:g}'} d)"
        handles.append(Line2D([], [], color=colour, ls=style, lw=1.6, label=label))
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("probability event-free" if result.get("endpoint") != "os" else "probability alive")
    ax.set_xlabel("days since " + ("the landmark" if result.get("landmark_days") else "time zero"))
    if ticks:
        ax.set_xticks(ticks)
        ax.set_xlim(left=0, right=max(ticks[-1], ax.get_xlim()[1]))
    logrank = result.get("logrank")
    text = f"log-rank p = {logrank['p']:.3g} (df {logrank['df']})" if logrank and logrank.get("p") is not None else ""
    ax.set_title(title or result.get("endpoint_label", result.get("endpoint", "")) + (f" — {text}" if text else ""))
    ax.legend(handles=handles + [Line2D([], [], marker="|", ls="none", color="#555", ms=7, label="censored")],
              fontsize=7, frameon=False, loc="upper right")
    table.set_xlim(ax.get_xlim())
    table.set_ylim(-0.5, n_groups - 0.5)
    table.invert_yaxis()
    table.set_xticks([])
    table.set_yticks(range(len(groups)))
    table.set_yticklabels([g["group"] for g in groups], fontsize=7)
    table.tick_params(axis="y", length=0, pad=16)  # keep the labels clear of the numbers at day 0
    for tick, group_colour in zip(table.get_yticklabels(), OKABE_ITO, strict=False):
        tick.set_color(group_colour)
    for side in ("top", "right", "bottom", "left"):
        table.spines[side].set_visible(False)
    table.set_title("Number at risk", fontsize=8, loc="left")
    for i, group in enumerate(groups):
        for row in group.get("at_risk", []):
            table.text(row["time"], i, str(row["n"]), ha="center", va="center", fontsize=7)
    return _svg(fig)


def _value_at(xs, ys, t):
    value = ys[0] if ys else 1.0
    for x, y in zip(xs, ys, strict=True):
        if x > t:
            break
        value = y
    return value


#: Hazard-ratio ticks, coarse to fine: the first ladder giving at least three ticks inside the axis is used.
_HR_LADDERS = (
    (0.01, 0.1, 1, 10, 100),
    (0.1, 0.2, 0.5, 1, 2, 5, 10),
    (0.25, 0.5, 0.75, 1, 1.5, 2, 3),
    (0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5),
    (0.8, 0.85, 0.9, 0.95, 1, 1.05, 1.1, 1.15, 1.2),
    (0.95, 0.96, 0.97, 0.98, 0.99, 1, 1.01, 1.02, 1.03, 1.04, 1.05),
    (0.99, 0.992, 0.994, 0.996, 0.998, 1, 1.002, 1.004, 1.006, 1.008, 1.01),
)


def hr_axis(low, high):
    """``(left, right, ticks)`` of a log hazard-ratio axis covering ``[low, high]`` and HR = 1, with at least
    three labelled ticks (a narrow CI such as 0.98–0.99 still gets readable numbers, not a lone "1")."""
    low, high = min(low, 1.0), max(high, 1.0)
    pad = 0.08 * (math.log(high) - math.log(low)) + 0.002  # in log units: the CIs fill the axis
    left, right = low * math.exp(-pad), high * math.exp(pad)
    for ladder in _HR_LADDERS:
        inside = [t for t in ladder if left <= t <= right]
        if len(inside) >= 3:
            return left, right, inside
    finest = _HR_LADDERS[-1]  # narrower than 0.998-1.002: widen the axis to the finest ticks around 1
    left, right = min(left, finest[4]), max(right, finest[6])
    return left, right, [t for t in finest if left <= t <= right]


def forest_plot_svg(result, *, title=None):
    """Forest plot: each term's hazard ratio with its 95 % CI on a log scale, HR = 1 marked."""
    terms = [t for t in result.get("terms") or [] if t.get("hr") is not None]
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(1, len(terms)) + 1.2))
    for y, term in enumerate(terms):
        lower = term["hr_lower"] if term["hr_lower"] is not None else term["hr"]
        upper = term["hr_upper"] if term["hr_upper"] is not None else term["hr"]
        ax.plot([lower, upper], [y, y], color=OKABE_ITO[0], lw=1.6)
        ax.plot(term["hr"], y, "s", color=OKABE_ITO[0], ms=6)
        p = term.get("p")
        digits = 3 if upper - lower < 0.1 else 2  # a narrow CI (0.981-0.995) keeps its third decimal
        ax.annotate(f"{term['hr']:.{digits}f} ({lower:.{digits}f}–{upper:.{digits}f})"
                    + (f", p = {p:.3g}" if p is not None else ""),
                    xy=(1.01, y), xycoords=("axes fraction", "data"), va="center", fontsize=7)
    ax.axvline(1, color="#555", lw=0.8, ls="--")
    ax.set_xscale("log")
    lows = [t["hr_lower"] if t["hr_lower"] is not None else t["hr"] for t in terms]
    highs = [t["hr_upper"] if t["hr_upper"] is not None else t["hr"] for t in terms]
    left, right, ticks = hr_axis(min(lows, default=1.0), max(highs, default=1.0))
    ax.set_xlim(left, right)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yticks(range(len(terms)))
    ax.set_yticklabels([t["term"] for t in terms])
    ax.set_ylim(-0.6, len(terms) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("hazard ratio (95 % CI, log scale)")
    ax.set_title(title or f"Cox model — {result.get('endpoint_label', result.get('endpoint', ''))}")
    return _svg(fig)
