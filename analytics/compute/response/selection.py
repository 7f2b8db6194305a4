"""Measurability and deterministic target selection (RECIST 1.1 §1.1-1.2; iRECIST §2.2)."""

from __future__ import annotations

from .arith import FIFTEEN, TEN

LYMPH_NODE_ORGAN = "lymph node"


def organ_key(organ, nodal):
    """Organ used for the per-organ limits: lymph nodes in all locations count as one organ (§1.2)."""
    return LYMPH_NODE_ORGAN if nodal else organ.strip().lower()


def min_measurable_mm(nodal, slice_thickness_mm=None):
    """Smallest measurable size (§1.1): node SA 15 mm; non-nodal LD 10 mm or 2 x slice thickness if > 5 mm."""
    if nodal:
        return FIFTEEN
    if slice_thickness_mm is not None and 2 * slice_thickness_mm > TEN:
        return 2 * slice_thickness_mm
    return TEN


def is_measurable(size_mm, nodal, slice_thickness_mm=None):
    return size_mm is not None and size_mm >= min_measurable_mm(nodal, slice_thickness_mm)


def select_targets(candidates, *, max_total, max_per_organ, rule, existing_counts=None):
    """Deterministic target selection of RECIST 1.1 §1.2 [I], reused for NLT (§2.2).

    Parameters
    ----------
    candidates : iterable of (lesion_id, organ_key, size_mm)
        Measurable lesions.
    max_total, max_per_organ : int
        Selection limits (5 and 2 by default), counting ``existing_counts`` already used.
    rule : {"organ-representative", "size-greedy"}
        "organ-representative": order by size, take the largest lesion of each organ not yet
        represented (in size order) until the limit, then fill by size keeping <= 2 per organ.
        "size-greedy": fill by size keeping <= 2 per organ.
    existing_counts : dict organ_key -> int, optional
        Slots already used (NLT registered at earlier assessments).

    Returns
    -------
    list of str
        Selected ids, in selection order.  Ties in size are broken by organ then id, so the
        result never depends on input order.
    """
    order = sorted(candidates, key=lambda c: (-c[2], c[1], c[0]))
    counts = dict(existing_counts or {})
    total = sum(counts.values())
    chosen = []
    taken = set()
    if rule == "organ-representative":
        for lid, organ, _ in order:
            if total >= max_total:
                break
            if counts.get(organ, 0) == 0:
                chosen.append(lid)
                taken.add(lid)
                counts[organ] = 1
                total += 1
    for lid, organ, _ in order:
        if total >= max_total:
            break
        if lid in taken:
            continue
        if counts.get(organ, 0) < max_per_organ:
            chosen.append(lid)
            taken.add(lid)
            counts[organ] = counts.get(organ, 0) + 1
            total += 1
    return chosen
