"""A patient's course on one horizontal time axis, as SVG text (no Django, no matplotlib).

From diagnosis to the last contact (or death): regimens as bars by drug class, scans as points coloured by the
time-point response, irAEs as bars shaded by grade, biomarkers as labelled markers, death or last contact at the end.
Every mark has a ``<title>`` (shown on hover, read by screen readers) and is focusable, so its value is reachable by
keyboard; the whole figure has a text alternative. Colours are Okabe–Ito; shapes and patterns carry the same meaning
in greyscale print.
"""
import datetime as dt
from html import escape

from .svgplots import FONT, _marker, _num, colour

DRUG_CLASS_COLOURS = {  # checkpoint inhibitors in blues, other treatment in greys
    "anti_pd1": "#0072B2", "anti_pdl1": "#56B4E9", "anti_ctla4": "#009E73", "anti_lag3": "#44AA99",
    "chemotherapy": "#7F7F7F", "targeted": "#B0B0B0", "other": "#CFCFCF",
}
GRADE_COLOURS = {1: "#F3D9E7", 2: "#E3A9C9", 3: "#CC79A7", 4: "#9E4A7C", 5: "#5E1F45"}


def _ticks(start, end):
    """First-of-month ticks between two dates, every 1, 2, 3, 6, 12, 24 or 60 months (at most ~10)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    step = next(s for s in (1, 2, 3, 6, 12, 24, 60) if months / s <= 10)
    index = start.year * 12 + start.month  # the month after start's, counted from year 0
    ticks = []
    while True:
        year, month = divmod(index, 12)
        day = dt.date(year, month + 1, 1)
        if day > end:
            return ticks
        if index % step == 0:
            ticks.append(day)
        index += 1


def timeline_svg(*, start, end, regimens=(), scans=(), adverse_events=(), biomarkers=(), end_event=None,
                 ident="timeline"):
    """The patient's course as SVG.

    ``regimens``: [(label, drug_class, start, end or None)], ``scans``: [(date, category or "", kind)],
    ``adverse_events``: [(term, grade, onset, resolution or None)], ``biomarkers``: [(date, "PD-L1 TPS 60 %")],
    ``end_event``: ("death" or "last contact", date). Open-ended bars run to ``end``.
    """
    width, left, right = 960, 110, 24
    lanes = [("Treatment", 30), ("Scans", 26), ("irAEs", 12 + 14 * max(1, len(adverse_events))), ("Biomarkers", 26)]
    top = 10
    height = top + sum(h for _, h in lanes) + 44
    span = max((end - start).days, 30)
    plot_w = width - left - right

    def x(day):
        return left + max(0, min((day - start).days, span)) / span * plot_w

    body, y = [], top
    for tick in _ticks(start, end):
        body.append(f'<line x1="{_num(x(tick))}" x2="{_num(x(tick))}" y1="{top}" y2="{height - 38}" '
                    f'stroke="#eef0f2"/><text x="{_num(x(tick))}" y="{height - 24}" text-anchor="middle">'
                    f'{tick:%Y-%m}</text>')
    for name, lane_height in lanes:
        body.append(f'<text x="{left - 8}" y="{_num(y + min(lane_height, 26) / 2 + 4)}" text-anchor="end" '
                    f'font-weight="600">{name}</text>')
        if name == "Treatment":
            for label, drug_class, begin, finish in regimens:
                x0, x1 = x(begin), x(finish or end)
                fill = DRUG_CLASS_COLOURS.get(drug_class, "#CFCFCF")
                tip = f"{label}: {begin:%Y-%m-%d} – {finish:%Y-%m-%d}" if finish else f"{label}: from {begin:%Y-%m-%d}, ongoing"
                text = ""
                if x1 - x0 > 7 * len(label) + 8:  # the label inside the bar only where it fits (always in the tooltip)
                    ink = "#fff" if fill in ("#0072B2", "#009E73", "#7F7F7F") else "#000"
                    text = f'<text x="{_num(x0 + 4)}" y="{y + 17}" fill="{ink}">{escape(label)}</text>'
                body.append(f'<g tabindex="0"><rect x="{_num(x0)}" y="{y + 4}" width="{_num(max(x1 - x0, 2))}" '
                            f'height="18" fill="{fill}" rx="2"><title>{escape(tip)}</title></rect>{text}</g>')
                if finish is None:
                    body.append(f'<path d="M{_num(x1)} {y + 3}L{_num(x1 + 9)} {y + 13}L{_num(x1)} {y + 23}Z" '
                                f'fill="{fill}"/>')
        elif name == "Scans":
            for date, category, kind in scans:
                tip = f"{kind} scan {date:%Y-%m-%d}: {category or ('awaiting reading' if kind != 'baseline' else 'baseline')}"
                stroke = 'stroke="#333" stroke-width="0.8"' if category else 'stroke="#333" stroke-dasharray="2 1.5"'
                body.append(f'<circle tabindex="0" cx="{_num(x(date))}" cy="{y + 13}" r="6" '
                            f'fill="{colour(category) if category else "#fff"}" {stroke}><title>{escape(tip)}</title>'
                            f'</circle>')
        elif name == "irAEs":
            for i, (term, grade, onset, resolution) in enumerate(adverse_events):
                x0, x1 = x(onset), x(resolution or end)
                tip = (f"{term}, grade {grade}: {onset:%Y-%m-%d} – "
                       + (f"{resolution:%Y-%m-%d}" if resolution else "ongoing"))
                body.append(f'<rect tabindex="0" x="{_num(x0)}" y="{y + 4 + 14 * i}" width="{_num(max(x1 - x0, 4))}" '
                            f'height="10" fill="{GRADE_COLOURS.get(grade, "#CC79A7")}" stroke="#5E1F45" '
                            f'stroke-width="0.6"><title>{escape(tip)}</title></rect>'
                            f'<text x="{_num(x1 + 4)}" y="{y + 13 + 14 * i}" font-size="12">G{grade}</text>')
        else:
            for date, text in biomarkers:
                cx = x(date)
                body.append(f'<g tabindex="0"><path d="M{_num(cx)} {y + 5}L{_num(cx + 6)} {y + 13}L{_num(cx)} {y + 21}'
                            f'L{_num(cx - 6)} {y + 13}Z" fill="#F0E442" stroke="#333" stroke-width="0.8">'
                            f'<title>{escape(f"{date:%Y-%m-%d}: {text}")}</title></path>'
                            f'<text x="{_num(cx + 9)}" y="{y + 17}" font-size="12">{escape(text)}</text></g>')
        y += lane_height
    if end_event:
        kind, date = end_event
        cx = x(date)
        body.append(f'<line x1="{_num(cx)}" x2="{_num(cx)}" y1="{top}" y2="{y}" stroke="#000" '
                    f'stroke-dasharray="{"0" if kind == "death" else "4 3"}"/>')
        if kind == "death":
            body.append(_marker("death", cx, top + 6, tooltip=f"died {date:%Y-%m-%d}"))
        body.append(f'<text x="{_num(min(cx, width - right) - 4)}" y="{height - 8}" text-anchor="end">'
                    f'{escape(kind)} {date:%Y-%m-%d}</text>')
    desc = (f"From {start:%Y-%m-%d} to {end:%Y-%m-%d}. Treatment: "
            + ("; ".join(f"{r[0]} from {r[2]:%Y-%m-%d}" + (f" to {r[3]:%Y-%m-%d}" if r[3] else " ongoing")
                         for r in regimens) or "none")
            + f". {len(scans)} scans: " + (", ".join(f"{d:%Y-%m-%d} {c or k}" for d, c, k in scans) or "none")
            + ". irAEs: " + ("; ".join(f"{t} grade {g} from {o:%Y-%m-%d}" for t, g, o, _ in adverse_events) or "none")
            + ". Biomarkers: " + ("; ".join(f"{d:%Y-%m-%d} {t}" for d, t in biomarkers) or "none")
            + (f". {end_event[0].capitalize()} {end_event[1]:%Y-%m-%d}." if end_event else "."))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-labelledby="{ident}-title {ident}-desc" {FONT} font-size="12">'
            f'<title id="{ident}-title">Course from diagnosis to {escape(end_event[0]) if end_event else "today"}'
            f'</title><desc id="{ident}-desc">{escape(desc)}</desc><rect width="100%" height="100%" fill="#fff"/>'
            + "".join(body) + "</svg>")
