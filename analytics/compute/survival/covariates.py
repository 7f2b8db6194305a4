"""Covariates: from ``SubjectRecord.covariates`` (or the landmark response groups) to a design table.

* Numeric covariates (all present values are numbers: int, float, Decimal; not booleans) enter as numbers.
* Anything else is categorical: the levels are the values as text, dummy-coded against a reference level (the
  spec's ``reference``, else the first level in sorted order), one 0/1 term per other level named
  ``covariate[level]`` (e.g. ``sex[M]``).
* ``group_by`` with ``cut`` [c1, …, ck] makes left-closed intervals: ``<c1``, ``c1–<c2``, …, ``≥ck`` (so 50 %
  goes in ``≥50``), labelled with the covariate name (``pdl1_tps <1``, ``pdl1_tps 1–<50``, ``pdl1_tps ≥50``);
  in a Cox model the lowest interval is the default reference.
* Missing values (``None``, absent, NaN): complete cases; a dropped patient is counted once, as
  ``missing <covariate>`` for the first missing covariate in spec order.
"""
import math
from decimal import Decimal
from numbers import Real

from .model import AnalysisError, SpecError


def is_missing(value):
    if value is None:
        return True
    if isinstance(value, float | Decimal):
        return not math.isfinite(float(value))
    return False


def is_numeric(value):
    return isinstance(value, Real | Decimal) and not isinstance(value, bool)


def _fmt(number):
    return f"{number:g}" if isinstance(number, float) else str(number)


def cut_labels(name, cut):
    """Interval labels for cut points, lowest first."""
    labels = [f"{name} <{_fmt(cut[0])}"]
    labels += [f"{name} {_fmt(a)}–<{_fmt(b)}" for a, b in zip(cut, cut[1:], strict=False)]
    labels.append(f"{name} ≥{_fmt(cut[-1])}")
    return labels


def cut_value(name, value, cut):
    if not is_numeric(value):
        raise SpecError("cut", f"{name} has a non-numeric value, so it cannot be cut at numeric points")
    labels = cut_labels(name, cut)
    value = float(value)
    for point, label in zip(cut, labels, strict=False):
        if value < point:
            return label
    return labels[-1]


class Covariate:
    """One named covariate over the analysed patients: its kind, levels and design columns."""

    def __init__(self, name, values, *, reference=None, ordered_levels=None):
        self.name = name
        present = list(values)
        self.numeric = ordered_levels is None and all(is_numeric(v) for v in present)
        if self.numeric:
            if reference is not None:
                raise SpecError("reference", f"{name} is numeric (it enters the model as a number); a reference "
                                             "level applies to categorical covariates, or to group_by with cut")
            self.values = [float(v) for v in present]
            if len(set(self.values)) < 2:
                raise AnalysisError(f"The covariate {name} takes a single value ({_fmt(self.values[0])}) among the "
                                    "analysed patients, so its effect cannot be estimated; remove it or widen the "
                                    "cohort.")
            self.levels, self.reference, self.terms = [], None, [name]
            return
        self.values = [str(v) if not isinstance(v, str) else v for v in present]
        levels = list(ordered_levels) if ordered_levels else sorted(set(self.values))
        levels = [lvl for lvl in levels if lvl in set(self.values)]
        if len(levels) < 2:
            raise AnalysisError(f"The covariate {name} has a single level ({levels[0] if levels else 'none'}) among "
                                "the analysed patients, so its effect cannot be estimated; remove it or widen the "
                                "cohort.")
        if reference is not None:
            reference = str(reference) if not isinstance(reference, str) else reference
            if reference not in levels:
                if ordered_levels and f"{name} {reference}" in levels:
                    reference = f"{name} {reference}"
                else:
                    raise SpecError("reference", f"{reference} is not a level of {name} in the analysed patients "
                                                 f"(levels: {', '.join(levels)})")
        self.levels = levels
        self.reference = reference if reference is not None else levels[0]
        self.terms = [f"{name}[{self._short(lvl)}]" for lvl in levels if lvl != self.reference]

    def _short(self, level):
        prefix = f"{self.name} "
        return level[len(prefix):] if level.startswith(prefix) else level

    def columns(self):
        """term -> list of floats (design columns)."""
        if self.numeric:
            return {self.name: list(self.values)}
        out = {}
        for level in self.levels:
            if level == self.reference:
                continue
            out[f"{self.name}[{self._short(level)}]"] = [1.0 if v == level else 0.0 for v in self.values]
        return out
