"""Exact arithmetic helpers (RESPONSE_RULES.md §0.3).

Sizes and sums are :class:`decimal.Decimal` (exact for decimal input, fast in C);
percentages and ratios are :class:`fractions.Fraction` (exact rationals).  Threshold
tests are written as integer-style inequalities and never compare rounded percentages.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

ZERO = Decimal(0)
FIVE = Decimal(5)
TEN = Decimal(10)
FIFTEEN = Decimal(15)
_Q2 = Decimal("0.01")
_HUNDRED = Fraction(100)


def to_decimal(value):
    """Convert an input number to an exact Decimal, or return None if it is not a finite number.

    Floats go through their shortest ``repr`` so ``12.3`` becomes ``Decimal("12.3")``
    (the number the user typed), not the binary expansion.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Decimal(repr(value))
    if isinstance(value, Fraction):
        try:
            return Decimal(value.numerator) / Decimal(value.denominator)
        except InvalidOperation:  # pragma: no cover
            return None
    return None


def frac(d):
    """Exact Fraction of a Decimal (or int)."""
    return Fraction(d)


def pct_change(current, reference):
    """Exact percentage change ``100*(current-reference)/reference`` as a Fraction (None if reference is 0)."""
    if reference == 0:
        return None
    return _HUNDRED * (Fraction(current) - Fraction(reference)) / Fraction(reference)


def is_pd_vs_nadir(s, n, abs_mm=FIVE):
    """RECIST 1.1 target PD test, exact (§0.3): ``(S-N) >= 5 and 5*(S-N) >= N``."""
    d = s - n
    return d >= abs_mm and 5 * d >= n


def is_pr_vs_baseline(s, b):
    """RECIST 1.1 target PR test, exact (§0.3): ``10*(S-B) <= -3*B``."""
    return 10 * (s - b) <= -3 * b


def round2(value):
    """Round a Fraction/Decimal/float to 2 decimals (half up) for display; None stays None."""
    if value is None:
        return None
    if isinstance(value, Fraction):
        d = Decimal(value.numerator) / Decimal(value.denominator)
    elif isinstance(value, Decimal):
        d = value
    else:
        if not math.isfinite(value):
            return None
        d = Decimal(repr(float(value)))
    return float(d.quantize(_Q2, rounding=ROUND_HALF_UP))


def mm_out(d):
    """Decimal size -> float for JSON output (sizes are not rounded)."""
    return None if d is None else float(d)


def fmt_mm(d):
    """Format a Decimal size without exponent or trailing zeros, e.g. ``Decimal('100')`` -> ``'100'``."""
    if d is None:
        return "n/a"
    s = f"{d:f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s if s not in ("-0", "") else "0"


def fmt_signed_mm(d):
    s = fmt_mm(d)
    return s if s.startswith("-") or s == "0" else "+" + s


def fmt_pct(value):
    """Format a percentage with sign and 2 decimals, e.g. ``'+22.86 %'``."""
    if value is None:
        return "n/a"
    r = round2(value)
    return f"{r:+.2f} %"


def fmt_num(value, digits=2):
    if value is None:
        return "n/a"
    if isinstance(value, Fraction):
        value = float(value)
    return f"{value:.{digits}f}"
