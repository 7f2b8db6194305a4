"""Response plots drawn as SVG text directly (no matplotlib, no Django): waterfall, swimmer and spider plots.

Why by hand: these are redrawn whenever a page shows them, for up to thousands of patients, and a web process should
neither import matplotlib nor spend a second per plot. Each function returns a self-contained ``<svg>`` with a
``<title>`` and ``<desc>`` (its text alternative), text at 12 px or more, Okabe–Ito colours (distinguishable with
the common colour-vision deficiencies) and marker shapes that differ as well as colours, a ``<title>`` tooltip
on every mark, and no external reference, so it prints, downloads and converts to PNG as it is. Output is
deterministic: the same input gives the same bytes.
"""
from html import escape

#: One colour per response category everywhere (Okabe–Ito); SD is a neutral grey, NE a light grey.
CATEGORY_COLOURS = {
    "CR": "#009E73", "iCR": "#009E73",
    "PR": "#56B4E9", "iPR": "#56B4E9",
    "SD": "#8C8C8C", "iSD": "#8C8C8C", "non-CR/non-PD": "#8C8C8C", "iNN": "#8C8C8C",
    "iUPD": "#E69F00",
    "PD": "#D55E00", "iCPD": "#D55E00",
    "NE": "#D9D9D9", "": "#D9D9D9",
}
CATEGORY_ORDER = ["iCR", "iPR", "iSD", "iUPD", "iCPD", "CR", "PR", "SD", "PD", "NE", ""]
EVENT_STYLES = {  # kind: (label, colour)
    "irAE": ("immune-related adverse event", "#CC79A7"),
    "HPD": ("hyperprogression (first evaluation)", "#000000"),
    "pseudoprogression": ("pseudoprogression (iUPD not confirmed)", "#E69F00"),
    "death": ("death", "#000000"),
}
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


def colour(category):
    return CATEGORY_COLOURS.get(category or "", "#D9D9D9")


def _num(value):
    """Coordinates with at most one decimal, so the output is short and stable."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _pct(value):
    return f"{'+' if value > 0 else '−' if value < 0 else ''}{abs(value):.1f} %"


def _svg(width, height, title, desc, body, *, ident):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_num(width)} {_num(height)}" '
            f'width="{_num(width)}" height="{_num(height)}" role="img" aria-labelledby="{ident}-title {ident}-desc" '
            f'{FONT} font-size="12">'
            f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(desc)}</desc>'
            f'<rect width="100%" height="100%" fill="#fff"/>{"".join(body)}</svg>')


def _ticks(low, high, step):
    start = int(low // step) * step
    return [v for v in range(start, int(high) + step, step) if low <= v <= high]


def _legend(items, x, y, *, per_row=6, width=150):
    """Legend entries [(svg_mark_at(cx, cy), label)] in rows from (x, y)."""
    out = []
    for i, (mark, label) in enumerate(items):
        cx, cy = x + (i % per_row) * width, y + (i // per_row) * 18
        out.append(mark(cx + 6, cy - 4) + f'<text x="{_num(cx + 16)}" y="{_num(cy)}">{escape(label)}</text>')
    return out


def _dot(category, r=5):
    return lambda cx, cy: (f'<circle cx="{_num(cx)}" cy="{_num(cy)}" r="{r}" fill="{colour(category)}" '
                           f'stroke="#333" stroke-width="0.6"/>')


def _square(fill):
    return lambda cx, cy: f'<rect x="{_num(cx - 5)}" y="{_num(cy - 5)}" width="10" height="10" fill="{fill}"/>'


def _marker(kind, cx, cy, *, tooltip=""):
    """An event marker whose shape says what it is: irAE triangle, HPD cross, pseudoprogression diamond, death
    square."""
    tip = f"<title>{escape(tooltip)}</title>" if tooltip else ""
    label, fill = EVENT_STYLES[kind]
    if kind == "irAE":
        points = f"{_num(cx)},{_num(cy - 6)} {_num(cx + 5)},{_num(cy + 3)} {_num(cx - 5)},{_num(cy + 3)}"
        return f'<polygon points="{points}" fill="{fill}">{tip}</polygon>'
    if kind == "HPD":
        return (f'<path d="M{_num(cx - 5)} {_num(cy - 5)}L{_num(cx + 5)} {_num(cy + 5)}M{_num(cx + 5)} {_num(cy - 5)}'
                f'L{_num(cx - 5)} {_num(cy + 5)}" stroke="{fill}" stroke-width="2.2">{tip}</path>')
    if kind == "pseudoprogression":
        points = f"{_num(cx)},{_num(cy - 6)} {_num(cx + 6)},{_num(cy)} {_num(cx)},{_num(cy + 6)} {_num(cx - 6)},{_num(cy)}"
        return f'<polygon points="{points}" fill="#fff" stroke="{fill}" stroke-width="2">{tip}</polygon>'
    return f'<rect x="{_num(cx - 5)}" y="{_num(cy - 5)}" width="10" height="10" fill="{fill}">{tip}</rect>'


def waterfall_svg(bars, *, title="Best change of the target sum from baseline, by iRECIST best overall response",
                  assessed=None, ident="waterfall"):
    """Waterfall plot: one bar per patient (best % change of the target sum, sorted), coloured by category.

    ``bars``: [(label, pct or None, category)]; bars without a value are counted in the description, not drawn.
    ``assessed``: how many regimens were assessed in all (the caption says how many have no measurable change).
    Values beyond +100 % are drawn to +100 % and marked with a caret.
    """
    drawn = sorted([b for b in bars if b[1] is not None], key=lambda b: (-b[1], b[0]))
    assessed = len(bars) if assessed is None else assessed
    width, height, left, right, top, bottom = 960, 360, 56, 12, 16, 88
    plot_w, plot_h = width - left - right, height - top - bottom
    high = min(100.0, max([20.0] + [b[1] for b in drawn]) + 5)
    low = max(-100.0, min([-30.0] + [b[1] for b in drawn]) - 5)

    def y(v):
        return top + (high - min(v, high)) / (high - low) * plot_h

    body = []
    for v in _ticks(low, high, 20):
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y(v))}" y2="{_num(y(v))}" stroke="#e5e8eb"/>'
                    f'<text x="{left - 6}" y="{_num(y(v) + 4)}" text-anchor="end">{v:+d}</text>'.replace("+0", "0"))
    step = plot_w / max(len(drawn), 1)
    gap = 0.15 * step if step > 3 else 0
    for i, (label, value, category) in enumerate(drawn):
        x0, y0, y1 = left + i * step, y(max(value, 0)), y(min(value, 0))
        body.append(f'<rect x="{_num(x0 + gap / 2)}" y="{_num(y0)}" width="{_num(max(step - gap, 0.6))}" '
                    f'height="{_num(max(y1 - y0, 0.8))}" fill="{colour(category)}"><title>{escape(label)}: '
                    f'{_pct(value)} ({escape(category or "no iBOR")})</title></rect>')
        if value > high and step >= 6:
            body.append(f'<text x="{_num(x0 + step / 2)}" y="{top + 10}" text-anchor="middle">^</text>')
    for v, text, dash in ((20, "+20 %", "6 3"), (-30, "−30 %", "2 3")):
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y(v))}" y2="{_num(y(v))}" stroke="#333" '
                    f'stroke-dasharray="{dash}"/><text x="{width - right - 4}" y="{_num(y(v) - 4)}" '
                    f'text-anchor="end">{text}</text>')
    body.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y(0))}" y2="{_num(y(0))}" stroke="#333"/>')
    body.append(f'<text transform="translate(14 {_num(top + plot_h / 2)}) rotate(-90)" text-anchor="middle">'
                f'best % change from baseline</text>')
    missing = assessed - len(drawn)
    caption = f"patients (n = {len(drawn)} of {assessed} assessed"
    caption += f"; {missing} without a measurable change)" if missing else ")"
    body.append(f'<text x="{_num(left + plot_w / 2)}" y="{height - bottom + 18}" text-anchor="middle">'
                f'{escape(caption)}</text>')
    present = sorted({b[2] for b in drawn}, key=lambda c: CATEGORY_ORDER.index(c) if c in CATEGORY_ORDER else 99)
    body += _legend([(_square(colour(c)), c or "no iBOR") for c in present], left, height - bottom + 44,
                    per_row=8, width=105)
    counts = {c: sum(1 for b in drawn if b[2] == c) for c in present}
    desc = (f"{len(drawn)} bars, sorted from the largest increase to the largest decrease. "
            f"{sum(1 for b in drawn if b[1] <= -30)} patients with a decrease of 30 % or more, "
            f"{sum(1 for b in drawn if b[1] >= 20)} with an increase of 20 % or more. By category: "
            + ", ".join(f"{c or 'no iBOR'} {n}" for c, n in counts.items()) + ".")
    return _svg(width, height, title, desc, body, ident=ident)


def swimmer_svg(lanes, *, title="Time on treatment, responses and events", ident="swimmer"):
    """Swimmer plot: one lane per patient, from the regimen start to its end or, while ongoing, the last contact.

    ``lanes``: [{"label", "end_day", "ongoing", "responses": [(day, category)], "events": [(day, kind)]}], kind one
    of EVENT_STYLES. An ongoing lane ends in an arrow. Responses are circles in the category colour; events have
    their own shapes (legend).
    """
    row, left, right, top = 24, 110, 24, 16
    legend_rows = 4
    width = 960
    plot_w = width - left - right
    height = top + row * max(len(lanes), 1) + 40 + 18 * legend_rows + 8
    longest = max([lane["end_day"] for lane in lanes] + [30])
    scale = (plot_w - 20) / longest
    step = next(s for s in (30, 60, 90, 180, 365, 730, 1460) if longest / s <= 10)
    body = []
    axis_y = top + row * len(lanes)
    for d in range(0, int(longest) + 1, step):
        x = left + d * scale
        body.append(f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{top}" y2="{axis_y}" stroke="#eef0f2"/>'
                    f'<text x="{_num(x)}" y="{axis_y + 16}" text-anchor="middle">{d}</text>')
    for i, lane in enumerate(lanes):
        cy = top + i * row + row / 2
        end = left + max(lane["end_day"], 1) * scale
        status = "ongoing at last contact" if lane.get("ongoing") else "ended"
        body.append(f'<text x="{left - 8}" y="{_num(cy + 4)}" text-anchor="end">{escape(lane["label"])}</text>'
                    f'<rect x="{left}" y="{_num(cy - 6)}" width="{_num(end - left)}" height="12" fill="#cfd8dc">'
                    f'<title>{escape(lane["label"])}: {lane["end_day"]} days, {status}</title></rect>')
        if lane.get("ongoing"):
            body.append(f'<path d="M{_num(end)} {_num(cy - 7)}L{_num(end + 10)} {_num(cy)}L{_num(end)} {_num(cy + 7)}Z" '
                        f'fill="#455a64"/>')
        for day, category in lane.get("responses", []):
            body.append(f'<circle cx="{_num(left + day * scale)}" cy="{_num(cy)}" r="5" fill="{colour(category)}" '
                        f'stroke="#333" stroke-width="0.6"><title>day {day}: {escape(category or "NE")}</title></circle>')
        for day, kind in lane.get("events", []):
            body.append(_marker(kind, left + day * scale, cy - 9 if kind != "death" else cy,
                                tooltip=f"day {day}: {EVENT_STYLES[kind][0]}"))
    body.append(f'<text x="{_num(left + plot_w / 2)}" y="{axis_y + 34}" text-anchor="middle">days since the regimen '
                f'started</text>')
    items = [(_square("#cfd8dc"), "on treatment (to its end or last contact)"),
             (lambda cx, cy: f'<path d="M{_num(cx - 4)} {_num(cy - 6)}L{_num(cx + 6)} {_num(cy)}L{_num(cx - 4)} '
                             f'{_num(cy + 6)}Z" fill="#455a64"/>', "ongoing")]
    items += [(_dot(c), c) for c in ("iCR", "iPR", "iSD", "iUPD", "iCPD", "NE")]
    items += [(lambda cx, cy, k=k: _marker(k, cx, cy), label) for k, (label, _) in EVENT_STYLES.items()]
    body += _legend(items, 20, axis_y + 60, per_row=3, width=310)
    desc = (f"{len(lanes)} lanes, one per patient and regimen: "
            + "; ".join(f"{lane['label']} {lane['end_day']} days{' ongoing' if lane.get('ongoing') else ''}"
                        for lane in lanes[:20]) + ("; …" if len(lanes) > 20 else "."))
    return _svg(width, height, title, desc, body, ident=ident)


def spider_svg(series, *, title="Target sum change from baseline", ident="spider"):
    """Spider plot: % change of the target sum over days since the regimen started, one line per series.

    ``series``: [{"label", "points": [(day, pct or None, irecist_category)]}]. Points are circles in the category
    colour; iUPD points are open diamonds, iCPD crosses, so the confirmation story reads without colour.
    """
    width, height, left, right, top, bottom = 720, 330, 56, 170, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [p for s in series for p in s["points"] if p[1] is not None]
    days = [p[0] for p in points] or [0]
    values = [p[1] for p in points] or [0.0]
    high, low = max(max(values), 20.0) + 10, min(min(values), -30.0) - 10
    first, last = min(min(days), 0), max(max(days), 30)

    def x(d):
        return left + (d - first) / (last - first) * plot_w

    def y(v):
        return top + (high - v) / (high - low) * plot_h

    body = []
    for v in _ticks(low, high, 20):
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(y(v))}" y2="{_num(y(v))}" stroke="#e5e8eb"/>'
                    f'<text x="{left - 6}" y="{_num(y(v) + 4)}" text-anchor="end">{v:+d}</text>'.replace("+0", "0"))
    step = next(s for s in (14, 28, 56, 91, 182, 365, 730) if (last - first) / s <= 8)
    for d in range(0, int(last) + 1, step):
        body.append(f'<text x="{_num(x(d))}" y="{height - bottom + 16}" text-anchor="middle">{d}</text>')
    for v, text, dash in ((20, "+20 %", "6 3"), (-30, "−30 % (PR)", "2 3")):
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(y(v))}" y2="{_num(y(v))}" stroke="#333" '
                    f'stroke-dasharray="{dash}"/><text x="{left + plot_w + 6}" y="{_num(y(v) + 4)}">{text}</text>')
    body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(y(0))}" y2="{_num(y(0))}" stroke="#333"/>')
    for s in series:
        pts = [p for p in s["points"] if p[1] is not None]
        if not pts:
            continue
        path = " ".join(f"{'M' if i == 0 else 'L'}{_num(x(d))} {_num(y(v))}" for i, (d, v, _) in enumerate(pts))
        body.append(f'<path d="{path}" fill="none" stroke="#0b6e99" stroke-width="2"/>')
        for d, v, category in pts:
            tip = f"<title>{escape(s.get('label', ''))} day {d}: {_pct(v)} ({escape(category or 'baseline')})</title>"
            cx, cy = x(d), y(v)
            if category == "iUPD":
                body.append(f'<polygon points="{_num(cx)},{_num(cy - 7)} {_num(cx + 7)},{_num(cy)} {_num(cx)},'
                            f'{_num(cy + 7)} {_num(cx - 7)},{_num(cy)}" fill="#fff" stroke="#E69F00" '
                            f'stroke-width="2.5">{tip}</polygon>')
            elif category == "iCPD":
                body.append(f'<path d="M{_num(cx - 6)} {_num(cy - 6)}L{_num(cx + 6)} {_num(cy + 6)}M{_num(cx + 6)} '
                            f'{_num(cy - 6)}L{_num(cx - 6)} {_num(cy + 6)}" stroke="#D55E00" stroke-width="3">'
                            f'{tip}</path>')
            else:
                body.append(f'<circle cx="{_num(cx)}" cy="{_num(cy)}" r="4.5" fill="{colour(category)}" '
                            f'stroke="#333" stroke-width="0.6">{tip}</circle>')
    body.append(f'<text x="{_num(left + plot_w / 2)}" y="{height - 8}" text-anchor="middle">days since the regimen '
                f'started</text>')
    body.append(f'<text transform="translate(14 {_num(top + plot_h / 2)}) rotate(-90)" text-anchor="middle">'
                f'% change from baseline</text>')
    legend = [(lambda cx, cy: f'<polygon points="{_num(cx)},{_num(cy - 6)} {_num(cx + 6)},{_num(cy)} {_num(cx)},'
                              f'{_num(cy + 6)} {_num(cx - 6)},{_num(cy)}" fill="#fff" stroke="#E69F00" '
                              f'stroke-width="2.5"/>', "iUPD"),
              (lambda cx, cy: f'<path d="M{_num(cx - 5)} {_num(cy - 5)}L{_num(cx + 5)} {_num(cy + 5)}M{_num(cx + 5)} '
                              f'{_num(cy - 5)}L{_num(cx - 5)} {_num(cy + 5)}" stroke="#D55E00" stroke-width="3"/>',
               "iCPD")]
    body += _legend(legend, left + plot_w + 10, top + 4, per_row=1)
    desc = "; ".join(
        f"{s.get('label', '')}: " + ", ".join(f"day {d} {_pct(v)} {c or 'baseline'}" for d, v, c in s["points"]
                                              if v is not None) for s in series)
    return _svg(width, height, title, desc or "No measured follow-up.", body, ident=ident)
