"""Seedable synthetic ICI patients, one vocabulary of response patterns (plain Python, no Django).

Every synthetic patient is generated from a response *pattern* (:data:`PATTERNS`) — complete response, partial
response, stable disease, true progression, pseudoprogression, hyperprogression, dissociated response — that
drives its lesion size trajectories and new lesions. The pattern is the *intended* shape of the course, not an
engine verdict (noise can make e.g. a pseudoprogression course confirm as iCPD). Two outputs share it:

``CohortGenerator``
    Whole demo patients (``SyntheticPatient``): demographics, regimens, biomarkers, immune-related adverse
    events, timepoints, lesions and outcomes, for the demo database (``demo.services``). The pattern also
    drives treatment end, survival and the biomarker distributions, in the direction reported in the
    literature (magnitudes are illustrative): higher PD-L1 TPS and TMB, MSI-H/dMMR and CD8+ TIL density with
    response (Rizvi 2015; Le 2017; Tumeh 2014); high NLR, high LDH and low albumin with early progression and
    hyperprogression (Champiat 2017; Kim 2019); irAEs more frequent in responders (Das & Johnson 2019).
``generate_patient`` / ``generate_cohort``
    Response-engine input documents (docs/response.md) with a fixed number of timepoints, for engine tests and
    benchmarks; the pattern is in ``meta["pattern"]``.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

import numpy as np

PATTERNS = (
    "complete_response",
    "partial_response",
    "stable_disease",
    "progression",
    "pseudoprogression",
    "hyperprogression",
    "dissociated_response",
)
PATTERN_WEIGHTS = (0.06, 0.20, 0.24, 0.27, 0.07, 0.08, 0.08)
#: The same weights by name (``generate_patient``'s default when no pattern is given).
DEFAULT_WEIGHTS = dict(zip(PATTERNS, PATTERN_WEIGHTS))
RESPONSE_PATTERNS = ("complete_response", "partial_response")

TUMOUR_TYPES = ("nsclc", "melanoma", "rcc", "urothelial", "hnscc", "hcc", "gastric", "crc_msih")
TUMOUR_WEIGHTS = (0.40, 0.20, 0.10, 0.08, 0.08, 0.05, 0.04, 0.05)

# First-line ICI regimens in clinical use, per tumour type.
REGIMENS = {
    "nsclc": [("pembrolizumab",), ("pembrolizumab", "carboplatin", "pemetrexed"), ("atezolizumab",),
              ("nivolumab", "ipilimumab"), ("durvalumab",), ("cemiplimab",)],
    "melanoma": [("nivolumab", "ipilimumab"), ("pembrolizumab",), ("nivolumab", "relatlimab"), ("nivolumab",)],
    "rcc": [("nivolumab", "ipilimumab"), ("pembrolizumab", "axitinib"), ("nivolumab", "cabozantinib")],
    "urothelial": [("pembrolizumab",), ("avelumab",), ("enfortumab vedotin", "pembrolizumab")],
    "hnscc": [("pembrolizumab",), ("nivolumab",), ("pembrolizumab", "cisplatin", "fluorouracil")],
    "hcc": [("atezolizumab", "bevacizumab"), ("durvalumab", "tremelimumab")],
    "gastric": [("nivolumab", "oxaliplatin", "capecitabine"), ("pembrolizumab", "cisplatin", "fluorouracil")],
    "crc_msih": [("pembrolizumab",), ("nivolumab", "ipilimumab")],
}
PRIOR_LINE = {
    "nsclc": ("carboplatin", "pemetrexed"), "melanoma": ("dabrafenib", "trametinib"), "rcc": ("axitinib",),
    "urothelial": ("cisplatin", "gemcitabine"), "hnscc": ("cisplatin", "fluorouracil"), "hcc": ("lenvatinib",),
    "gastric": ("oxaliplatin", "capecitabine"), "crc_msih": ("oxaliplatin", "fluorouracil"),
}
HISTOLOGY = {
    "nsclc": ["adenocarcinoma", "squamous cell carcinoma", "large cell carcinoma"],
    "melanoma": ["cutaneous melanoma", "acral melanoma", "mucosal melanoma"],
    "rcc": ["clear cell RCC", "papillary RCC"],
    "urothelial": ["urothelial carcinoma"],
    "hnscc": ["oropharyngeal SCC (HPV+)", "laryngeal SCC", "oral cavity SCC"],
    "hcc": ["hepatocellular carcinoma"],
    "gastric": ["intestinal-type adenocarcinoma", "diffuse-type adenocarcinoma"],
    "crc_msih": ["adenocarcinoma, MSI-H"],
}
# Where metastases go, per tumour type (organ, nodal).
ORGANS = {
    "nsclc": ["lung", "lung", "lymph_node", "liver", "adrenal", "bone", "pleura", "brain"],
    "melanoma": ["lymph_node", "skin", "lung", "liver", "soft_tissue", "brain"],
    "rcc": ["lung", "lymph_node", "kidney", "bone", "adrenal", "liver"],
    "urothelial": ["bladder", "lymph_node", "lung", "liver", "bone"],
    "hnscc": ["head_neck", "lymph_node", "lymph_node", "lung"],
    "hcc": ["liver", "liver", "lung", "lymph_node", "peritoneum"],
    "gastric": ["stomach", "lymph_node", "liver", "peritoneum"],
    "crc_msih": ["bowel", "liver", "lymph_node", "peritoneum", "lung"],
}
AE_TERMS = ["pneumonitis", "colitis", "diarrhea", "hepatitis", "thyroiditis", "hypothyroidism", "hyperthyroidism",
            "hypophysitis", "dermatitis", "pruritus", "arthritis", "nephritis", "myocarditis", "adrenal_insufficiency"]
AE_TERM_WEIGHTS = [8, 10, 12, 8, 8, 14, 6, 4, 14, 8, 4, 2, 1, 1]
GIVEN = ["Anna", "Ben", "Chloé", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Luca",
         "Maya", "Noah", "Olga", "Pierre", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Victor", "Wen", "Yusuf"]
FAMILY = ["Martin", "Bernard", "Müller", "Rossi", "García", "Kowalski", "Nielsen", "Dubois", "Silva", "Novak",
          "Jansen", "Costa", "Leroy", "Fischer", "Moreau", "Horvat", "Petit", "Schmidt", "Lambert", "Ricci"]

MONTH = 30.4375


@dataclass
class SyntheticLesion:
    label: str
    organ: str
    nodal: bool
    role: str  # target / non-target / new
    appears_at: int | None = None  # index of the timepoint of appearance (new lesions)
    sizes: list = field(default_factory=list)  # per timepoint: float mm, or None before appearance
    statuses: list = field(default_factory=list)  # per timepoint: measurement status
    non_target: list = field(default_factory=list)  # per timepoint: non-target status ('' for targets)


@dataclass
class SyntheticPatient:
    study_id: str
    pattern: str
    tumour_type: str
    histology: str
    stage: str
    sex: str
    year_of_birth: int
    date_of_birth: dt.date
    family_name: str
    given_name: str
    mrn: str
    smoking_status: str
    ecog_baseline: int
    diagnosis_date: dt.date
    regimens: list  # dicts: line, agents, start, end, end_reason
    biomarkers: list  # dicts: kind, numeric, category, date, specimen, assay
    adverse_events: list  # dicts
    timepoints: list  # dicts: date, kind
    lesions: list  # SyntheticLesion
    outcome: dict
    parameters: dict


class CohortGenerator:
    """Generate a synthetic cohort.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same seed gives the same cohort.
    today : datetime.date
        No generated date lies after this one.
    """

    def __init__(self, *, seed=0, today=None, id_prefix="DEMO"):
        self.seed = seed
        self.today = today or dt.date.today()
        self.id_prefix = id_prefix

    def generate(self, n):
        rng = np.random.default_rng(self.seed)
        return [self._patient(rng, i) for i in range(n)]

    # -- one patient -------------------------------------------------------------------------------------
    def _patient(self, rng, index):
        pattern = str(rng.choice(PATTERNS, p=PATTERN_WEIGHTS))
        tumour = str(rng.choice(TUMOUR_TYPES, p=TUMOUR_WEIGHTS))
        sex = str(rng.choice(["F", "M"], p=[0.4, 0.6]))
        latest_start = self.today - dt.timedelta(days=240)
        earliest_start = dt.date(2018, 1, 1)
        span = (latest_start - earliest_start).days
        start = earliest_start + dt.timedelta(days=int(rng.integers(0, span)))
        age = int(np.clip(rng.normal(66 if pattern != "hyperprogression" else 71, 10), 28, 90))
        year_of_birth = start.year - age
        dob = dt.date(year_of_birth, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
        diagnosis = start - dt.timedelta(days=int(rng.integers(30, 700)))
        ecog = int(rng.choice([0, 1, 2], p=[0.45, 0.45, 0.10] if pattern != "hyperprogression" else [0.2, 0.5, 0.3]))
        has_prior = pattern == "hyperprogression" or rng.random() < 0.3
        agents = REGIMENS[tumour][int(rng.integers(len(REGIMENS[tumour])))]
        regimens = []
        line = 1
        if has_prior:
            prior_start = start - dt.timedelta(days=int(rng.integers(120, 300)))
            regimens.append({"line": 1, "agents": PRIOR_LINE[tumour], "start": prior_start,
                             "end": start - dt.timedelta(days=int(rng.integers(14, 40))), "end_reason": "progression"})
            diagnosis = min(diagnosis, prior_start - dt.timedelta(days=20))
            line = 2
        timepoints, lesions, params = self._imaging(rng, pattern, tumour, start, has_prior)
        ici = {"line": line, "agents": agents, "start": start, "end": None, "end_reason": ""}
        regimens.append(ici)
        adverse_events = self._adverse_events(rng, pattern, start, timepoints)
        outcome = self._outcome(rng, pattern, start, timepoints, ici, adverse_events)
        return SyntheticPatient(
            study_id=f"{self.id_prefix}-{index + 1:05d}",
            pattern=pattern,
            tumour_type=tumour,
            histology=str(rng.choice(HISTOLOGY[tumour])),
            stage=str(rng.choice(["III", "IVA", "IVB", "IV"], p=[0.1, 0.35, 0.35, 0.2])),
            sex=sex,
            year_of_birth=year_of_birth,
            date_of_birth=dob,
            family_name=str(rng.choice(FAMILY)),
            given_name=str(rng.choice(GIVEN)),
            mrn=f"{self.id_prefix}-M{index + 1:06d}",
            smoking_status=str(rng.choice(["never", "former", "current"],
                                          p=[0.15, 0.55, 0.30] if tumour == "nsclc" else [0.5, 0.35, 0.15])),
            ecog_baseline=ecog,
            diagnosis_date=diagnosis,
            regimens=regimens,
            biomarkers=self._biomarkers(rng, pattern, tumour, start),
            adverse_events=adverse_events,
            timepoints=timepoints,
            lesions=lesions,
            outcome=outcome,
            parameters=params,
        )

    # -- imaging -----------------------------------------------------------------------------------------
    def _imaging(self, rng, pattern, tumour, start, has_prior):
        """Timepoints and lesion sizes. Returns (timepoints, lesions, parameters)."""
        dates, kinds = [], []
        if has_prior:
            dates.append(start - dt.timedelta(days=int(rng.integers(60, 100))))
            kinds.append("pre-baseline")
        dates.append(start - dt.timedelta(days=int(rng.integers(0, 22))))
        kinds.append("baseline")
        n_follow = {"hyperprogression": 2, "progression": int(rng.integers(2, 4)),
                    "pseudoprogression": int(rng.integers(4, 8))}.get(pattern, int(rng.integers(4, 9)))
        day = start
        for _ in range(n_follow):
            day = day + dt.timedelta(days=int(rng.integers(42, 64)))
            if day > self.today:
                break
            dates.append(day)
            kinds.append("follow-up")
        b = kinds.index("baseline")
        months = [(d - dates[b]).days / MONTH for d in dates]
        n_fu = len(dates) - b - 1

        organs = ORGANS[tumour]
        n_targets = int(rng.integers(2 if pattern == "dissociated_response" else 1, 6))
        per_organ, chosen = {}, []
        for organ in rng.permutation(organs):
            organ = str(organ)
            if len(chosen) == n_targets:
                break
            if per_organ.get(organ, 0) < 2:
                per_organ[organ] = per_organ.get(organ, 0) + 1
                chosen.append(organ)
        if not chosen:
            chosen = [organs[0]]

        params = {"n_targets": len(chosen), "n_follow_up": n_fu}
        # Growth per month relative to baseline, per lesion; pattern-specific shape.
        growth = self._growth_curves(rng, pattern, len(chosen), n_fu, months[b + 1:], params)

        lesions = []
        for k, organ in enumerate(chosen):
            nodal = organ == "lymph_node"
            base = float(rng.uniform(15, 40) if nodal else rng.uniform(12, 55))
            if pattern == "hyperprogression":  # slow growth before the ICI, explosive after (Champiat 2017)
                pre_factor = float(rng.uniform(1.03, 1.10))
            elif pattern == "progression" and b > 0:  # the same kinetics before and after: no acceleration
                pre_factor = 1.0 + 0.30 * (dates[b] - dates[0]).days / MONTH
            else:
                pre_factor = float(rng.uniform(1.05, 1.4))
            sizes = []
            for t in range(len(dates)):
                if t < b:
                    sizes.append(base / pre_factor)
                elif t == b:
                    sizes.append(base)
                else:
                    sizes.append(base * growth[k][t - b - 1])
            lesions.append(self._measured(rng, f"T{k + 1}", organ, nodal, "target", sizes, b))
        # Non-target lesions.
        for k in range(int(rng.integers(0, 4))):
            organ = str(rng.choice(organs))
            nodal = organ == "lymph_node"
            lesion = SyntheticLesion(f"NT{k + 1}", organ, nodal, "non-target")
            for t in range(len(dates)):
                lesion.sizes.append(None)
                lesion.statuses.append("present")
                if t <= b:
                    lesion.non_target.append("present")
                elif pattern == "complete_response" and t >= b + 2:
                    lesion.non_target.append("absent")
                elif pattern == "progression" and t == len(dates) - 1 and rng.random() < 0.3:
                    lesion.non_target.append("unequivocal-progression")
                else:
                    lesion.non_target.append("present")
            lesions.append(lesion)
        # New lesions.
        new_at = self._new_lesion_plan(rng, pattern, n_fu)
        for k, (fu_index, disappears_after) in enumerate(new_at):
            t0 = b + 1 + fu_index
            organ = str(rng.choice(organs))
            nodal = organ == "lymph_node"
            size0 = float(rng.uniform(10, 22) if not nodal else rng.uniform(15, 22))
            sizes = []
            for t in range(len(dates)):
                if t < t0:
                    sizes.append(None)
                elif disappears_after is not None and t > t0 + disappears_after:
                    sizes.append(0.0)
                else:
                    sizes.append(size0 * (1.25 ** (t - t0)) if disappears_after is None else size0 * 0.6 ** (t - t0))
            lesion = self._measured(rng, f"N{k + 1}", organ, nodal, "new", sizes, b)
            lesion.appears_at = t0
            lesions.append(lesion)
        timepoints = [{"date": d, "kind": k} for d, k in zip(dates, kinds)]
        return timepoints, lesions, params

    def _growth_curves(self, rng, pattern, n, n_fu, months, params):
        """Per-lesion size factors (relative to baseline) at each follow-up."""
        curves = []
        # Patient-level course with small per-lesion, per-scan measurement variation (±3 %), so stable and
        # responding disease does not cross the PD thresholds by noise alone.
        stable_level = float(rng.uniform(-0.18, 0.08))
        if pattern == "dissociated_response":
            growing = set(rng.choice(n, size=max(1, n // 2), replace=False).tolist()) if n > 1 else set()
            params["growing_lesions"] = sorted(f"T{int(g) + 1}" for g in growing)
        for k in range(n):
            curve = []
            for j in range(n_fu):
                m = months[j]
                if pattern == "complete_response":
                    f = math.exp(-0.9 * m) if j < 1 else 0.0
                elif pattern == "partial_response":
                    f = max(0.35, math.exp(-0.35 * m)) * float(rng.uniform(0.97, 1.03))
                elif pattern == "stable_disease":
                    f = (1.0 + stable_level) * float(rng.uniform(0.97, 1.03))
                elif pattern == "progression":
                    f = (1.0 + 0.30 * m) * float(rng.uniform(0.95, 1.1))
                elif pattern == "pseudoprogression":
                    f = float(rng.uniform(1.30, 1.45)) if j == 0 else max(0.3, 0.85 * math.exp(-0.25 * (m - months[0])))
                elif pattern == "hyperprogression":
                    f = math.exp(0.55 * m) * float(rng.uniform(1.0, 1.1))
                else:  # dissociated
                    shrink = f"T{k + 1}" not in params.get("growing_lesions", [])
                    if n == 1:
                        shrink = False
                    f = max(0.4, math.exp(-0.4 * m)) if shrink else 1.0 + 0.35 * m
                curve.append(f)
            curves.append(curve)
        return curves

    def _new_lesion_plan(self, rng, pattern, n_fu):
        """List of (follow-up index of appearance, disappears after k scans or None)."""
        if n_fu == 0:
            return []
        if pattern == "hyperprogression":
            return [(0, None)] * int(rng.integers(2, 4))
        if pattern == "progression" and rng.random() < 0.5:
            return [(min(n_fu - 1, int(rng.integers(0, 2))), None)]
        if pattern == "pseudoprogression" and rng.random() < 0.3:
            return [(0, 1)]
        if pattern == "dissociated_response" and rng.random() < 0.4:
            return [(min(n_fu - 1, 1), None)]
        return []

    def _measured(self, rng, label, organ, nodal, role, sizes, baseline_index):
        lesion = SyntheticLesion(label, organ, nodal, role)
        for t, size in enumerate(sizes):
            lesion.non_target.append("")
            if size is None:
                lesion.sizes.append(None)
                lesion.statuses.append("")
                continue
            noisy = size if t == baseline_index or size == 0 else size + float(rng.normal(0, 0.8))
            if not nodal and noisy < 3:
                lesion.sizes.append(0.0)
                lesion.statuses.append("disappeared")
            elif not nodal and noisy < 5:
                lesion.sizes.append(None)
                lesion.statuses.append("too-small-to-measure")
            else:
                floor = 15.0 if (t == baseline_index and nodal) else (10.0 if t == baseline_index else 0.0)
                if nodal and noisy < 10 and t != baseline_index:
                    noisy = max(noisy, 4.0)
                lesion.sizes.append(max(round(noisy), floor))
                lesion.statuses.append("present")
        return lesion

    # -- clinical ------------------------------------------------------------------------------------------
    def _biomarkers(self, rng, pattern, tumour, start):
        good = pattern in ("complete_response", "partial_response", "pseudoprogression")
        bad = pattern in ("progression", "hyperprogression")
        date = start - dt.timedelta(days=int(rng.integers(10, 60)))
        blood = start - dt.timedelta(days=int(rng.integers(0, 8)))
        tps = float(np.clip(rng.beta(2.2, 1.4) * 100 if good else rng.beta(0.8, 2.5) * 100, 0, 100))
        tmb = float(np.clip(rng.lognormal(2.6 if good else 1.7, 0.6), 0.5, 150))
        nlr = float(np.clip(rng.lognormal(0.9 if not bad else 1.6 if pattern == "hyperprogression" else 1.3, 0.35),
                            0.5, 60))
        ldh = float(np.clip(rng.normal(210 if not bad else 330 if pattern == "hyperprogression" else 280, 60), 90, 2000))
        results = [
            {"kind": "pdl1_tps", "numeric": round(tps), "date": date, "specimen": "tissue", "assay": "22C3"},
            {"kind": "tmb", "numeric": round(tmb, 1), "date": date, "specimen": "tissue", "assay": "FoundationOne CDx"},
            {"kind": "nlr", "numeric": round(nlr, 2), "date": blood, "specimen": "blood", "assay": ""},
            {"kind": "ldh", "numeric": round(ldh), "date": blood, "specimen": "blood", "assay": ""},
            {"kind": "crp", "numeric": round(float(rng.lognormal(1.5 if good else 2.5, 0.8)), 1), "date": blood,
             "specimen": "blood", "assay": ""},
            {"kind": "albumin", "numeric": round(float(np.clip(rng.normal(40 if not bad else 34, 4), 20, 55)), 1),
             "date": blood, "specimen": "blood", "assay": ""},
        ]
        if tumour in ("crc_msih", "gastric") or rng.random() < 0.2:
            msi_h = tumour == "crc_msih" or rng.random() < (0.25 if good else 0.03)
            results.append({"kind": "msi", "category": "MSI-H" if msi_h else "MSS", "date": date,
                            "specimen": "tissue", "assay": "PCR pentaplex"})
            results.append({"kind": "mmr", "category": "dMMR" if msi_h else "pMMR", "date": date,
                            "specimen": "tissue", "assay": "IHC MLH1/MSH2/MSH6/PMS2"})
        if rng.random() < 0.35:
            til = float(np.clip(rng.lognormal(6.3 if good else 5.3, 0.6), 5, 15000))
            results.append({"kind": "cd8_til", "numeric": round(til), "date": date, "specimen": "tissue",
                            "assay": "C8/144B"})
        return results

    def _adverse_events(self, rng, pattern, start, timepoints):
        p = {"complete_response": 0.65, "partial_response": 0.55, "pseudoprogression": 0.5,
             "stable_disease": 0.4, "dissociated_response": 0.4}.get(pattern, 0.25)
        events = []
        last = timepoints[-1]["date"]
        for _ in range(int(rng.integers(1, 3)) if rng.random() < p else 0):
            onset = start + dt.timedelta(days=int(rng.integers(14, max(15, (last - start).days + 30))))
            if onset > self.today:
                continue
            grade = int(rng.choice([1, 2, 3, 4], p=[0.40, 0.36, 0.19, 0.05]))
            term = str(rng.choice(AE_TERMS, p=np.array(AE_TERM_WEIGHTS) / sum(AE_TERM_WEIGHTS)))
            if any(e["term"] == term for e in events):
                continue
            resolution = onset + dt.timedelta(days=int(rng.integers(7, 120)))
            events.append({
                "term": term, "grade": grade, "onset": onset,
                "resolution": resolution if resolution <= self.today and rng.random() < 0.8 else None,
                "corticosteroids": grade >= 2, "other_immunosuppressants": grade >= 3 and rng.random() < 0.3,
                "ici_action": "discontinued" if grade >= 3 and rng.random() < 0.5 else "held" if grade >= 2 else "none",
            })
        return events

    def _outcome(self, rng, pattern, start, timepoints, ici, adverse_events):
        """Survival consistent with the pattern; closes the ICI regimen."""
        last_scan = timepoints[-1]["date"]
        progression = None
        if pattern in ("progression", "hyperprogression"):
            fu = [t["date"] for t in timepoints if t["kind"] == "follow-up"]
            progression = fu[-1] if fu else None
        death = None
        if pattern == "hyperprogression":
            death = last_scan + dt.timedelta(days=int(rng.integers(10, 60)))
        elif pattern == "progression":
            death = last_scan + dt.timedelta(days=int(rng.exponential(250)) + 20) if rng.random() < 0.75 else None
        elif pattern in ("stable_disease", "dissociated_response"):
            death = last_scan + dt.timedelta(days=int(rng.exponential(500)) + 60) if rng.random() < 0.4 else None
        elif rng.random() < 0.1:
            death = last_scan + dt.timedelta(days=int(rng.exponential(900)) + 90)
        if death and death > self.today:
            death = None
        last_contact = death or min(self.today, last_scan + dt.timedelta(days=int(rng.integers(7, 90))))
        if progression:
            ici["end"], ici["end_reason"] = progression, "progression"
        elif any(e["ici_action"] == "discontinued" for e in adverse_events):
            ici["end"] = min(e["onset"] for e in adverse_events if e["ici_action"] == "discontinued")
            ici["end"] = max(ici["end"], ici["start"])
            ici["end_reason"] = "toxicity"
        elif death:
            ici["end"], ici["end_reason"] = min(death, max(last_scan, ici["start"])), "death"
        elif (last_scan - start).days > 700:
            ici["end"], ici["end_reason"] = start + dt.timedelta(days=730), "completed"
            if ici["end"] > self.today:
                ici["end"], ici["end_reason"] = None, ""
        clinical_progression = progression + dt.timedelta(days=int(rng.integers(0, 21))) if progression else None
        if clinical_progression and (clinical_progression > last_contact):
            clinical_progression = last_contact
        return {"last_contact": last_contact, "vital_status": "dead" if death else "alive", "death": death,
                "clinical_progression": clinical_progression}


# -- response-engine documents -------------------------------------------------------------------------------------
_DOC_ORGANS = ("liver", "lung", "adrenal", "kidney", "peritoneum", "spleen", "bone", "brain", "pleura", "pancreas")
_DOC_NODE_SITES = ("mediastinum", "hilum", "axilla", "retroperitoneum", "neck")


def _r1(x):
    return round(max(x, 0.0), 1)


def generate_patient(seed, *, patient_id=None, pattern=None, n_timepoints=8, max_lesions=10,
                     start=dt.date(2020, 1, 6), weights=None):
    """One synthetic patient as a response-engine input document.

    Parameters
    ----------
    seed : int
        Seed of this patient's random stream (same seed -> same document).
    pattern : str, optional
        One of :data:`PATTERNS`; drawn with ``weights`` (default :data:`DEFAULT_WEIGHTS`) if omitted.
    n_timepoints : int, default 8
        Pre-baseline + baseline + ``n_timepoints - 2`` follow-ups (minimum 3).
    max_lesions : int, default 10
        Upper bound on target + non-target + new lesions.
    """
    rng = random.Random(seed)
    if pattern is None:
        w = weights or DEFAULT_WEIGHTS
        pattern = rng.choices(list(w), weights=list(w.values()))[0]
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r} (one of {', '.join(PATTERNS)})")
    responding = pattern in RESPONSE_PATTERNS
    n_fu = max(n_timepoints - 2, 1)
    t0 = start + dt.timedelta(days=rng.randrange(0, 1500))
    base_date = t0 - dt.timedelta(days=rng.randrange(1, 15))
    pre_date = base_date - dt.timedelta(days=rng.randrange(35, 80))
    fu_dates = []
    d = t0
    for _ in range(n_fu):
        d = d + dt.timedelta(days=rng.randrange(49, 64))
        fu_dates.append(d)

    # ---- baseline lesions -------------------------------------------------------------------
    n_new_max = 2 if pattern in ("progression", "pseudoprogression", "hyperprogression", "dissociated_response") else 0
    n_targets = rng.randint(1, min(5, max_lesions - n_new_max))
    n_nt = rng.randint(0, min(3, max_lesions - n_targets - n_new_max))
    organ_count = {}
    lesions = []
    for i in range(n_targets):
        nodal = rng.random() < 0.25 and organ_count.get("lymph node", 0) < 2
        if nodal:
            organ, key = rng.choice(_DOC_NODE_SITES), "lymph node"
            size = rng.uniform(15.5, 40)
        else:
            choices = [o for o in _DOC_ORGANS if organ_count.get(o, 0) < 2]
            organ = key = rng.choice(choices)
            size = rng.uniform(11, 70)
        organ_count[key] = organ_count.get(key, 0) + 1
        lesions.append({"id": f"T{i + 1}", "kind": "target", "organ": organ, "nodal": nodal, "size_mm": _r1(size)})
    for i in range(n_nt):
        nodal = rng.random() < 0.3
        les = {"id": f"NT{i + 1}", "kind": "non-target",
               "organ": rng.choice(_DOC_NODE_SITES if nodal else _DOC_ORGANS), "nodal": nodal}
        if nodal:
            les["size_mm"] = _r1(rng.uniform(10.5, 14.5))
        lesions.append(les)

    # ---- trajectory of the target-sum factor and per-lesion multipliers -------------------------
    def noise():
        return rng.uniform(0.95, 1.05)

    pre_factor = rng.uniform(0.7, 0.95)
    factors = []
    lesion_dirs = {l["id"]: 1.0 for l in lesions if l["kind"] == "target"}
    new_at = None
    nt_status = "present"
    if responding:
        # Shrinking steadily to a floor: 0 (every lesion gone) or a partial depth (<= -35 %, RECIST PR is -30 %).
        depth = 0.0 if pattern == "complete_response" else rng.uniform(0.15, 0.65)
        level = 1.0
        for _ in range(n_fu):
            level -= rng.uniform(0.2, 0.4)
            factors.append(max(depth, level))
    elif pattern == "stable_disease":
        factors = [rng.uniform(0.82, 1.12) for _ in range(n_fu)]
    elif pattern == "progression":
        g = rng.uniform(1.1, 1.35)
        factors = [g ** (k + 1) for k in range(n_fu)]
        if rng.random() < 0.5:
            new_at = rng.randrange(0, n_fu)
        if n_nt and rng.random() < 0.2:
            nt_status = "unequivocal-progression"
    elif pattern == "pseudoprogression":
        factors = [rng.uniform(1.22, 1.5)] + [rng.uniform(0.45, 0.8) * (0.95 ** k) for k in range(n_fu - 1)]
        if rng.random() < 0.5:
            new_at = 0
    elif pattern == "hyperprogression":
        pre_factor = rng.uniform(0.92, 0.99)  # slow growth before the ICI
        g = rng.uniform(1.6, 2.2)
        factors = [g * (1.3 ** k) for k in range(n_fu)]
        new_at = 0
    elif pattern == "dissociated_response":
        ids = sorted(lesion_dirs)
        for j, lid in enumerate(ids):
            lesion_dirs[lid] = rng.uniform(0.3, 0.6) if j % 2 == 0 else rng.uniform(1.25, 1.8)
        factors = [1.0] * n_fu
        if rng.random() < 0.5 or len(ids) == 1:
            new_at = rng.randrange(0, min(2, n_fu))

    def lesion_size(base, lid, k):
        if pattern == "dissociated_response":
            frac = min(1.0, (k + 1) / 2)
            return base * (1 + (lesion_dirs[lid] - 1) * frac) * noise()
        return base * factors[k] * noise()

    tps = [{"label": "PRE", "date": pre_date.isoformat(), "kind": "pre-baseline",
            "lesions": [{"id": l["id"], "size_mm": _r1(l["size_mm"] * pre_factor * noise())}
                        for l in lesions if l["kind"] == "target"]},
           {"label": "BL", "date": base_date.isoformat(), "kind": "baseline", "lesions": lesions}]
    n_new = 0
    if new_at is not None:
        n_new = rng.randint(1, n_new_max) if pattern != "hyperprogression" else n_new_max
    new_specs = [{"id": f"N{i + 1}", "organ": rng.choice(_DOC_ORGANS), "size": rng.uniform(6, 25)}
                 for i in range(n_new)]
    for k, day in enumerate(fu_dates):
        tp_les = []
        for l in lesions:
            if l["kind"] == "target":
                s = lesion_size(l["size_mm"], l["id"], k)
                if responding and factors[k] < 0.15 and not l["nodal"]:
                    tp_les.append({"id": l["id"], "measurement": "disappeared"})
                elif l["nodal"] and pattern == "complete_response" and factors[k] < 0.3:
                    tp_les.append({"id": l["id"], "size_mm": _r1(min(s, 9.0))})  # a normal node (< 10 mm)
                elif l["nodal"] and pattern == "partial_response":
                    tp_les.append({"id": l["id"], "size_mm": _r1(max(s, 10.0))})  # still pathological: not CR
                else:
                    tp_les.append({"id": l["id"], "size_mm": _r1(s)})
            else:
                st = nt_status if (k >= 1 or nt_status == "present") else "present"
                if responding and factors[k] < 0.2:
                    st = "absent"
                if st == "unequivocal-progression" and k >= 2:
                    st = "no-change-from-last-assessment"
                tp_les.append({"id": l["id"], "status": st})
        tp = {"label": f"TP{k + 1}", "date": day.isoformat(), "lesions": tp_les}
        if new_at is not None and k >= new_at:
            nl = []
            for spec in new_specs:
                grow = 1.0
                if pattern == "pseudoprogression":
                    grow = 0.0 if k > new_at + 1 else 0.8
                elif pattern in ("progression", "hyperprogression"):
                    grow = 1.25 ** (k - new_at)
                entry = {"id": spec["id"]}
                if k == new_at:
                    entry["organ"] = spec["organ"]
                if grow == 0.0:
                    entry["measurement"] = "disappeared"
                else:
                    entry["size_mm"] = _r1(spec["size"] * grow * noise())
                nl.append(entry)
            tp["new_lesions"] = nl
        tps.append(tp)

    clinical = {"ecog_baseline": rng.choice((0, 0, 1, 1, 2))}
    if pattern == "hyperprogression":
        clinical["ttf_days"] = (fu_dates[0] - t0).days + rng.randrange(-5, 10)
        clinical["ecog_worst_first_2_months"] = min(5, clinical["ecog_baseline"] + rng.choice((1, 2, 2, 3)))
    else:
        clinical["ttf_days"] = (fu_dates[-1] - t0).days + rng.randrange(0, 60)
        clinical["ecog_worst_first_2_months"] = clinical["ecog_baseline"] + (1 if rng.random() < 0.1 else 0)
    return {
        "patient_id": patient_id if patient_id is not None else f"SYN{seed}",
        "treatment_start": t0.isoformat(),
        "timepoints": tps,
        "clinical": clinical,
        "meta": {"pattern": pattern, "seed": seed, "generator": "demo.compute.synthetic"},
    }


def generate_cohort(n_patients, seed=0, *, n_timepoints=8, max_lesions=10, weights=None):
    """``n_patients`` documents from a fixed cohort ``seed``; patient i uses seed ``seed * 1_000_003 + i``."""
    return [generate_patient(seed * 1_000_003 + i, patient_id=f"SYN{seed}-{i:05d}", n_timepoints=n_timepoints,
                             max_lesions=max_lesions, weights=weights)
            for i in range(n_patients)]
