"""The fitting layer: Kaplan–Meier, Cox PH and time-varying Cox on a derived table, via lifelines.

Each function takes a pandas DataFrame whose columns are already the analysis terms and returns plain,
JSON-safe dicts (non-finite floats become ``None``). lifelines' defaults are kept on purpose, so a result can
be checked by calling lifelines directly on the same table: KM confidence intervals are the exponential
Greenwood ("log(-log)") intervals, median CIs from :func:`lifelines.utils.median_survival_times`, Cox ties by
Efron's method, proportional hazards checked with :func:`lifelines.statistics.proportional_hazard_test`
(scaled Schoenfeld residuals against rank-transformed time; Grambsch & Therneau, Biometrika 1994;81:515–26).
"""
import math
import warnings

import numpy as np
from lifelines import CoxPHFitter, CoxTimeVaryingFitter, KaplanMeierFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from lifelines.statistics import multivariate_logrank_test, proportional_hazard_test
from lifelines.utils import median_survival_times

from .model import AnalysisError

PH_ALPHA = 0.05


def finite(value):
    """A JSON-safe number: Python float/int, or None for NaN/Inf/missing."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def clean(obj):
    """Recursively convert numpy scalars to Python and non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    if isinstance(obj, str) or obj is None:
        return obj
    if isinstance(obj, bool | np.bool_ | int | np.integer | float | np.floating):
        return finite(obj)
    return obj


def _step_at(frame, t):
    """Row of a step function (indexed by time) in force at time t."""
    return frame.loc[:t].iloc[-1]


def km_group(durations, events, label, times, at_risk_times):
    """One Kaplan–Meier curve: median (95 % CI), survival at ``times``, numbers at risk, the full curve."""
    kmf = KaplanMeierFitter().fit(durations, events, label=label)
    median_ci = median_survival_times(kmf.confidence_interval_)
    ci = kmf.confidence_interval_
    last = float(np.max(durations))
    survival = []
    for t in times:
        if t > last:
            survival.append({"time": t, "s": None, "lower": None, "upper": None})
            continue
        row = _step_at(ci, t)
        survival.append({"time": t, "s": float(kmf.survival_function_at_times(t).iloc[0]),
                         "lower": float(row.iloc[0]), "upper": float(row.iloc[1])})
    curve = [{"time": float(t), "s": float(s), "lower": float(lo), "upper": float(hi)}
             for t, s, lo, hi in zip(kmf.survival_function_.index, kmf.survival_function_.iloc[:, 0],
                                     ci.iloc[:, 0], ci.iloc[:, 1], strict=True)]
    durations, events = np.asarray(durations), np.asarray(events)
    return {
        "group": label, "n": int(len(durations)), "events": int(events.sum()),
        "median": finite(kmf.median_survival_time_),
        "median_lower": finite(median_ci.iloc[0, 0]), "median_upper": finite(median_ci.iloc[0, 1]),
        "survival": survival,
        "at_risk": [{"time": t, "n": int((durations >= t).sum())} for t in at_risk_times],
        "curve": curve,
        "censored": sorted({float(d) for d, e in zip(durations, events, strict=True) if not e}),
    }


def km(frame, group_col, levels, times):
    """Kaplan–Meier by group (one group when ``group_col`` is None) plus the (multivariate) log-rank test."""
    at_risk_times = [0, *times]
    if group_col is None:
        groups = [km_group(frame["duration_days"], frame["event"], "all", times, at_risk_times)]
        return groups, None
    groups = []
    for level in levels:
        part = frame[frame[group_col] == level]
        groups.append(km_group(part["duration_days"], part["event"], level, times, at_risk_times))
    test = multivariate_logrank_test(frame["duration_days"], frame[group_col], frame["event"])
    logrank = {"statistic": finite(test.test_statistic), "df": int(test.degrees_of_freedom), "p": finite(test.p_value)}
    return groups, logrank


def _converge(fit, what):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            fitted = fit()
        except ConvergenceError as exc:
            raise AnalysisError(
                f"The {what} could not be fitted: the estimation did not converge. This usually means a covariate "
                "(or a combination of them) separates patients with and without events perfectly, or two covariates "
                "carry the same information. Remove or merge covariates. (lifelines: "
                f"{str(exc).splitlines()[0]})") from exc
    problems = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    if problems:
        raise AnalysisError(
            f"The {what} did not converge to a unique estimate: some hazard ratio runs off towards 0 or infinity, "
            "typically because a covariate level has all or none of the events (perfect separation), a level is "
            "very rare, or covariates are collinear. Remove or merge covariates or levels. (lifelines: "
            f"{problems[0].splitlines()[0].strip()})")
    return fitted


def terms_table(summary):
    return [{"term": str(term), "coef": finite(row["coef"]), "se": finite(row["se(coef)"]),
             "hr": finite(row["exp(coef)"]), "hr_lower": finite(row["exp(coef) lower 95%"]),
             "hr_upper": finite(row["exp(coef) upper 95%"]), "p": finite(row["p"])}
            for term, row in summary.iterrows()]


def cox(frame, terms):
    """Cox PH (Efron ties): terms, concordance and the PH test per term."""
    data = frame[["duration_days", "event", *terms]]
    cph = _converge(lambda: CoxPHFitter().fit(data, duration_col="duration_days", event_col="event"), "Cox model")
    ph = proportional_hazard_test(cph, data, time_transform="rank")
    ph_rows = []
    for term, row in ph.summary.iterrows():
        p = finite(row["p"])
        ph_rows.append({"term": str(term), "statistic": finite(row["test_statistic"]), "p": p,
                        "violated": bool(p is not None and p < PH_ALPHA)})
    return {"terms": terms_table(cph.summary), "concordance": finite(cph.concordance_index_), "ph_test": ph_rows,
            "log_likelihood": finite(cph.log_likelihood_)}


def cox_time_varying(long_frame, terms):
    """Cox model with time-varying covariates (counting-process rows ``start``, ``stop``; Efron ties)."""
    data = long_frame[["patient_id", "start", "stop", "event", *terms]]
    ctv = _converge(lambda: CoxTimeVaryingFitter().fit(data, id_col="patient_id", event_col="event",
                                                       start_col="start", stop_col="stop"),
                    "time-varying Cox model")
    return {"terms": terms_table(ctv.summary), "log_likelihood": finite(ctv.log_likelihood_)}
