"""The matplotlib set-up the analyses' figures share (no Django): the Agg backend, the style, and ``_svg`` — a
figure as deterministic SVG text. The response plots (spider, waterfall, swimmer) are drawn without matplotlib
in ``analytics.compute.svgplots``."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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
