"""Survival figures as SVG (matplotlib, no Django): Kaplan–Meier curves with a numbers-at-risk table, and a
forest plot of Cox hazard ratios. Both read a :func:`~.run.run` result, so a stored result can be redrawn.

Colours: the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies and in greyscale
print, where line styles also differ).
"""
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

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
        ax.annotate(f"{term['hr']:.2f} ({lower:.2f}–{upper:.2f})" + (f", p = {p:.3g}" if p is not None else ""),
                    xy=(1.01, y), xycoords=("axes fraction", "data"), va="center", fontsize=7)
    ax.axvline(1, color="#555", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
    ax.set_yticks(range(len(terms)))
    ax.set_yticklabels([t["term"] for t in terms])
    ax.set_ylim(-0.6, len(terms) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("hazard ratio (95 % CI, log scale)")
    ax.set_title(title or f"Cox model — {result.get('endpoint_label', result.get('endpoint', ''))}")
    return _svg(fig)
