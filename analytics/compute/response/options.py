"""Configurable options of the response engine.

Every interpretation the specification leaves open ([I] in RESPONSE_RULES.md) is an
option here, with the specification's default.  Unknown option names are input errors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from fractions import Fraction

from .arith import to_decimal


@dataclass(frozen=True, slots=True)
class ResponseOptions:
    """Options of the response engine, each with the section of RESPONSE_RULES.md it implements.

    Parameters
    ----------
    confirmation_required : bool, default False
        §1.8 / §2.9: CR and PR (iCR/iPR) need a confirming assessment at least
        ``confirmation_min_days`` later (Table 3).  Off by default: confirmation is not
        required in randomised trials and iRECIST Table 3 assumes it is not required.
    confirmation_min_days : int, default 28
        §1.8: minimum interval between the response and its confirmation (4 weeks).
    min_sd_days : int, default 42
        §1.8: minimum interval from treatment start for SD (and non-CR/non-PD) to count
        in BOR ("usually 6-8 weeks"; 6 weeks chosen).
    keep_pr_after_confirmed_pr : bool, default True
        §1.8 PR persistence (RECIST WG FAQ): once PR is assigned (and confirmed, if
        confirmation is required) later SD-level target sums stay PR until PD.
    cr_followed_by_disease : {"relabel-cr-as-pr", "pd-after-true-cr"}, default "relabel-cr-as-pr"
        §1.8 Table 3 footnote (a) and §1.6: what a CR followed by returning disease means.
    too_small_default_mm : Decimal, default 5
        §1.3: size recorded for a lesion present but too small to measure.
    target_selection : {"organ-representative", "size-greedy"}, default "organ-representative"
        §1.2 deterministic target selection (used when baseline lesions carry no ``kind``)
        and §2.2 new-lesion-target (NLT) selection.
    max_targets, max_targets_per_organ : int, default 5 and 2
        §1.2 / §2.2 selection limits.
    icpd_min_days, icpd_tolerance_days, icpd_max_days : int, default 28, 2, 56
        §2.4: an assessment at least ``icpd_min_days - icpd_tolerance_days`` days after the
        iUPD may confirm iCPD; later than ``icpd_max_days`` is a window deviation (still
        used, "late confirmation").
    unconfirmed_iupd_policy : {"event_at_iupd_date", "censor_at_last_adequate_assessment"}
        §2.10: how an iUPD that is never confirmed enters iPFS.  Default
        "event_at_iupd_date" (the conservative choice; the spec gives no default).
    days_per_month : Decimal, default 30.4375
        §0.2: months = days / 30.4375.
    ratio_nonpositive_reference : {"not-hpd", "hpd-if-growing", "undetermined"}, default "not-hpd"
        §3.3 / §3.4 / §3.10: verdict of a ratio-based HPD definition when the reference
        rate (TGR_ref or TGK_pre) is <= 0.
    kim_combination : {"any-ratio-and-ttf", "all", "any"}, default "any-ratio-and-ttf"
        §3.6: how Kim CG 2019's indicators (TGKR >= 2, TGRR >= 2, TTF < 2 months) combine.
        Default follows the JITC review grouping "TGK or TGR + TTF < 2 months".
    kim_ratio_threshold : Decimal, default 2
        §3.6 Kim CG ratio threshold.
    kim_volumetric_tgkr_threshold : Decimal, default 2
    kim_volumetric_ttf_months : Decimal, default 2
        §3.6 Kim Y (volumetric) thresholds, parameters until verified.
    kas_pd_condition : {"recist-pd", "target-increase-gt-20pct"}, default "recist-pd"
        §3.9 / §6.5: what "RECIST 1.1 progression (> 20 %)" means in Kas 2020.
    lo_russo_ecog_rule : {"delta-ge-2", "absolute-ge-2"}, default "delta-ge-2"
        §3.7 criterion 5.
    kato_pace_index : {"tgkr", "tgrr"}, default "tgkr"
        §3.8: which ratio operationalises Kato's "> 2-fold increase in progression pace".
    dcb_threshold_months : Decimal, default 6
    dcb_inclusive : bool, default True
    dcb_pfs : {"recist", "irecist"}, default "recist"
        §4.3 durable clinical benefit.
    """

    confirmation_required: bool = False
    confirmation_min_days: int = 28
    min_sd_days: int = 42
    keep_pr_after_confirmed_pr: bool = True
    cr_followed_by_disease: str = "relabel-cr-as-pr"
    too_small_default_mm: Decimal = Decimal(5)
    target_selection: str = "organ-representative"
    max_targets: int = 5
    max_targets_per_organ: int = 2
    icpd_min_days: int = 28
    icpd_tolerance_days: int = 2
    icpd_max_days: int = 56
    unconfirmed_iupd_policy: str = "event_at_iupd_date"
    days_per_month: Decimal = Decimal("30.4375")
    ratio_nonpositive_reference: str = "not-hpd"
    kim_combination: str = "any-ratio-and-ttf"
    kim_ratio_threshold: Decimal = Decimal(2)
    kim_volumetric_tgkr_threshold: Decimal = Decimal(2)
    kim_volumetric_ttf_months: Decimal = Decimal(2)
    kas_pd_condition: str = "recist-pd"
    lo_russo_ecog_rule: str = "delta-ge-2"
    kato_pace_index: str = "tgkr"
    dcb_threshold_months: Decimal = Decimal(6)
    dcb_inclusive: bool = True
    dcb_pfs: str = "recist"

    def to_dict(self):
        """JSON-serialisable dict of every option (Decimals as floats)."""
        out = {}
        for k, v in asdict(self).items():
            out[k] = float(v) if isinstance(v, Decimal) else v
        return out

    def months_to_days(self, months):
        """Exact number of days (Fraction) in ``months`` months (§0.2)."""
        return Fraction(months) * Fraction(self.days_per_month)


#: option name -> (type tag, allowed values or None, section)
OPTION_SPECS = {
    "confirmation_required": ("bool", None, "§1.8"),
    "confirmation_min_days": ("int+", None, "§1.8"),
    "min_sd_days": ("int0", None, "§1.8"),
    "keep_pr_after_confirmed_pr": ("bool", None, "§1.8"),
    "cr_followed_by_disease": ("enum", ("relabel-cr-as-pr", "pd-after-true-cr"), "§1.8 Table 3 (a)"),
    "too_small_default_mm": ("dec+", None, "§1.3"),
    "target_selection": ("enum", ("organ-representative", "size-greedy"), "§1.2"),
    "max_targets": ("int+", None, "§1.2"),
    "max_targets_per_organ": ("int+", None, "§1.2"),
    "icpd_min_days": ("int+", None, "§2.4"),
    "icpd_tolerance_days": ("int0", None, "§2.4"),
    "icpd_max_days": ("int+", None, "§2.4"),
    "unconfirmed_iupd_policy": ("enum", ("event_at_iupd_date", "censor_at_last_adequate_assessment"), "§2.10"),
    "days_per_month": ("dec+", None, "§0.2"),
    "ratio_nonpositive_reference": ("enum", ("not-hpd", "hpd-if-growing", "undetermined"), "§3.3/§3.4"),
    "kim_combination": ("enum", ("any-ratio-and-ttf", "all", "any"), "§3.6"),
    "kim_ratio_threshold": ("dec+", None, "§3.6"),
    "kim_volumetric_tgkr_threshold": ("dec+", None, "§3.6"),
    "kim_volumetric_ttf_months": ("dec+", None, "§3.6"),
    "kas_pd_condition": ("enum", ("recist-pd", "target-increase-gt-20pct"), "§3.9"),
    "lo_russo_ecog_rule": ("enum", ("delta-ge-2", "absolute-ge-2"), "§3.7"),
    "kato_pace_index": ("enum", ("tgkr", "tgrr"), "§3.8"),
    "dcb_threshold_months": ("dec+", None, "§4.3"),
    "dcb_inclusive": ("bool", None, "§4.3"),
    "dcb_pfs": ("enum", ("recist", "irecist"), "§4.3"),
}

assert set(OPTION_SPECS) == {f.name for f in fields(ResponseOptions)}

DEFAULT_OPTIONS = ResponseOptions()


def _coerce(name, value, problems):
    tag, allowed, _ = OPTION_SPECS[name]
    if tag == "bool":
        if isinstance(value, bool):
            return value
        problems.append(f"option {name}: expected true or false, got {value!r}")
    elif tag in ("int+", "int0"):
        if isinstance(value, int) and not isinstance(value, bool) and (value > 0 or (tag == "int0" and value == 0)):
            return value
        problems.append(f"option {name}: expected a {'positive' if tag == 'int+' else 'non-negative'} integer, got {value!r}")
    elif tag == "dec+":
        d = to_decimal(value)
        if d is not None and d > 0:
            return d
        problems.append(f"option {name}: expected a positive number, got {value!r}")
    elif tag == "enum":
        if value in allowed:
            return value
        problems.append(f"option {name}: expected one of {', '.join(allowed)}, got {value!r}")
    return None


def resolve_options(raw, problems, base=None):
    """Build :class:`ResponseOptions` from a mapping, appending any problem to ``problems``.

    Unknown names and wrong values are reported; valid ones are applied over ``base``
    (defaults if None).
    """
    base = base or DEFAULT_OPTIONS
    if raw is None:
        return base
    if isinstance(raw, ResponseOptions):
        return raw
    if not isinstance(raw, dict):
        problems.append(f"options: expected an object, got {type(raw).__name__}")
        return base
    values = {}
    for name in sorted(raw, key=str):
        if name not in OPTION_SPECS:
            problems.append(f"options: unknown option {name!r}")
            continue
        v = _coerce(name, raw[name], problems)
        if v is not None:
            values[name] = v
    if not values:
        return base
    kw = {f.name: getattr(base, f.name) for f in fields(ResponseOptions)}
    kw.update(values)
    opts = ResponseOptions(**kw)
    if opts.icpd_max_days < opts.icpd_min_days:
        problems.append("options: icpd_max_days must be >= icpd_min_days")
    if opts.icpd_tolerance_days >= opts.icpd_min_days:
        problems.append("options: icpd_tolerance_days must be < icpd_min_days")
    return opts
