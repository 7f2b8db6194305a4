"""What became of a file given to the ingest: an :class:`Outcome` per file, and the run's :class:`Tally` of them.

Every layer of ``imaging.ingest`` answers with an ``Outcome`` for the very file it was given (the listener answers
the sender from it), so no file can lend its status to another, as a shared "last problem" attribute could.
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError

from ..choices import QuarantineReason as R

# The kinds of outcome of one file.
STORED, DUPLICATE, CONFLICT, REJECTED, QUARANTINED, PENDING = (
    "stored", "duplicate", "conflict", "rejected", "quarantined", "pending")

#: Quarantine reasons that mean "the input itself is bad" (counted as rejected).
BAD_INPUT = {R.NOT_DICOM, R.TRUNCATED, R.UNREADABLE, R.MISSING_ATTRIBUTES, R.UNSUPPORTED_SOP_CLASS,
             R.NO_PIXEL_DATA, R.GEOMETRY_MISMATCH, R.SEGMENTATION_ERROR, R.INTERNAL_ERROR}


def refused_kind(code):
    """The kind of outcome of a file refused for ``code``: a conflict, bad input (rejected) or waiting for a
    curator (quarantined)."""
    if code == R.CONFLICT:
        return CONFLICT
    return REJECTED if code in BAD_INPUT else QUARANTINED


@dataclass(frozen=True)
class Outcome:
    """What became of one file: its kind and, when it was refused, the reason's code and text, and the open
    quarantine entry that now holds it (``entry``, its primary key)."""

    kind: str
    code: str = ""
    reason: str = ""
    entry: int | None = None

    @classmethod
    def refused(cls, code, reason, *, entry=None, kind=None):
        return cls(kind or refused_kind(code), str(code), reason, entry)


class Tally:
    """The counts of one run, added to by the receiving thread and the indexer thread alike.

    ``held``: SHA-256 -> the open quarantine entry holding that content after this run (a re-try of quarantined
    files settles each entry from it).
    """

    def __init__(self):
        self._lock = threading.RLock()
        self.counts = Counter()
        self.reasons = {}  # code -> {"count": n, "example": "..."}
        self.held = {}
        self.segmentation_ids = []

    def count(self, key, n=1):
        with self._lock:
            self.counts[key] += n

    def quarantined(self, outcome, *, label, sha256):
        """A file refused with ``outcome`` was put in (or left in) quarantine entry ``outcome.entry``."""
        key = {CONFLICT: "conflicts", REJECTED: "rejected"}.get(refused_kind(outcome.code), "quarantined")
        with self._lock:
            self.counts[key] += 1
            entry = self.reasons.setdefault(outcome.code, {"count": 0, "example": f"{label}: {outcome.reason}"})
            entry["count"] += 1
            self.held[sha256] = outcome.entry

    def segmentation(self, pk):
        with self._lock:
            self.counts["segmentations"] += 1
            self.segmentation_ids.append(pk)

    def job_fields(self, summary, *, series=None):
        """The job row's counters, and ``summary`` with this run's reasons, finished series and segmentations."""
        with self._lock:
            c = self.counts
            summary = dict(summary)
            summary["reasons"] = dict(self.reasons)
            if series is not None:
                summary["series"] = summary.get("series", []) + series
            summary["segmentations"] = list(self.segmentation_ids)
            return {
                "files_done": c["files"], "stored": c["stored"], "duplicates": c["duplicates"],
                "conflicts": c["conflicts"], "rejected": c["rejected"], "quarantined": c["quarantined"],
                "segmentations": c["segmentations"], "summary": summary,
            }


def database_unavailable(exc):
    """The database refused work for a reason that passes (a lock, a lost connection), not for this file: the
    file is not quarantined (that needs the same database) but kept for the job's re-run."""
    return isinstance(exc, (OperationalError, InterfaceError))
