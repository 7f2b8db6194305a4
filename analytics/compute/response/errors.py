"""Typed exceptions and warnings of the response engine (STYLE.md: statistical or data
trouble raises a typed exception or warning, never a silent NaN)."""

from __future__ import annotations


class ResponseInputError(ValueError):
    """The input document cannot be evaluated.

    Carries *every* problem found, not just the first one, so a user can fix the whole
    document in one go.

    Attributes
    ----------
    problems : list of str
        Human-readable messages naming the timepoint and lesion concerned, e.g.
        ``"timepoint TP2: lesion T3 has neither size_mm nor a measurement status"``.
    """

    def __init__(self, problems):
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the response input"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class ResponseWarning(UserWarning):
    """Base class of the warnings issued by the response engine."""


class ResponseDataWarning(ResponseWarning):
    """The data can be evaluated but deviate from the protocol rules.

    Examples: the baseline scan is more than 4 weeks before the first ICI dose (RECIST 1.1
    §1.1), or an iUPD confirmation scan falls outside the 4-8 week window (iRECIST §2.4).
    The same messages are also listed in the result's ``warnings``.
    """
