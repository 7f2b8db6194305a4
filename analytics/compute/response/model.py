"""Input data model (RESPONSE_RULES.md §5): the vocabularies and the validated, order-normalised objects.

:func:`~.document.parse_document` builds a :class:`ResponseInput` from a JSON-like document; everything downstream
reads these objects, never the document.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass, field

from .arith import ZERO
from .options import ResponseOptions

# --- vocabularies ---------------------------------------------------------------------------
TARGET = "target"
NON_TARGET = "non-target"
LESION_KINDS = (TARGET, NON_TARGET)

PRE_BASELINE = "pre-baseline"
BASELINE = "baseline"
FOLLOW_UP = "follow-up"
TIMEPOINT_KINDS = (PRE_BASELINE, BASELINE, FOLLOW_UP)

# target / new-lesion measurement statuses (§1.3, §5)
MEASURED = "measured"
DISAPPEARED = "disappeared"
TOO_SMALL = "too-small-to-measure"
NOT_ASSESSED = "not-assessed"
FRAGMENTS = "fragments"
COALESCED = "coalesced"
UNMEASURED = "unmeasured"  # new lesion recorded without a size (non-measurable / qualitative)
MEASUREMENTS = (MEASURED, DISAPPEARED, TOO_SMALL, NOT_ASSESSED)

# non-target / new-lesion statuses (§1.5, §2.5; NCLA from the iRECIST FAQ categories)
PRESENT = "present"
ABSENT = "absent"
UNEQUIVOCAL = "unequivocal-progression"
INCREASED = "increased-from-last-assessment"
NO_CHANGE = "no-change-from-last-assessment"
NOT_EVALUATED = "not-evaluated"
NT_STATUSES = (PRESENT, ABSENT, UNEQUIVOCAL, INCREASED, NO_CHANGE, NOT_EVALUATED)
PROGRESSED_CONTINUING = (INCREASED, NO_CHANGE)


# --- parsed objects -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BaselineLesion:
    """A lesion recorded at baseline (§1.1-1.2); ``kind`` is fixed for the whole course."""

    lesion_id: str
    kind: str
    organ: str
    organ_key: str
    nodal: bool
    size_mm: object  # Decimal | None
    selected_by: str  # "reader" | "auto"


@dataclass(frozen=True, slots=True)
class LesionObservation:
    """One baseline lesion at one timepoint.

    For targets ``size_mm`` is the effective size entering the sum (§1.3): the measurement,
    0 if disappeared or coalesced into another target, the too-small default, the sum of
    fragments, or None when not assessed.  For non-targets ``status`` carries the reading.
    """

    lesion_id: str
    size_mm: object
    measurement: str
    status: str = None
    fragments_mm: tuple = ()
    coalesced_into: str = None
    coalesced_with: tuple = ()
    volume_mm3: object = None


@dataclass(frozen=True, slots=True)
class NewLesionObservation:
    """A lesion first seen after baseline (§1.6, §2.2); the NLT/NLNT class is derived."""

    lesion_id: str
    organ: str
    organ_key: str
    nodal: bool
    size_mm: object
    measurement: str
    equivocal: bool
    status: str = None

    @property
    def present(self):
        """True / False / None (unknown) - whether the lesion is visible at this timepoint."""
        if self.measurement == DISAPPEARED or self.status == ABSENT:
            return False
        if self.measurement == NOT_ASSESSED or self.status == NOT_EVALUATED:
            return None
        if self.size_mm is not None and self.size_mm == ZERO:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Timepoint:
    label: str
    date: _dt.date
    kind: str
    day: int  # days since treatment start
    lesions: dict = field(default_factory=dict)  # id -> LesionObservation
    new_lesions: dict = field(default_factory=dict)  # id -> NewLesionObservation
    unscheduled: bool = False
    symptom_driven: bool = False
    not_evaluable: bool = False
    clinically_stable: object = None
    scan_dates: tuple = ()
    slice_thickness_mm: object = None
    tumour_markers_above_normal: object = None

    @property
    def assessment_date(self):
        """Date used for PD: the earliest scan date of the assessment (§1.9 [I])."""
        return min(self.scan_dates) if self.scan_dates else self.date


@dataclass(frozen=True, slots=True)
class ClinicalInputs:
    """Clinical inputs for the HPD definitions (§3.1, §3.7) and PFS (§2.10)."""

    ttf_days: object = None
    treatment_end: object = None
    ecog_baseline: object = None
    ecog_worst_first_2_months: object = None
    death_date: object = None


@dataclass(frozen=True, slots=True)
class PriorLine:
    """The last treatment line before the ICI (Saâda-Bouzid §3.4): used to annotate TGK_pre."""

    regimen: str = None
    start: object = None
    end: object = None


@dataclass(frozen=True, slots=True)
class ResponseInput:
    """A validated, order-normalised input document."""

    patient_id: object
    treatment_start: _dt.date
    pre_baseline: tuple
    baseline: Timepoint
    follow_ups: tuple
    baseline_lesions: dict  # id -> BaselineLesion
    target_ids: tuple
    non_target_ids: tuple
    target_selection: str  # "reader" | "auto:<rule>"
    clinical: ClinicalInputs
    prior_line: object
    options: ResponseOptions
    input_sha256: str
    meta: object = None


def _input_hash(inp):
    """SHA-256 of a canonical, order-independent rendering of the validated input (STYLE.md)."""

    def d(x):
        return None if x is None else str(x)

    def tp(t):
        return [t.label, t.date.isoformat(), t.kind, t.unscheduled, t.symptom_driven, t.not_evaluable,
                t.clinically_stable, [s.isoformat() for s in t.scan_dates], d(t.slice_thickness_mm),
                t.tumour_markers_above_normal,
                [[o.lesion_id, d(o.size_mm), o.measurement, o.status, [d(f) for f in o.fragments_mm], o.coalesced_into,
                  list(o.coalesced_with), d(o.volume_mm3)] for _, o in sorted(t.lesions.items())],
                [[n.lesion_id, n.organ, n.nodal, d(n.size_mm), n.measurement, n.equivocal, n.status]
                 for _, n in sorted(t.new_lesions.items())]]

    c = inp.clinical
    canon = {
        "treatment_start": inp.treatment_start.isoformat(),
        "baseline_lesions": [[b.lesion_id, b.kind, b.organ, b.nodal, d(b.size_mm)] for _, b in sorted(inp.baseline_lesions.items())],
        "timepoints": [tp(t) for t in (*inp.pre_baseline, inp.baseline, *inp.follow_ups)],
        "clinical": [d(c.ttf_days), d(c.treatment_end), c.ecog_baseline, c.ecog_worst_first_2_months, d(c.death_date)],
        "prior_line": None if inp.prior_line is None else [inp.prior_line.regimen, d(inp.prior_line.start), d(inp.prior_line.end)],
        "options": inp.options.to_dict(),
    }
    return hashlib.sha256(json.dumps(canon, separators=(",", ":"), default=str).encode()).hexdigest()
