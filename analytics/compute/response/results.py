"""Result objects of the response engine.

The dataclasses keep exact values (sizes as :class:`~decimal.Decimal`, percentages and
kinetic ratios as :class:`~fractions.Fraction`, dates as :class:`datetime.date`) for the
Django app to store.  :meth:`ResponseResult.to_dict` renders the JSON-serialisable view in
which percentages and HPD indices are rounded to 2 decimals (§0.3, §5).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .arith import mm_out, round2

ENGINE_NAME = "radimmuno.analytics.compute.response"
ENGINE_VERSION = "1.0.0"
SPEC = "RESPONSE_RULES.md (RECIST 1.1, iRECIST, HPD, pseudoprogression, dissociated response, DCB)"


def _j(v):
    """Generic JSON rendering: Decimal -> float, Fraction/float -> 2 decimals, date -> ISO."""
    if v is None or isinstance(v, (bool, str, int)):
        return v
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (Fraction, float)):
        return round2(v)
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _j(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_j(x) for x in v]
    return v


@dataclass(frozen=True, slots=True)
class TimepointResult:
    """Per-follow-up result (keys of §5 plus iRECIST bookkeeping and an explanation)."""

    label: str
    date: _dt.date
    kind: str
    days_from_treatment_start: int
    unscheduled: bool
    symptom_driven: bool
    not_evaluable: bool
    target_sum_mm: object  # Decimal | None (None when incomplete)
    measured_target_sum_mm: object
    target_sum_complete: bool
    pct_change_from_baseline: object  # Fraction | None
    nadir_prior_mm: object
    nadir_prior_label: object
    pct_change_from_nadir: object
    abs_change_from_nadir_mm: object
    target_response: str
    non_target_response: str
    new_lesions: tuple  # unequivocal new lesions first seen here
    equivocal_new_lesions: tuple
    new_lesions_present: tuple  # every registered new lesion visible here
    nlt_ids: tuple
    nlnt_ids: tuple
    nlt_sum_mm: object
    nlt_nadir_prior_mm: object
    recist_tpr: str
    recist_tpr_prospective: str
    irecist_tpr: object
    irecist_triggers: tuple
    days_since_iupd: object
    iupd_window_deviation: object
    dissociated: dict
    explanation: tuple

    def to_dict(self):
        return {
            "label": self.label, "date": self.date.isoformat(), "kind": self.kind,
            "days_from_treatment_start": self.days_from_treatment_start,
            "unscheduled": self.unscheduled, "symptom_driven": self.symptom_driven, "not_evaluable": self.not_evaluable,
            "target_sum_mm": mm_out(self.target_sum_mm), "measured_target_sum_mm": mm_out(self.measured_target_sum_mm),
            "target_sum_complete": self.target_sum_complete,
            "pct_change_from_baseline": round2(self.pct_change_from_baseline),
            "nadir_prior_mm": mm_out(self.nadir_prior_mm), "nadir_prior_label": self.nadir_prior_label,
            "pct_change_from_nadir": round2(self.pct_change_from_nadir),
            "abs_change_from_nadir_mm": mm_out(self.abs_change_from_nadir_mm),
            "target_response": self.target_response, "non_target_response": self.non_target_response,
            "new_lesions": list(self.new_lesions), "equivocal_new_lesions": list(self.equivocal_new_lesions),
            "new_lesions_present": list(self.new_lesions_present),
            "nlt_ids": list(self.nlt_ids), "nlnt_ids": list(self.nlnt_ids),
            "nlt_sum_mm": mm_out(self.nlt_sum_mm), "nlt_nadir_prior_mm": mm_out(self.nlt_nadir_prior_mm),
            "recist_tpr": self.recist_tpr, "recist_tpr_prospective": self.recist_tpr_prospective,
            "irecist_tpr": self.irecist_tpr, "irecist_triggers": list(self.irecist_triggers),
            "days_since_iupd": self.days_since_iupd, "iupd_window_deviation": self.iupd_window_deviation,
            "dissociated": dict(self.dissociated), "explanation": list(self.explanation),
        }


@dataclass(frozen=True, slots=True)
class BestResponse:
    """BOR (§1.8) or iBOR (§2.9)."""

    value: str
    explanation: tuple
    decided_at: object = None
    confirmed_at: object = None

    def to_dict(self):
        return {"value": self.value, "decided_at": self.decided_at, "confirmed_at": self.confirmed_at,
                "explanation": list(self.explanation)}


@dataclass(frozen=True, slots=True)
class SurvivalOutcome:
    """PFS record (§1.9, §2.10): an event (progression or death) or a censoring date."""

    event: bool
    event_kind: object
    date: _dt.date
    label: object
    days: int
    explanation: tuple

    def to_dict(self, days_per_month):
        return {"event": self.event, "event_kind": self.event_kind, "date": self.date.isoformat(), "label": self.label,
                "days": self.days, "months": round2(Fraction(self.days) / Fraction(days_per_month)),
                "explanation": list(self.explanation)}


@dataclass(frozen=True, slots=True)
class PseudoprogressionResult:
    """§4.1 flags and the iUPD episodes they derive from."""

    any: bool
    with_response: bool
    candidate_awaiting_confirmation: bool
    confirmation_due: object
    episodes: tuple
    explanation: tuple

    def to_dict(self):
        return {"any": self.any, "with_response": self.with_response,
                "candidate_awaiting_confirmation": self.candidate_awaiting_confirmation,
                "confirmation_due": self.confirmation_due, "episodes": [dict(e) for e in self.episodes],
                "explanation": list(self.explanation)}


@dataclass(frozen=True, slots=True)
class DcbResult:
    """§4.3 durable clinical benefit: True (DCB), False (NDB) or None (censored before the threshold)."""

    dcb: object
    pfs_used: str
    pfs_days: int
    threshold_days: float
    inclusive: bool
    explanation: tuple

    def to_dict(self):
        return {"dcb": self.dcb, "pfs_used": self.pfs_used, "pfs_days": self.pfs_days,
                "threshold_days": self.threshold_days, "inclusive": self.inclusive, "explanation": list(self.explanation)}


@dataclass(frozen=True, slots=True)
class HpdResult:
    """One HPD definition of §3 (indices unrounded)."""

    name: str
    definition: str
    computable: bool
    reason: object
    ratio_not_interpretable: bool
    indices: dict
    criteria: dict
    hpd: object
    explanation: tuple

    def to_dict(self):
        return {"definition": self.definition, "computable": self.computable, "reason": self.reason,
                "ratio_not_interpretable": self.ratio_not_interpretable, "indices": _j(self.indices),
                "criteria": dict(self.criteria), "hpd": self.hpd, "explanation": list(self.explanation)}


@dataclass(frozen=True, slots=True)
class DissociatedResult:
    """One dissociated-response definition of §4.2 (a descriptive overlay)."""

    name: str
    definition: str
    dissociated: object
    computable: bool
    reason: object
    timepoints: tuple
    first_label: object
    explanation: tuple

    def to_dict(self):
        return {"definition": self.definition, "dissociated": self.dissociated, "computable": self.computable,
                "reason": self.reason, "timepoints": list(self.timepoints), "first_label": self.first_label,
                "explanation": list(self.explanation)}


@dataclass(frozen=True, slots=True)
class ResponseResult:
    """Everything the engine computes for one patient, with exact values."""

    patient_id: object
    input_sha256: str
    options: object  # ResponseOptions
    treatment_start: _dt.date
    baseline: dict
    timepoints: tuple  # TimepointResult
    recist_bor: BestResponse
    irecist_ibor: BestResponse
    recist_pfs: SurvivalOutcome
    irecist_pfs: SurvivalOutcome
    iupd_episodes: tuple
    pseudoprogression: PseudoprogressionResult
    dcb: DcbResult
    hyperprogression_common: dict
    hyperprogression: dict  # name -> HpdResult
    dissociated_response: dict  # name -> DissociatedResult
    warnings: tuple
    meta: object = None

    @property
    def recist_progression_date(self):
        """Date of the first RECIST 1.1 PD (§1.9), None without PD."""
        p = self.recist_pfs
        return p.date if p.event and p.event_kind == "RECIST PD" else None

    @property
    def ipfs_event_date(self):
        """iPFS event date (§2.10): progression or death; None when censored."""
        return self.irecist_pfs.date if self.irecist_pfs.event else None

    def to_dict(self):
        """JSON-serialisable rendering (percentages and HPD indices rounded to 2 decimals)."""
        dpm = self.options.days_per_month
        hp = {"common": _j(self.hyperprogression_common)}
        hp.update({k: v.to_dict() for k, v in self.hyperprogression.items()})
        return {
            "engine": {"name": ENGINE_NAME, "version": ENGINE_VERSION, "spec": SPEC},
            "patient_id": self.patient_id,
            "input_sha256": self.input_sha256,
            "options": self.options.to_dict(),
            "treatment_start": self.treatment_start.isoformat(),
            "baseline": _j(self.baseline),
            "timepoints": [t.to_dict() for t in self.timepoints],
            "recist_bor": self.recist_bor.to_dict(),
            "irecist_ibor": self.irecist_ibor.to_dict(),
            "recist_progression_date": _j(self.recist_progression_date),
            "ipfs_event_date": _j(self.ipfs_event_date),
            "recist_pfs": self.recist_pfs.to_dict(dpm),
            "irecist_pfs": self.irecist_pfs.to_dict(dpm),
            "iupd_episodes": [dict(e) for e in self.iupd_episodes],
            "pseudoprogression": self.pseudoprogression.to_dict(),
            "dcb": self.dcb.to_dict(),
            "hyperprogression": hp,
            "dissociated_response": {k: v.to_dict() for k, v in self.dissociated_response.items()},
            "warnings": list(self.warnings),
            "meta": self.meta,
        }
