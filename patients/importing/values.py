"""Parsers of cell values: each returns the value or raises ``RowError`` (column, reason).

A value is shown in a reason only for columns that identify nobody, and then cut to ``SHOWN_CHARS`` characters;
the columns of identifying data (``IDENTIFYING``) are named, their values never shown.
"""
import datetime as dt
import functools
from decimal import Decimal, InvalidOperation

from .reports import RowError

#: Columns of identifying data (PatientIdentity) an import may hold: their values never appear in a message.
IDENTIFYING = frozenset({"mrn", "family_name", "given_name", "date_of_birth"})
TRUE, FALSE = {"1", "yes", "y", "true", "checked"}, {"0", "no", "n", "false", "unchecked", ""}
SHOWN_CHARS = 60
MAX_INT_DIGITS = 18  # a whole number of a clinical file (a year, a grade, a line) never has more


def shown(value, column=None):
    """``value`` quoted as a message shows it (``''`` for an identifying column: the value is never shown)."""
    if column in IDENTIFYING:
        return ""
    value = str(value)
    if len(value) > SHOWN_CHARS:
        value = value[:SHOWN_CHARS] + "…"
    return f"'{value}'"


def parse_date(row, column, required=False):
    value = row.get(column, "")
    if not value:
        if required:
            raise RowError(column, "is required (a date as YYYY-MM-DD).")
        return None
    try:
        if len(value) < 10 or value[4] != "-":
            raise ValueError
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        quoted = "" if column in IDENTIFYING else f" {shown(value)}"
        raise RowError(column, f"is not a valid date{quoted}; use YYYY-MM-DD.") from None


def parse_int(row, column, required=False):
    value = row.get(column, "")
    if value == "":
        if required:
            raise RowError(column, "is required (a whole number).")
        return None
    try:
        number = Decimal(value)
        # non-finite numbers and huge exponents are no whole number of a clinical file (and int() of 1e999999999
        # would build a billion-digit integer)
        if not number.is_finite() or number.adjusted() > MAX_INT_DIGITS or number != number.to_integral():
            raise InvalidOperation
        return int(number)
    except InvalidOperation:
        raise RowError(column, f"{shown(value, column) or 'The value'} is not a whole number.") from None


def _loose(text):
    return text.lower().replace("-", "_").replace(" ", "_")


def parse_choice(row, column, choice_class, required=False, default="", loose=False):
    """The code of a choice given as its code or its label, case-insensitively.

    ``loose``: '-', '_' and spaces count as the same character (CRFs write ``non_target`` for ``non-target``).
    """
    value = row.get(column, "")
    if value == "":
        if required:
            raise RowError(column, f"is required; one of: {', '.join(str(c) for c in choice_class.values)}.")
        return default
    code = _choice_table(choice_class, loose).get(_loose(value) if loose else value.lower())
    if code is not None:
        return code
    raise RowError(column, f"{shown(value, column) or 'The value'} is not one of: "
                           f"{', '.join(str(c) for c in choice_class.values)}.")


@functools.cache
def _choice_table(choice_class, loose):
    """{code or label, normalised: code}; the first choice wins where two share a spelling."""
    normal = _loose if loose else str.lower
    table = {}
    for code, label in choice_class.choices:
        table.setdefault(normal(str(code)), code)
        table.setdefault(normal(str(label)), code)
    return table


def parse_bool(row, column):
    value = row.get(column, "").lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise RowError(column, f"{shown(row.get(column), column) or 'The value'} is not yes/no (use 1/0, yes/no or "
                           "true/false).")


def parse_optional_bool(row, column):
    """Like ``parse_bool``, but an empty cell is None ("not given") instead of no."""
    if not row.get(column, ""):
        return None
    return parse_bool(row, column)


def parse_decimal(row, column, what="a number"):
    """A finite decimal number (a decimal comma is accepted), or None when empty."""
    raw = row.get(column, "")
    if raw == "":
        return None
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise RowError(column, f"{shown(raw, column) or 'The value'} is not {what}.") from None
    if not value.is_finite():
        raise RowError(column, f"{shown(raw, column) or 'The value'} is not a finite number.")
    return value
