"""Delta-radiomics: how each lesion's features (and each patient's, over the target lesions) change between two
timepoints. Pure numpy, no Django: ``analytics.selectors.delta`` gathers the observations, this module computes.

Definitions (docs/analytics.md, "Delta-radiomics"):

* **Pairs.** A pair compares a *reference* timepoint with a later one. The reference is the patient's baseline,
  the **nadir so far** (among the baseline and the follow-ups before the later timepoint, the one where the lesion
  — for a patient, the sum of the target lesions — had the smallest volume, by the profile's shape volume feature;
  ties go to the earlier one), or a named timepoint. The later timepoint is the first follow-up, every follow-up,
  the last follow-up or a named one. Only observations of the **same profile version and region** are compared.
* **Changes** per feature: absolute ``x_t − x_ref``; relative ``(x_t − x_ref) / |x_ref|``; per week
  ``(x_t − x_ref) / weeks``. The relative change is undefined (stored as None, the feature listed in
  ``near_zero``) when ``x_ref`` is 0 while ``x_t`` is not, or when ``|x_ref| < RELATIVE_FLOOR · |x_t|`` (a
  change of more than 1,000-fold: a baseline near zero, e.g. a texture feature that changes sign). 0 → 0 is 0.
* **Lesion identity.** Lesions linked by a split (``split_from``) or a merge (``merged_into``) are one *lesion
  group* compared as a unit at every timepoint: the group's value is the sum of its members' for additive
  features and their volume-weighted mean for the others. The row belongs to the group's root (the lesion that
  neither split off nor merged into another), and names its members. A split lesion's delta is therefore the
  change of the original lesion together with its fragments — what RECIST does with the diameters of a split
  lesion (RECIST 1.1 §4.3.4 / iRECIST: fragments' sizes are added).
* **Patient aggregation** over the target lesion groups, chosen by the request and recorded on the row: additive
  features (volumes, surface areas, energies: :func:`is_additive`) are summed; the others are averaged —
  ``mean`` (each lesion counts once) or ``volume_weighted`` (weighted by the lesion's volume at that timepoint).
  Every target lesion group must have features at both timepoints, else the patient's pair is refused with the
  missing lesion named (a partial sum would look like shrinkage).
* **Acquisition mismatch** flags compare the series of the two timepoints: reconstruction kernel, slice
  thickness (more than ``SLICE_TOLERANCE_MM``), pixel spacing (more than ``SPACING_TOLERANCE_MM``), kVp, contrast
  agent, manufacturer and model, and for PET the radiopharmaceutical, the units, decay correction and the uptake
  time (more than ``UPTAKE_TOLERANCE_MIN``; EANM/EARL guideline: follow-up uptake within ±10 min of baseline,
  Boellaard et al., Eur J Nucl Med Mol Imaging 2015;42:328). Features not from a stored series (imported) are
  flagged ``acquisition_unknown``.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

#: The relative change is undefined below this ratio of |reference| to |later value| (see the module docstring).
RELATIVE_FLOOR = 1e-3
SLICE_TOLERANCE_MM = 0.5
SPACING_TOLERANCE_MM = 0.1
UPTAKE_TOLERANCE_MIN = 10.0
#: Shape features giving a lesion's volume, in order of preference (nadir and volume weights).
VOLUME_FEATURES = ("original_shape_VoxelVolume", "original_shape_MeshVolume")
#: Features that add up over lesions: summed in patient aggregates and lesion groups (suffixes of pyradiomics names).
ADDITIVE_SUFFIXES = ("_shape_VoxelVolume", "_shape_MeshVolume", "_shape_SurfaceArea", "_firstorder_Energy",
                     "_firstorder_TotalEnergy")
AGGREGATIONS = ("mean", "volume_weighted")
#: Timepoint kinds that are follow-up assessments (a pre-baseline scan is neither reference nor follow-up).
FOLLOW_UP_KINDS = ("follow-up", "unscheduled")
REFERENCES = ("baseline", "nadir")
TARGETS = ("first_follow_up", "every_follow_up", "last_follow_up")
#: What is stored by default (and what an analysis names as {"delta": ["baseline", "first_follow_up"]}).
DEFAULT_PAIRS = (("baseline", "first_follow_up"),)
#: Series attributes compared for the acquisition flags: (attribute, kind). kind: "text", "number", "mm".
ACQUISITION_ATTRIBUTES = (
    ("convolution_kernel", "text"), ("slice_thickness_mm", "slice"), ("pixel_spacing_mm", "spacing"),
    ("kvp", "number"), ("contrast_bolus_agent", "text"), ("manufacturer", "text"),
    ("manufacturer_model_name", "text"), ("radiopharmaceutical", "text"), ("pet_units", "text"),
    ("decay_correction", "text"), ("uptake_minutes", "uptake"),
)


def is_additive(name):
    """Whether a feature adds up over lesions (a volume, a surface, an energy): summed, never averaged."""
    return name.endswith(ADDITIVE_SUFFIXES)


@dataclass(frozen=True)
class Observation:
    """The features of one lesion at one timepoint under one profile version and region."""

    lesion_id: int
    timepoint_id: int
    profile_id: int
    region: str
    features: Mapping[str, float]
    acquisition: Mapping[str, object] | None = None  # series attributes; None: not from a stored series


@dataclass(frozen=True)
class LesionInfo:
    label: str
    role: str  # "target", "non_target", "new"
    split_from: int | None = None
    merged_into: int | None = None


@dataclass(frozen=True)
class TimepointInfo:
    date: date
    kind: str  # imaging TimepointKind: "pre-baseline", "baseline", "follow-up", "unscheduled"


@dataclass
class DeltaRow:
    """One compared pair: a lesion group's (``lesion_id`` = its root) or the patient's (``lesion_id`` None)."""

    lesion_id: int | None
    members: tuple[str, ...]
    profile_id: int
    region: str
    aggregation: str  # "" for a lesion; "mean" or "volume_weighted" for a patient
    reference: str    # "baseline", "nadir" or "timepoint"
    from_timepoint: int
    to_timepoint: int
    weeks: float
    names: tuple[str, ...]
    absolute: np.ndarray
    relative: np.ndarray  # NaN where undefined (``near_zero``)
    near_zero: tuple[str, ...] = ()
    flags: list = field(default_factory=list)

    def values(self):
        """``{feature: [absolute, relative or None]}`` (as stored)."""
        rel = [None if math.isnan(r) else r for r in self.relative.tolist()]
        return {name: [a, r] for name, a, r in zip(self.names, self.absolute.tolist(), rel, strict=True)}

    def per_week(self):
        return self.absolute / self.weeks


@dataclass(frozen=True)
class Refusal:
    """A pair that was not compared, and why (shown with the deltas; never a silent skip)."""

    lesion: str | None  # the lesion group's root label; None: the patient aggregate
    profile_id: int
    region: str
    reference: str
    to: str
    reason: str


@dataclass
class DeltaResult:
    rows: list[DeltaRow]
    refused: list[Refusal]


def relative_change(reference, later):
    """``(later − reference) / |reference|`` elementwise, NaN where undefined (see the module docstring)."""
    reference = np.asarray(reference, dtype=float)
    later = np.asarray(later, dtype=float)
    scale = np.abs(reference)
    defined = (scale > 0) & (scale >= RELATIVE_FLOOR * np.abs(later))
    out = np.full(reference.shape, np.nan)
    np.divide(later - reference, scale, out=out, where=defined)
    out[(reference == 0) & (later == 0)] = 0.0
    return out


def acquisition_flags(before, after):
    """The acquisition differences between two series (``[{attribute, from, to}]``), see the module docstring."""
    if before is None or after is None:
        return [{"attribute": "acquisition_unknown", "from": None, "to": None}]
    flags = []
    for attribute, kind in ACQUISITION_ATTRIBUTES:
        a, b = before.get(attribute), after.get(attribute)
        if kind == "text":
            differs = (a or "").strip().casefold() != (b or "").strip().casefold()
        elif a is None or b is None:
            differs = (a is None) != (b is None) and kind != "uptake"
        elif kind == "slice":
            differs = abs(a - b) > SLICE_TOLERANCE_MM
        elif kind == "spacing":
            differs = any(abs(x - y) > SPACING_TOLERANCE_MM for x, y in zip(a, b, strict=True))
        elif kind == "uptake":
            differs = abs(a - b) > UPTAKE_TOLERANCE_MIN
        else:
            differs = a != b
        if differs:
            flags.append({"attribute": attribute, "from": _plain(a), "to": _plain(b)})
    return flags


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _groups(lesions):
    """{root lesion id: [member ids]} over split/merge links (roots: neither split off nor merged away)."""
    parent = {pk: pk for pk in lesions}

    def find(pk):
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    for pk, info in lesions.items():
        for other in (info.split_from, info.merged_into):
            if other is not None and other in parent:
                parent[find(pk)] = find(other)
    members = defaultdict(list)
    for pk in lesions:
        members[find(pk)].append(pk)
    groups = {}
    for pks in members.values():
        roots = [pk for pk in pks if lesions[pk].split_from is None and lesions[pk].merged_into is None]
        root = min(roots or pks, key=lambda pk: lesions[pk].label)
        groups[root] = sorted(pks, key=lambda pk: lesions[pk].label)
    return groups


class _Matrix:
    """The observations of one profile version and region: lesion x timepoint -> a row of an array of features."""

    def __init__(self, observations):
        # Feature sets of one profile version nearly always list the same names in the same order: one
        # permutation (to sorted names) serves them all; any other set is placed name by name.
        first = list(observations[0].features)
        same = [list(o.features) == first for o in observations]
        if all(same):
            names = sorted(first)
        else:
            names = sorted({name for o in observations for name in o.features})
        self.names = tuple(names)
        index = {name: i for i, name in enumerate(names)}
        order = np.array([index[name] for name in first]) if len(first) == len(names) else None
        self.values = np.full((len(observations), len(names)), np.nan)
        self.at = {}
        self.acquisition = {}
        for row, o in enumerate(observations):
            if same[row] and order is not None:
                self.values[row, order] = list(o.features.values())
            else:
                for name, value in o.features.items():
                    self.values[row, index[name]] = value
            self.at[(o.lesion_id, o.timepoint_id)] = row
            self.acquisition[(o.lesion_id, o.timepoint_id)] = o.acquisition
        self.additive = np.array([is_additive(n) for n in names], dtype=bool)
        self.volume_column = next((index[n] for n in VOLUME_FEATURES if n in index), None)

    def group_value(self, members, timepoint):
        """The group's features at a timepoint (None when no member was observed then)."""
        rows = [self.at[(pk, timepoint)] for pk in members if (pk, timepoint) in self.at]
        if not rows:
            return None
        if len(rows) == 1:
            return self.values[rows[0]]
        block = self.values[rows]
        return _combine(block, self.additive, self._weights(block))

    def _weights(self, block):
        if self.volume_column is None:
            return None
        weights = block[:, self.volume_column]
        return weights if np.all(np.isfinite(weights)) and weights.sum() > 0 else None

    def group_acquisition(self, members, timepoint):
        for pk in members:
            if (pk, timepoint) in self.acquisition:
                return self.acquisition[(pk, timepoint)]
        return None

    def volume(self, value):
        return None if value is None or self.volume_column is None else float(value[self.volume_column])


def _combine(block, additive, weights):
    """Rows of features combined into one: additive columns summed, the others averaged (weighted if given)."""
    if weights is None:
        averaged = block.mean(axis=0)
    else:
        averaged = (block * weights[:, None]).sum(axis=0) / weights.sum()
    return np.where(additive, block.sum(axis=0), averaged)


def _schedule(timepoints):
    """(baseline id, [follow-up ids by date]) of a patient: the baseline is the latest timepoint of kind baseline
    before the first follow-up (a repeated baseline scan replaces the earlier one)."""
    ordered = sorted(timepoints, key=lambda pk: timepoints[pk].date)
    first_follow_up = next((pk for pk in ordered if timepoints[pk].kind in FOLLOW_UP_KINDS), None)
    limit = timepoints[first_follow_up].date if first_follow_up is not None else date.max
    baselines = [pk for pk in ordered if timepoints[pk].kind == "baseline" and timepoints[pk].date < limit]
    if not baselines:
        return None, []
    baseline = baselines[-1]
    follow_ups = [pk for pk in ordered if timepoints[pk].date > timepoints[baseline].date
                  and timepoints[pk].kind in FOLLOW_UP_KINDS]
    return baseline, follow_ups


def _targets(to, follow_ups):
    if to == "first_follow_up":
        return follow_ups[:1]
    if to == "last_follow_up":
        return follow_ups[-1:]
    if to == "every_follow_up":
        return list(follow_ups)
    return [to] if to in follow_ups else []


def timepoints_needed(pairs, timepoints):
    """The timepoint pks whose features the pairs read (a reader may skip the others: the default pair needs two
    of a patient's scans). ``timepoints``: {pk: TimepointInfo}."""
    baseline, follow_ups = _schedule(timepoints)
    if baseline is None:
        return set()
    needed = set()
    for reference, to in pairs:
        later = _targets(to, follow_ups)
        needed.update(later)
        if reference == "baseline":
            needed.add(baseline)
        elif reference == "nadir":
            needed.add(baseline)
            last = max((timepoints[pk].date for pk in later), default=None)
            needed.update(pk for pk in follow_ups if last is not None and timepoints[pk].date < last)
        elif reference in timepoints:
            needed.add(reference)
    return needed


def patient_deltas(observations: Sequence[Observation], *, lesions: Mapping[int, LesionInfo],
                   timepoints: Mapping[int, TimepointInfo], profiles: Mapping[int, tuple[str, int]],
                   pairs=DEFAULT_PAIRS, aggregations=AGGREGATIONS) -> DeltaResult:
    """Every requested pair of one patient, per lesion group and aggregated over the target lesions.

    Parameters
    ----------
    observations : the patient's feature sets (done ones only), any profiles and regions.
    lesions, timepoints : the patient's lesions and timepoints by pk.
    profiles : {profile pk: (name, version)} of every profile in ``observations`` (for the refusal reasons).
    pairs : ``(reference, to)`` pairs: reference ``"baseline"``, ``"nadir"`` or a timepoint pk; to
        ``"first_follow_up"``, ``"every_follow_up"``, ``"last_follow_up"`` or a timepoint pk.
    aggregations : patient aggregations to compute (``AGGREGATIONS``).

    Returns
    -------
    DeltaResult
        ``rows`` (lesion rows first, then patient rows, each by profile, region and pair) and ``refused`` pairs
        with their reasons.
    """
    rows, refused = [], []
    baseline, follow_ups = _schedule(timepoints)
    by_key = defaultdict(list)
    for o in observations:
        by_key[(o.profile_id, o.region)].append(o)
    groups = _groups(lesions)
    target_roots = [root for root in groups if lesions[root].role == "target"]
    for (profile_id, region), obs in sorted(by_key.items()):
        matrix = _Matrix(obs)
        other_versions = _other_versions(by_key, profile_id, region, profiles)
        for reference, to in pairs:
            if baseline is None:
                refused.append(Refusal(None, profile_id, region, str(reference), str(to),
                                       "the patient has no baseline timepoint"))
                continue
            for later in _targets(to, follow_ups):
                for root, members in sorted(groups.items(), key=lambda item: lesions[item[0]].label):
                    row = _pair_row(matrix, members, reference, later, baseline, follow_ups, timepoints)
                    if not isinstance(row, DeltaRow):
                        if not _observed_anywhere(matrix, members):
                            continue  # a lesion without features of this profile at all: nothing to compare
                        reason = _versions_reason(row, other_versions, members, timepoints)
                        refused.append(Refusal(lesions[root].label, profile_id, region, str(reference),
                                               _label(later, timepoints), reason))
                        continue
                    row.lesion_id, row.members = root, tuple(lesions[pk].label for pk in members)
                    row.profile_id, row.region = profile_id, region
                    rows.append(row)
                if target_roots:
                    for aggregation in aggregations:
                        row = _patient_row(matrix, groups, target_roots, lesions, aggregation, reference, later,
                                           baseline, follow_ups, timepoints)
                        if not isinstance(row, DeltaRow):
                            refused.append(Refusal(None, profile_id, region, str(reference),
                                                   _label(later, timepoints), f"{aggregation}: {row}"))
                            continue
                        row.profile_id, row.region = profile_id, region
                        rows.append(row)
    rows.sort(key=lambda r: (r.lesion_id is None, r.profile_id, r.region, r.aggregation, r.to_timepoint,
                             r.reference, r.members))
    return DeltaResult(rows, refused)


def _label(timepoint, timepoints):
    return timepoints[timepoint].date.isoformat() if timepoint in timepoints else str(timepoint)


def _observed_anywhere(matrix, members):
    return any(key[0] in members for key in matrix.at)


def _other_versions(by_key, profile_id, region, profiles):
    name = profiles[profile_id][0]
    return {pid: obs for (pid, reg), obs in by_key.items()
            if reg == region and pid != profile_id and profiles[pid][0] == name}


def _versions_reason(reason, other_versions, members, timepoints):
    """A missing observation explained by another version of the profile, when that is why it is missing."""
    missing = reason.get("missing") if isinstance(reason, dict) else None
    if missing is None:
        return reason if isinstance(reason, str) else reason["reason"]
    for pid, obs in other_versions.items():
        if any(o.timepoint_id == missing and o.lesion_id in members for o in obs):
            return (f"different profile versions: the features at {timepoints[missing].date.isoformat()} were "
                    f"extracted with another version of the profile (pk {pid}); only the same version is compared")
    return f"no features at {timepoints[missing].date.isoformat()}"


def _reference(matrix, members_list, reference, later, baseline, follow_ups, timepoints, *, sum_volumes):
    """The reference timepoint pk of a pair, or a reason string."""
    if reference == "baseline":
        return baseline
    if reference == "nadir":
        if matrix.volume_column is None:
            return "the nadir needs a shape volume feature (original_shape_VoxelVolume), which this profile lacks"
        candidates = [baseline] + [pk for pk in follow_ups if timepoints[pk].date < timepoints[later].date]
        best, best_volume = None, math.inf
        for pk in candidates:
            volume = sum_volumes(pk)
            if volume is not None and volume < best_volume:
                best, best_volume = pk, volume
        return best if best is not None else "no timepoint before it has the lesion's volume"
    if reference in timepoints and timepoints[reference].date < timepoints[later].date:
        return reference
    return "the reference timepoint is not before the later one"


def _make_row(matrix, reference_kind, ref, later, timepoints, before, after, flags):
    weeks = (timepoints[later].date - timepoints[ref].date).days / 7.0
    absolute = after - before
    relative = relative_change(before, after)
    near_zero = tuple(np.asarray(matrix.names)[np.isnan(relative) & np.isfinite(absolute)].tolist())
    return DeltaRow(lesion_id=None, members=(), profile_id=0, region="", aggregation="",
                    reference=reference_kind if reference_kind in REFERENCES else "timepoint",
                    from_timepoint=ref, to_timepoint=later, weeks=weeks, names=matrix.names, absolute=absolute,
                    relative=relative, near_zero=near_zero, flags=flags)


def _pair_row(matrix, members, reference, later, baseline, follow_ups, timepoints):
    def volume_at(pk):
        return matrix.volume(matrix.group_value(members, pk))

    ref = _reference(matrix, members, reference, later, baseline, follow_ups, timepoints, sum_volumes=volume_at)
    if isinstance(ref, str):
        return ref
    before, after = matrix.group_value(members, ref), matrix.group_value(members, later)
    if before is None or after is None:
        return {"missing": ref if before is None else later, "reason": "missing timepoint"}
    flags = acquisition_flags(matrix.group_acquisition(members, ref), matrix.group_acquisition(members, later))
    return _make_row(matrix, reference, ref, later, timepoints, before, after, flags)


def _patient_row(matrix, groups, target_roots, lesions, aggregation, reference, later, baseline, follow_ups,
                 timepoints):
    def aggregate(pk):
        values = [matrix.group_value(groups[root], pk) for root in target_roots]
        if any(v is None for v in values):
            return None
        block = np.vstack(values)
        weights = matrix._weights(block) if aggregation == "volume_weighted" else None
        if aggregation == "volume_weighted" and weights is None:
            return "unweighted"
        return _combine(block, matrix.additive, weights)

    def volume_at(pk):
        value = aggregate(pk)
        return None if value is None or isinstance(value, str) else matrix.volume(value)

    if aggregation == "volume_weighted" and matrix.volume_column is None:
        return "volume weights need a shape volume feature (original_shape_VoxelVolume), which this profile lacks"
    ref = _reference(matrix, None, reference, later, baseline, follow_ups, timepoints, sum_volumes=volume_at)
    if isinstance(ref, str):
        return ref
    before, after = aggregate(ref), aggregate(later)
    for pk, value in ((ref, before), (later, after)):
        if value is None:
            missing = [lesions[root].label for root in target_roots if matrix.group_value(groups[root], pk) is None]
            return (f"target lesion{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                    f"{'have' if len(missing) > 1 else 'has'} no features at {timepoints[pk].date.isoformat()}")
        if isinstance(value, str):
            return f"a lesion volume at {timepoints[pk].date.isoformat()} is missing or zero"
    flags = []
    for root in target_roots:
        for flag in acquisition_flags(matrix.group_acquisition(groups[root], ref),
                                      matrix.group_acquisition(groups[root], later)):
            if flag not in flags:
                flags.append(flag)
    row = _make_row(matrix, reference, ref, later, timepoints, before, after, flags)
    row.aggregation = aggregation
    row.members = tuple(lesions[root].label for root in target_roots)
    return row
