"""Response plots as SVG (matplotlib, no Django): spider, waterfall and swimmer plots.

Inputs are plain lists and dicts; each function returns an SVG document as text, so pages can inline it
and it prints crisply. Colours follow one palette per response category everywhere in the app.
"""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

CATEGORY_COLOURS = {
    "CR": "#1a7f37", "iCR": "#1a7f37",
    "PR": "#4caf50", "iPR": "#4caf50",
    "SD": "#f2b705", "iSD": "#f2b705", "non-CR/non-PD": "#f2b705", "iNN": "#f2b705",
    "PD": "#c62828", "iCPD": "#c62828", "iUPD": "#ef6c00",
    "NE": "#9e9e9e", "": "#9e9e9e",
}
plt.rcParams.update({"font.size": 9, "svg.fonttype": "none", "axes.spines.top": False, "axes.spines.right": False})


def _svg(fig):
    """The figure as SVG text, byte-identical for identical input: element ids come from a fixed hash salt (not
    matplotlib's random one) and no creation date is written, so a re-run's figures equal the original's."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "radimmuno"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def spider(series, *, title="Target sum change from baseline"):
    """Spider plot: % change of the target sum from baseline over days on treatment.

    ``series``: list of {"label", "points": [(day, pct, irecist_category), ...]}. iUPD points are drawn as
    open orange circles, iCPD as red crosses, so the confirmation story is visible.
    """
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.axhline(20, color="#c62828", lw=0.8, ls="--")
    ax.axhline(-30, color="#1a7f37", lw=0.8, ls="--")
    ax.axhline(0, color="#555", lw=0.6)
    for s in series:
        points = [p for p in s["points"] if p[1] is not None]
        if not points:
            continue
        days, pct = [p[0] for p in points], [p[1] for p in points]
        ax.plot(days, pct, marker="o", ms=3, lw=1.4, label=s.get("label"))
        for day, value, category in points:
            if category == "iUPD":
                ax.plot(day, value, "o", mfc="none", mec="#ef6c00", ms=10, mew=2)
            elif category == "iCPD":
                ax.plot(day, value, "x", color="#c62828", ms=10, mew=2)
    ax.set_xlabel("days since treatment start")
    ax.set_ylabel("% change from baseline")
    ax.set_title(title)
    handles = [Line2D([], [], ls="--", color="#c62828", lw=0.8, label="+20 % (PD vs nadir also needs +5 mm)"),
               Line2D([], [], ls="--", color="#1a7f37", lw=0.8, label="−30 % (PR)"),
               Line2D([], [], marker="o", mfc="none", mec="#ef6c00", ls="none", ms=8, mew=2, label="iUPD"),
               Line2D([], [], marker="x", color="#c62828", ls="none", ms=8, mew=2, label="iCPD")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, frameon=False)
    return _svg(fig)


def waterfall(bars, *, title="Best change of the target sum from baseline"):
    """Waterfall plot: one bar per patient, best % change, sorted, coloured by category (e.g. iBOR).

    ``bars``: list of (label, pct, category).
    """
    bars = sorted([b for b in bars if b[1] is not None], key=lambda b: -b[1])
    fig, ax = plt.subplots(figsize=(max(6, min(14, 0.05 * len(bars) + 4)), 3.6))
    xs = range(len(bars))
    ax.bar(xs, [b[1] for b in bars], color=[CATEGORY_COLOURS.get(b[2], "#9e9e9e") for b in bars], width=0.85)
    ax.axhline(20, color="#c62828", lw=0.8, ls="--")
    ax.axhline(-30, color="#1a7f37", lw=0.8, ls="--")
    ax.axhline(0, color="#555", lw=0.6)
    ax.set_xticks([])
    ax.set_xlabel(f"patients (n = {len(bars)})")
    ax.set_ylabel("best % change from baseline")
    ax.set_title(title)
    present = []
    for b in bars:
        if b[2] not in present:
            present.append(b[2])
    order = ["iCR", "iPR", "iSD", "iUPD", "iCPD", "CR", "PR", "SD", "PD", "NE"]
    present.sort(key=lambda c: order.index(c) if c in order else 99)
    ax.legend(handles=[Patch(color=CATEGORY_COLOURS.get(c, "#9e9e9e"), label=c or "n/a") for c in present],
              fontsize=7, frameon=False, loc="upper right")
    return _svg(fig)


def swimmer(lanes, *, title="Time on treatment, responses and events"):
    """Swimmer plot: one lane per patient.

    ``lanes``: list of {"label", "end_day", "ongoing", "responses": [(day, category)], "events":
    [(day, kind)]} where kind is one of "irAE", "HPD", "pseudoprogression", "death".
    """
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.22 * len(lanes) + 1)))
    markers = {"irAE": ("^", "#6a1b9a"), "HPD": ("X", "#b71c1c"), "pseudoprogression": ("D", "#ef6c00"),
               "death": ("s", "#000000")}
    for y, lane in enumerate(lanes):
        ax.barh(y, lane["end_day"], color="#cfd8dc", height=0.6)
        if lane.get("ongoing"):
            ax.annotate("", xy=(lane["end_day"] + 25, y), xytext=(lane["end_day"], y),
                        arrowprops={"arrowstyle": "->", "color": "#455a64"})
        for day, category in lane.get("responses", []):
            ax.plot(day, y, "o", color=CATEGORY_COLOURS.get(category, "#9e9e9e"), ms=4)
        for day, kind in lane.get("events", []):
            marker, colour = markers[kind]
            ax.plot(day, y + 0.3, marker, color=colour, ms=5)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels([lane["label"] for lane in lanes], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("days since treatment start")
    ax.set_title(title)
    handles = [Patch(color="#cfd8dc", label="on treatment")]
    handles += [Line2D([], [], marker="o", ls="none", color=CATEGORY_COLOURS[c], label=c) for c in ("iCR", "iPR", "iSD",
                                                                                                   "iUPD", "iCPD")]
    handles += [Line2D([], [], marker=m, ls="none", color=c, label=k) for k, (m, c) in markers.items()]
    ax.legend(handles=handles, fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))
    return _svg(fig)
