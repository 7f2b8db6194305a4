"""One analysis from spec to result: validate, derive the endpoint, build covariates, fit, report.

Landmark analyses (kind ``landmark``): the landmark is ``landmark_weeks`` × 7 days after time zero. Patients
whose event or censoring falls on or before it are excluded (``event or censoring on or before the landmark``),
time is re-zeroed at the landmark (duration − landmark), and each response group takes the value known at the
landmark: a yes/no flag (pseudoprogression, hyperprogression_any) is "yes" only if it was known by then, else
"no"; any other group (recist_bor, irecist_ibor, dcb) must have been known by the landmark, otherwise the
patient is excluded (``<group> not known at the landmark``).

Time-varying irAE model (kind ``cox_tv``): each patient's follow-up (0, T] is split at the onset day d of the
first irAE matching the term (``any``: every term) at or above ``min_grade``: (0, d] with the covariate 0 and
no event, (d, T] with the covariate 1 and the patient's event. An onset at day 0 makes the covariate 1 from
the start; an onset on or after T leaves it 0 throughout.
"""
import csv
import hashlib
import io
from collections import Counter
from datetime import timedelta

import lifelines
import numpy as np
import pandas as pd

from . import fitting
from .covariates import Covariate, cut_labels, cut_value, is_missing, is_numeric
from .endpoints import ENDPOINT_LABELS, derive_endpoint
from .model import AnalysisError
from .spec import RESPONSE_FLAGS, RESPONSE_GROUPS, validate_spec

EVENTS_PER_VARIABLE = 10
NOT_EVENT_FREE_AT_LANDMARK = "event or censoring on or before the landmark"


def _versions():
    return {"lifelines": lifelines.__version__, "pandas": pd.__version__, "numpy": np.__version__}


def canonical_csv(frame, sort_by):
    """The exact analysed table as canonical CSV text (sorted, ``\\n`` line ends, floats as ``repr``)."""
    frame = frame.sort_values(sort_by, kind="mergesort")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(frame.columns))
    for row in frame.itertuples(index=False):
        writer.writerow([repr(float(v)) if isinstance(v, float | np.floating) else
                         int(v) if isinstance(v, int | np.integer) else v for v in row])
    return out.getvalue()


def sha256_of(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def landmark_value(record, name, landmark_date):
    """The value of a response group as known at the landmark; (value, None) or (None, exclusion reason)."""
    value = record.response_groups.get(name)
    known = record.response_group_dates.get(name)
    if name in RESPONSE_FLAGS:
        if is_missing(value):
            return None, f"missing {name}"
        return bool(value) and known is not None and known <= landmark_date, None
    if is_missing(value):
        return None, f"missing {name}"
    if known is None or known > landmark_date:
        return None, f"{name} not known at the landmark"
    return value, None


def apply_landmark(rows, records_by_id, landmark_days, excluded):
    """Keep patients event-free beyond the landmark and re-zero their time there."""
    kept = []
    for row in rows:
        if row["duration_days"] <= landmark_days:
            excluded[NOT_EVENT_FREE_AT_LANDMARK] += 1
            continue
        kept.append({**row, "duration_days": row["duration_days"] - landmark_days})
    return kept


def irae_onset_day(record, irae):
    """Day (from time zero) of the first matching irAE onset, or None."""
    term, min_grade = irae["irae"], irae["min_grade"]
    days = [(onset - record.time_zero).days for t, grade, onset in record.irae_onsets
            if (term == "any" or str(t).strip().lower() == term.lower()) and grade is not None
            and grade >= min_grade and onset is not None]
    days = [d for d in days if d >= 0]
    return min(days) if days else None


def split_time_varying(frame, records_by_id, irae, term):
    """The counting-process table: one or two rows per patient (see the module docstring)."""
    out = []
    extra = [c for c in frame.columns if c not in ("patient_id", "duration_days", "event")]
    for row in frame.to_dict("records"):
        duration, event = row["duration_days"], row["event"]
        onset = irae_onset_day(records_by_id[row["patient_id"]], irae)
        base = {"patient_id": row["patient_id"], **{c: row[c] for c in extra}}
        if onset is None or onset >= duration:
            out.append({**base, "start": 0, "stop": duration, "event": event, term: 0.0})
        elif onset == 0:
            out.append({**base, "start": 0, "stop": duration, "event": event, term: 1.0})
        else:
            out.append({**base, "start": 0, "stop": onset, "event": 0, term: 0.0})
            out.append({**base, "start": onset, "stop": duration, "event": event, term: 1.0})
    columns = ["patient_id", "start", "stop", "event", *extra, term]
    return pd.DataFrame(out, columns=columns)


def _irae_term(irae):
    return f"irae[{irae['irae']}, grade>={irae['min_grade']}]"


def _ordered(values):
    present = set(values)
    if all(is_numeric(v) for v in present):
        return [str(v) for v in sorted(present, key=float)]
    return sorted(str(v) for v in present)


def run(spec, records):
    """Run one analysis; the result is JSON-safe (``json.dumps(result, allow_nan=False)`` works).

    Raises
    ------
    SpecError
        The spec is invalid or asks for a biased comparison (a response group at time zero).
    AnalysisError
        The data cannot be analysed: no patients, no events, a covariate with one level, no convergence.
    """
    spec = validate_spec(spec)
    kind, group_by, cut = spec["kind"], spec["group_by"], spec["cut"]
    method = spec.get("method") or kind  # km, cox, cox_tv; a landmark analysis is km or cox
    records = list(records)
    records_by_id = {r.patient_id: r for r in records}
    if len(records_by_id) != len(records):
        raise ValueError("each patient must appear once in the records (duplicate patient_id)")
    rows, excluded = derive_endpoint(records, spec["endpoint"])
    excluded = Counter(excluded)
    warnings = []

    landmark_days = None
    if kind == "landmark":
        landmark_days = int(round(spec["landmark_weeks"] * 7))
        rows = apply_landmark(rows, records_by_id, landmark_days, excluded)

    names = list(spec["covariates"])
    if group_by and method != "km":
        names.append(group_by)
    if group_by and method == "km":
        names = [group_by]

    # Complete cases: each dropped patient counted once, under the first missing covariate in spec order.
    table = []
    for row in rows:
        record = records_by_id[row["patient_id"]]
        values, reason = {}, None
        for name in names:
            if kind == "landmark" and name in RESPONSE_GROUPS:
                landmark_date = record.time_zero + timedelta(days=landmark_days)
                value, reason = landmark_value(record, name, landmark_date)
                if reason:
                    break
            else:
                value = record.covariates.get(name)
                if is_missing(value):
                    reason = f"missing {name}"
                    break
            if name == group_by and cut is not None:
                value = cut_value(name, value, cut)
            values[name] = value
        if reason:
            excluded[reason] += 1
            continue
        table.append({**row, **values})

    if not table:
        raise AnalysisError("No patient is left to analyse after the exclusions "
                            f"({_describe(excluded) or 'no patients in the cohort'}).")
    events = sum(r["event"] for r in table)
    if events == 0:
        raise AnalysisError(f"None of the {len(table)} analysed patients has an event, so survival cannot be "
                            "compared or modelled; widen the cohort or lengthen follow-up.")

    covariates = []
    for name in names:
        values = [r[name] for r in table]
        if name == group_by and (cut is not None or method == "km"):
            levels = cut_labels(name, cut) if cut is not None else _ordered(values)
            covariates.append(Covariate(name, values, reference=spec["reference"].get(name), ordered_levels=levels))
        else:
            covariates.append(Covariate(name, values, reference=spec["reference"].get(name)))

    frame = pd.DataFrame({"patient_id": [r["patient_id"] for r in table],
                          "duration_days": [r["duration_days"] for r in table],
                          "event": [r["event"] for r in table]})
    result = {"kind": kind, "endpoint": spec["endpoint"], "endpoint_label": ENDPOINT_LABELS[spec["endpoint"]],
              "method": method, "n": len(table), "events": int(events),
              # the analysed patients' pks, for the run record (the service keeps them out of the stored result)
              "patient_ids": sorted(int(r["patient_id"]) for r in table)}
    if landmark_days is not None:
        result["landmark_days"] = landmark_days

    if method == "km":
        group_col = None
        if group_by:
            cov = covariates[0]
            group_col = "group"
            frame[group_col] = cov.values
        groups, logrank = fitting.km(frame, group_col, covariates[0].levels if group_by else None, spec["times"])
        hashed = frame
        result.update({"groups": groups, "logrank": logrank, "group_by": group_by})
    else:
        terms = []
        for cov in covariates:
            for term, column in cov.columns().items():
                frame[term] = column
                terms.append(term)
        result["reference"] = {c.name: c.reference for c in covariates if not c.numeric}
        if method == "cox_tv":
            term = _irae_term(spec["irae"])
            long_frame = split_time_varying(frame, records_by_id, spec["irae"], term)
            if long_frame[term].nunique() < 2:
                raise AnalysisError(f"No analysed patient had {spec['irae']['irae']} irAE of grade "
                                    f"{spec['irae']['min_grade']} or higher during follow-up (or every patient had it "
                                    "from time zero), so its effect cannot be estimated.")
            terms.append(term)
            fitted = fitting.cox_time_varying(long_frame, terms)
            fitted.update({"concordance": None, "ph_test": [],
                           "n_intervals": int(len(long_frame)),
                           "exposed": int(long_frame.loc[long_frame[term] == 1, "patient_id"].nunique())})
            warnings.append("The proportional-hazards test and the concordance index are not computed for the "
                            "time-varying model (lifelines provides them for the fixed-covariate Cox model only).")
            hashed = long_frame
        else:
            fitted = fitting.cox(frame, terms)
            hashed = frame
        result.update(fitted)
        result["ties"] = "efron"
        if events / len(terms) < EVENTS_PER_VARIABLE:
            warnings.append(f"Only {events} events for {len(terms)} model terms "
                            f"({events / len(terms):.1f} per term, fewer than {EVENTS_PER_VARIABLE}): the estimates "
                            "may be unstable and biased; use fewer covariates or a larger cohort.")
        for row in result["ph_test"]:
            if row["violated"]:
                warnings.append(f"Proportional hazards look violated for {row['term']} (Schoenfeld residual test, "
                                f"p = {row['p']:.3g}): its hazard ratio varies over time, so the single HR is an "
                                "average; consider stratifying or a landmark analysis.")

    sort_by = ["patient_id", "start"] if method == "cox_tv" else ["patient_id"]
    result.update({
        "excluded": dict(sorted(excluded.items())), "warnings": warnings,
        "input_sha256": sha256_of(canonical_csv(hashed, sort_by)),
        "versions": _versions(), "seed": spec["seed"], "spec": spec,
    })
    return fitting.clean(result)


def _describe(excluded):
    return ", ".join(f"{count} {reason}" for reason, count in sorted(excluded.items()))
