"""De-identification by construction: pseudonyms, ages, stage groups and lesion identifiers.

A pseudonym is a keyed hash (HMAC-SHA256) of what identifies the patient inside the database (site code and study
ID), under a random secret kept with the export project: stable for the project, so exports can be joined and
re-run, but not computable — nor reversible — without the secret, unlike a plain hash of a guessable study ID.
Ages over 89 are pooled as "90+" (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i)(C); DICOM PS3.15 Annex E keeps
patient age only where a profile retains it).
"""
import hashlib
import hmac
import re

PATIENT_DIGITS = 16  # 64 bits: no collision expected below ~10^9 patients (the export refuses one anyway)
SITE_DIGITS = 8
OLDEST_AGE = 89
_STAGE = re.compile(r"^(0|IS|I{1,3}|IV)([A-D][1-3]?)?$")
_LESION_PREFIX = {"target": "T", "non-target": "NT", "new": "NEW"}


class Pseudonymiser:
    """Pseudonyms of one export project. ``secret`` None: the study ID and site code are used as they are."""

    def __init__(self, secret=None):
        self.secret = secret.encode() if secret else None

    def _mac(self, *parts):
        message = "\x1f".join(parts).encode("utf-8")
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def patient(self, site_code, study_id):
        if self.secret is None:
            return study_id
        return "P" + self._mac("patient", site_code, study_id)[:PATIENT_DIGITS]

    def site(self, site_code):
        if self.secret is None:
            return site_code
        return "S" + self._mac("site", site_code)[:SITE_DIGITS]


def age_text(year, year_of_birth):
    """Age in a year as text, over 89 as "90+"; None when the year of birth is not known."""
    if year is None or not year_of_birth:
        return None
    age = year - year_of_birth
    return "90+" if age > OLDEST_AGE else str(age)


def stage_group(text):
    """An AJCC stage group ("IVA"), or None for anything else typed into the field."""
    value = (text or "").strip().upper().removeprefix("STAGE").strip()
    return value if _STAGE.match(value) else None


def _natural(label):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in re.split(r"(\d+)", label)]


def lesion_ids(lesions):
    """Identifiers for one patient's lesions: ``{key: "T01" | "NT01" | "NEW01"}`` from ``[(key, role, label)]``.

    Numbered by role, in the natural order of the reader's labels (T2 before T10), so that no typed text leaves
    the database and the identifiers stay the same while the lesions do.
    """
    ids, counts = {}, {}
    for key, role, label in sorted(lesions, key=lambda item: (item[1], _natural(item[2]), item[2], item[0])):
        prefix = _LESION_PREFIX.get(role, "L")
        counts[prefix] = counts.get(prefix, 0) + 1
        ids[key] = f"{prefix}{counts[prefix]:02d}"
    return ids


def sdtm_day(day):
    """An SDTM study day (--DY) from a day offset: day 0 is study day 1 and there is no day 0 (SDTMIG §4.4.4)."""
    if day is None:
        return None
    return day + 1 if day >= 0 else day
