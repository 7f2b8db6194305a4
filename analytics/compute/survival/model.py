"""The input record and the exceptions of the survival package (no Django)."""
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class SubjectRecord:
    """One patient, as the database knows them, relative to a chosen time zero.

    Built by the Django side (``analytics.selectors``); everything here is plain data. Dates are calendar dates;
    durations are derived in days from ``time_zero``.
    """

    patient_id: int                  # the Patient pk (never an MRN or name)
    time_zero: date | None           # start of the chosen regimen; None: no such regimen (excluded, counted)
    regimen_end: date | None = None  # that regimen's end_date (None: ongoing)
    regimen_end_reason: str = ""     # EndReason value or ""
    death_date: date | None = None   # Outcome.death_date
    last_contact: date | None = None  # Outcome.last_contact_date (None: no Outcome row)
    progression_recist: date | None = None   # RECIST 1.1 progression date from the stored engine result
    progression_irecist: date | None = None  # iRECIST confirmed progression, dated at the iUPD
    last_adequate_assessment: date | None = None          # last evaluable response assessment date (RECIST)
    last_adequate_assessment_irecist: date | None = None  # same for iRECIST
    assessed: bool = False           # a stored, done ResponseAssessment exists for the regimen
    covariates: Mapping[str, object] = field(default_factory=dict)
    response_groups: Mapping[str, object] = field(default_factory=dict)
    response_group_dates: Mapping[str, date | None] = field(default_factory=dict)
    irae_onsets: Sequence[tuple[str, int, date]] = ()


class SpecError(ValueError):
    """A spec a researcher must fix. ``field`` names the spec key, ``message`` says what is wrong."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AnalysisError(ValueError):
    """Data that cannot be analysed (too few events, a covariate with one level, no convergence)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message
