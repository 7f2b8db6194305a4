"""Validation and normalisation of an analysis spec (a JSON mapping a researcher writes).

A spec names *what* to analyse; :func:`validate_spec` fills the defaults and refuses, with a
:class:`~.model.SpecError` naming the key, anything that cannot be run or would be biased by design. The
one refusal that is about science rather than syntax: a response-derived group (best overall response,
DCB, pseudoprogression, hyperprogression) used at time zero in a ``km``/``cox``/``cox_tv`` analysis. A
patient has to live long enough to respond, so responders get "immortal" person-time that flatters them
(Anderson, Cain & Gelber, J Clin Oncol 1983;1:710–9). Such groups are allowed only in a ``landmark``
analysis, which compares patients event-free at the landmark by what was known about them then.
"""
import math
from collections.abc import Mapping
from numbers import Real

from .endpoints import ENDPOINTS
from .model import SpecError

KINDS = ("km", "cox", "landmark", "cox_tv")
RESPONSE_GROUPS = ("recist_bor", "irecist_ibor", "dcb", "pseudoprogression", "hyperprogression_any")
#: Response groups that are yes/no flags: "not (yet) seen at the landmark" means "no" at the landmark.
RESPONSE_FLAGS = ("pseudoprogression", "hyperprogression_any")
DEFAULT_TIMES = (182, 365, 730)
DEFAULT_LANDMARK_WEEKS = 12
DEFAULT_TIME_ZERO = {"regimen": "first_ici"}
SPEC_KEYS = ("kind", "endpoint", "cohort", "covariates", "group_by", "cut", "reference", "times",
             "landmark_weeks", "irae", "seed", "time_zero")

IMMORTAL_TIME = (
    "{name} is a response-derived group and cannot be used from time zero in a '{kind}' analysis: a patient must "
    "survive long enough to respond, so the responders' early survival is guaranteed by how the group is defined "
    "(immortal-time bias). Use kind 'landmark', which compares patients still event-free at the landmark "
    "(default 12 weeks) by the response known at that time.")


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _name(field, value):
    if not isinstance(value, str) or not value.strip():
        raise SpecError(field, "must be a non-empty name (text)")
    return value.strip()


def _time_zero(value):
    if value is None:
        return dict(DEFAULT_TIME_ZERO)
    if not isinstance(value, Mapping) or len(value) != 1:
        raise SpecError("time_zero", 'must be one of {"regimen": "first_ici"}, {"line_of_therapy": N} or '
                                     '{"drug_class": "anti-PD-1"}')
    (key, choice), = value.items()
    if key == "regimen":
        if choice != "first_ici":
            raise SpecError("time_zero", 'the only regimen choice is "first_ici" (each patient\'s first ICI regimen)')
        return {"regimen": "first_ici"}
    if key == "line_of_therapy":
        if not isinstance(choice, int) or isinstance(choice, bool) or choice < 1:
            raise SpecError("time_zero", "line_of_therapy must be a whole number, 1 or more")
        return {"line_of_therapy": choice}
    if key == "drug_class":
        return {"drug_class": _name("time_zero", choice)}
    raise SpecError("time_zero", f'unknown choice "{key}"; use regimen, line_of_therapy or drug_class')


def _irae(value, kind):
    if kind != "cox_tv":
        if value is not None:
            raise SpecError("irae", "is only used by kind 'cox_tv' (an irAE as a time-varying covariate)")
        return None
    if value is None:
        raise SpecError("irae", 'is required for cox_tv: "irae_any" or {"irae": "pneumonitis", "min_grade": 2}')
    if isinstance(value, str):
        value = {"irae": value}
    if not isinstance(value, Mapping) or set(value) - {"irae", "min_grade"} or "irae" not in value:
        raise SpecError("irae", 'must be "irae_any" or {"irae": "<term>", "min_grade": <1-5>}')
    term = _name("irae", value["irae"])
    min_grade = value.get("min_grade", 1)
    if not isinstance(min_grade, int) or isinstance(min_grade, bool) or not 1 <= min_grade <= 5:
        raise SpecError("irae", "min_grade must be a CTCAE grade, 1 to 5")
    if term.lower() in ("irae_any", "any"):
        term = "any"
    return {"irae": term, "min_grade": min_grade}


def validate_spec(spec):
    """Check a spec and return it normalised (every key present, defaults filled).

    Parameters
    ----------
    spec : Mapping
        Keys as in :data:`SPEC_KEYS`; ``kind`` and ``endpoint`` are required.

    Returns
    -------
    dict
        The normalised spec. ``landmark`` specs gain ``method`` (``"cox"`` when covariates are named,
        else ``"km"``).

    Raises
    ------
    SpecError
        With ``field`` the offending key and a ``message`` a researcher can act on.
    """
    if not isinstance(spec, Mapping):
        raise SpecError("spec", "must be a JSON object")
    unknown = sorted(set(spec) - set(SPEC_KEYS) - {"method"})
    if unknown:
        raise SpecError(unknown[0], f"unknown key; the keys are {', '.join(SPEC_KEYS)}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise SpecError("kind", f"must be one of {', '.join(KINDS)}")
    endpoint = spec.get("endpoint")
    if endpoint not in ENDPOINTS:
        raise SpecError("endpoint", f"must be one of {', '.join(ENDPOINTS)}")
    cohort = spec.get("cohort") or {}
    if not isinstance(cohort, Mapping):
        raise SpecError("cohort", "must be an object of patient-list filters")

    covariates = spec.get("covariates") or []
    if isinstance(covariates, str) or not isinstance(covariates, list | tuple):
        raise SpecError("covariates", "must be a list of covariate names")
    covariates = [_name("covariates", c) for c in covariates]
    if len(set(covariates)) != len(covariates):
        raise SpecError("covariates", "names a covariate twice")
    group_by = spec.get("group_by")
    group_by = None if group_by in (None, "") else _name("group_by", group_by)
    if group_by in covariates:
        raise SpecError("group_by", "is also listed in covariates; name it once")

    cut = spec.get("cut")
    if cut is not None:
        if group_by is None:
            raise SpecError("cut", "needs group_by (the numeric covariate to cut)")
        if not isinstance(cut, list | tuple) or not cut or not all(_is_number(c) for c in cut):
            raise SpecError("cut", "must be a non-empty list of numbers (cut points)")
        cut = [float(c) if not isinstance(c, int) else c for c in cut]
        if any(b <= a for a, b in zip(cut, cut[1:], strict=False)):
            raise SpecError("cut", "cut points must be strictly increasing")
        cut = list(cut)

    reference = spec.get("reference") or {}
    if not isinstance(reference, Mapping):
        raise SpecError("reference", "must be an object: covariate -> reference level")
    named = set(covariates) | ({group_by} if group_by else set())
    for key, level in reference.items():
        if key not in named:
            raise SpecError("reference", f"{key} is not among the covariates or group_by")
        if not isinstance(level, str | int | float | bool):
            raise SpecError("reference", f"the reference level of {key} must be a value of it")
    reference = {str(k): v for k, v in reference.items()}

    times = spec.get("times")
    times = list(DEFAULT_TIMES) if times is None else times
    if not isinstance(times, list | tuple) or not all(_is_number(t) and t > 0 for t in times):
        raise SpecError("times", "must be a list of positive numbers of days")
    times = sorted(set(times))

    landmark_weeks = spec.get("landmark_weeks", DEFAULT_LANDMARK_WEEKS)
    if not _is_number(landmark_weeks) or landmark_weeks <= 0:
        raise SpecError("landmark_weeks", "must be a positive number of weeks")

    seed = spec.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise SpecError("seed", "must be a whole number")

    if kind != "landmark":
        for name in [*covariates, *([group_by] if group_by else [])]:
            if name in RESPONSE_GROUPS:
                raise SpecError("group_by" if name == group_by else "covariates",
                                IMMORTAL_TIME.format(name=name, kind=kind))
    method = None
    if kind == "km":
        if covariates:
            raise SpecError("covariates", "a Kaplan–Meier analysis takes group_by, not covariates (use kind 'cox')")
    elif kind == "cox":
        if not covariates and not group_by:
            raise SpecError("covariates", "a Cox model needs at least one covariate")
    elif kind == "landmark":
        if not covariates and not group_by:
            raise SpecError("group_by", "a landmark analysis needs a response group (group_by for Kaplan–Meier, "
                                        "or covariates for Cox)")
        method = "cox" if covariates else "km"
        requested = spec.get("method")
        if requested is not None and requested != method:
            raise SpecError("method", "is implied: Cox when covariates are named, Kaplan–Meier otherwise")
    if kind != "landmark" and spec.get("method") is not None:
        raise SpecError("method", "is only used by landmark analyses")

    normalised = {
        "kind": kind, "endpoint": endpoint, "cohort": dict(cohort), "covariates": covariates, "group_by": group_by,
        "cut": cut, "reference": reference, "times": times, "landmark_weeks": landmark_weeks,
        "irae": _irae(spec.get("irae"), kind), "seed": seed, "time_zero": _time_zero(spec.get("time_zero")),
    }
    if method:
        normalised["method"] = method
    return normalised
