"""Endpoints derived from the tracked data: OS, PFS (RECIST 1.1), iPFS (iRECIST) and TTF.

Durations are whole days from time zero (the start of the chosen regimen). Rules:

* **OS** (overall survival): event = death from any cause (``Outcome.death_date``); otherwise censored at the
  last contact (``Outcome.last_contact_date``).
* **PFS (RECIST 1.1)**: event = the earlier of the RECIST 1.1 progression date of the stored engine result and
  death; otherwise censored at the last adequate (evaluable) response assessment. Progression can only be seen
  at an assessment, so a patient without progression is known to be progression-free only up to the last
  scan that could have shown it; censoring at last contact would count unscanned time as progression-free.
  *Death after missed assessments*: a death without documented progression that occurs more than
  :data:`MISSED_ASSESSMENT_WINDOW_DAYS` (112 days = two missed 8-weekly assessments) after the last adequate
  assessment (or after time zero if there is none) is censored at the last adequate assessment, as FDA's
  guidance (Clinical Trial Endpoints for the Approval of Cancer Drugs and Biologics, 2018, appendix on PFS censoring) does for
  an event after two or more missed visits: the patient may well have progressed unseen in between, and
  counting the late death as the PFS event would inflate PFS. A death within the window is an event.
  A progression date is itself an assessment, so progression is always an event.
* **iPFS (iRECIST)**: as PFS, with the iRECIST dates: the event is confirmed progression (iCPD) dated at the
  iUPD it confirms (shared/RESPONSE_RULES.md §2.10), or death; censoring at the last adequate iRECIST
  assessment; the same missed-assessment rule.
* **TTF** (time to treatment failure): event = end of the regimen for any reason (``Regimen.end_date``) or
  death, whichever comes first; censored at the last contact while the regimen is ongoing.

Exclusions (each counted under its reason, shown on every result):

* ``no regimen matching the time zero`` – the patient never started the chosen regimen;
* ``no outcome record`` – no ``Outcome`` row (neither death nor last contact known): vital status unknown, so no
  endpoint can be derived, even PFS (a death could not be ruled out);
* ``no response assessment`` – PFS/iPFS only: no stored, done response assessment for the regimen;
* ``event or censoring on or before time zero`` – the derived date is not after time zero (zero or negative
  follow-up: a data error or no follow-up at all).
"""
from collections import Counter

ENDPOINTS = ("os", "pfs_recist", "ipfs_irecist", "ttf")
ENDPOINT_LABELS = {"os": "overall survival", "pfs_recist": "progression-free survival (RECIST 1.1)",
                   "ipfs_irecist": "progression-free survival (iRECIST)", "ttf": "time to treatment failure"}
#: A death more than this many days after the last adequate assessment is censored there (two missed
#: assessments at the 8-weekly schedule usual for immune checkpoint inhibitors).
MISSED_ASSESSMENT_WINDOW_DAYS = 112

NO_TIME_ZERO = "no regimen matching the time zero"
NO_OUTCOME = "no outcome record"
NO_ASSESSMENT = "no response assessment"
NOT_AFTER_TIME_ZERO = "event or censoring on or before time zero"


def _os(record):
    if record.death_date is not None:
        return record.death_date, True
    return record.last_contact, False


def _pfs(record, progression, last_adequate):
    reference = last_adequate or record.time_zero
    death = record.death_date
    if progression is not None and (death is None or progression <= death):
        return progression, True
    if death is not None:
        if (death - reference).days <= MISSED_ASSESSMENT_WINDOW_DAYS:
            return death, True
        return reference, False
    return reference, False


def _ttf(record):
    ends = [d for d in (record.regimen_end, record.death_date) if d is not None]
    if ends:
        return min(ends), True
    return record.last_contact, False


def endpoint_date(record, endpoint):
    """(date, event) for one record, or (None, reason) when the record is excluded."""
    if record.time_zero is None:
        return None, NO_TIME_ZERO
    if record.death_date is None and record.last_contact is None:
        return None, NO_OUTCOME
    if endpoint == "os":
        day, event = _os(record)
    elif endpoint == "pfs_recist":
        if not record.assessed:
            return None, NO_ASSESSMENT
        day, event = _pfs(record, record.progression_recist, record.last_adequate_assessment)
    elif endpoint == "ipfs_irecist":
        if not record.assessed:
            return None, NO_ASSESSMENT
        day, event = _pfs(record, record.progression_irecist, record.last_adequate_assessment_irecist)
    elif endpoint == "ttf":
        day, event = _ttf(record)
    else:
        raise ValueError(f"unknown endpoint {endpoint!r}; use one of {', '.join(ENDPOINTS)}")
    if day is None or day <= record.time_zero:
        return None, NOT_AFTER_TIME_ZERO
    return day, event


def derive_endpoint(records, endpoint):
    """Derive one endpoint for every record.

    Returns
    -------
    rows : list of dict
        ``{"patient_id", "duration_days", "event"}`` (``event`` 1 or 0), sorted by ``patient_id``.
    excluded : collections.Counter
        Readable reason -> number of patients excluded for it.
    """
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; use one of {', '.join(ENDPOINTS)}")
    rows, excluded = [], Counter()
    for record in records:
        day, event = endpoint_date(record, endpoint)
        if day is None:
            excluded[event] += 1
            continue
        rows.append({"patient_id": record.patient_id, "duration_days": (day - record.time_zero).days,
                     "event": int(event)})
    rows.sort(key=lambda r: r["patient_id"])
    return rows, excluded
