"""How clinical values read on every page: sizes and changes rounded as a reader records them, and response
categories as chips that differ by more than colour (static/css/app.css)."""
from django import template

register = template.Library()

_GOOD = {"CR", "PR", "iCR", "iPR"}
_STABLE = {"SD", "iSD", "non-CR/non-PD", "iNN", "non-iCR/non-iUPD"}
_BAD = {"PD", "iCPD"}


@register.filter
def mm(value):
    """A diameter or sum as a reader records it: one decimal, none when whole ("30.2 mm", "42 mm")."""
    if value is None or value == "":
        return "–"
    text = f"{float(value):.1f}".removesuffix(".0")
    return f"{text} mm"


@register.filter
def pct(value):
    """A change with its sign and one decimal ("+20.0 %", "−35.5 %")."""
    if value is None or value == "":
        return "–"
    value = float(value)
    return f"{'+' if value > 0 else '−' if value < 0 else ''}{abs(value):.1f} %"


@register.filter
def response_class(category):
    """The chip class of a response category: good (CR/PR), stable, unconfirmed (iUPD), bad (PD/iCPD), NE."""
    if category in _GOOD:
        return "resp resp-good"
    if category in _STABLE:
        return "resp resp-stable"
    if category == "iUPD":
        return "resp resp-unconfirmed"
    if category in _BAD:
        return "resp resp-bad"
    return "resp resp-ne"
