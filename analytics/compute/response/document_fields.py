"""One field of a response document at a time: dates, lesion ids, flags, sizes, unknown keys, lesion lists.

Every reader appends what is wrong to ``problems`` (a message naming where) and returns a usable default, so that
:func:`~.document.parse_document` reports every problem of a document at once.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal

from .arith import fmt_mm, to_decimal

_TOP_KEYS = {"patient_id", "treatment_start", "timepoints", "clinical", "prior_line", "options", "meta"}
_TP_KEYS = {"label", "date", "kind", "lesions", "new_lesions", "unscheduled", "symptom_driven", "not_evaluable",
            "clinically_stable", "scan_dates", "slice_thickness_mm", "tumour_markers_above_normal", "notes"}
_LESION_KEYS = {"id", "kind", "organ", "nodal", "size_mm", "measurement", "fragments_mm", "coalesced_into",
                "coalesced_with", "status", "volume_mm3", "notes"}
_NEW_KEYS = {"id", "organ", "nodal", "size_mm", "measurement", "equivocal", "status", "notes"}
_CLINICAL_KEYS = {"ttf_days", "treatment_end", "ecog_baseline", "ecog_worst_first_2_months", "death_date"}
_PRIOR_KEYS = {"regimen", "start", "end"}


# --- helpers --------------------------------------------------------------------------------
def _parse_date(value):
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        v = value.strip()
        try:
            return _dt.date.fromisoformat(v)
        except ValueError:
            pass
        try:
            return _dt.datetime.fromisoformat(v).date()
        except ValueError:
            return None
    return None


def _lesion_id(raw):
    v = raw.get("id")
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str) and v.strip():
        return v.strip()
    return None


def _bool(raw, key, where, problems, default=False):
    v = raw.get(key, default)
    if v is None and default is None:
        return None
    if not isinstance(v, bool):
        problems.append(f"{where}: {key} must be true or false, got {v!r}")
        return default
    return v


#: The largest size a document may give: what the database stores (LesionMeasurement.size_mm, 7 digits, 2 decimals).
MAX_SIZE_MM = Decimal("99999.99")


def _size(value, where, what, problems, allow_zero=True):
    d = to_decimal(value)
    if d is None:
        problems.append(f"{where}: {what} must be a finite number, got {value!r}")
        return None
    if d > MAX_SIZE_MM:
        problems.append(f"{where}: {what} must be at most {MAX_SIZE_MM} (sizes are in millimetres), got {value!r}")
        return None
    if d < 0 or (d == 0 and not allow_zero):
        problems.append(f"{where}: {what} must be {'>= 0' if allow_zero else '> 0'}, got {fmt_mm(d)}")
        return None
    return d


def _unknown_keys(raw, allowed, where, problems):
    for k in sorted(set(raw) - allowed, key=str):
        problems.append(f"{where}: unknown field {k!r}")



def _slice(raw, where, problems):
    v = raw.get("slice_thickness_mm")
    if v is None:
        return None
    return _size(v, where, "slice_thickness_mm", problems, allow_zero=False)


def _scan_dates(raw, where, problems):
    v = raw.get("scan_dates")
    if v is None:
        return ()
    if not isinstance(v, list) or not v:
        problems.append(f"{where}: scan_dates must be a non-empty list of ISO dates")
        return ()
    out = []
    for x in v:
        d = _parse_date(x)
        if d is None:
            problems.append(f"{where}: scan_dates entry {x!r} is not an ISO date")
        else:
            out.append(d)
    return tuple(sorted(out))


def _lesion_list(raw, key, where, problems):
    v = raw.get(key, [])
    if v is None:
        return []
    if not isinstance(v, list):
        problems.append(f"{where}: {key} must be a list")
        return []
    out = []
    seen = set()
    for i, item in enumerate(v):
        if not isinstance(item, dict):
            problems.append(f"{where}: {key}[{i}] must be an object")
            continue
        lid = _lesion_id(item)
        if lid is None:
            problems.append(f"{where}: {key}[{i}] has no id")
            continue
        if lid in seen:
            problems.append(f"{where}: lesion {lid} is listed twice")
            continue
        seen.add(lid)
        out.append((lid, item))
    return out
