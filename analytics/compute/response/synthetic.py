"""Seedable synthetic patient trajectories in the engine's input format (docs/response.md).

Pure Python (``random.Random``), no Django: reusable for benchmarks, tests and the demo
cohort generator.  Every document carries the pattern it was generated with in
``meta["pattern"]`` - the *intended* shape of the course, not an engine verdict (noise can
make e.g. a "pseudoprogression" course confirm as iCPD).
"""

from __future__ import annotations

import datetime as _dt
import random

PATTERNS = ("response", "stable", "progression", "pseudoprogression", "hyperprogression", "dissociated")
DEFAULT_WEIGHTS = {"response": 0.25, "stable": 0.2, "progression": 0.25, "pseudoprogression": 0.1,
                   "hyperprogression": 0.08, "dissociated": 0.12}

_ORGANS = ("liver", "lung", "adrenal", "kidney", "peritoneum", "spleen", "bone", "brain", "pleura", "pancreas")
_NODE_SITES = ("mediastinum", "hilum", "axilla", "retroperitoneum", "neck")


def _r1(x):
    return round(max(x, 0.0), 1)


def generate_patient(seed, *, patient_id=None, pattern=None, n_timepoints=8, max_lesions=10,
                     start=_dt.date(2020, 1, 6), weights=None):
    """One synthetic patient document.

    Parameters
    ----------
    seed : int
        Seed of this patient's random stream (same seed -> same document).
    pattern : str, optional
        One of :data:`PATTERNS`; drawn with ``weights`` if omitted.
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
        raise ValueError(f"unknown pattern {pattern!r}")
    n_fu = max(n_timepoints - 2, 1)
    t0 = start + _dt.timedelta(days=rng.randrange(0, 1500))
    base_date = t0 - _dt.timedelta(days=rng.randrange(1, 15))
    pre_date = base_date - _dt.timedelta(days=rng.randrange(35, 80))
    fu_dates = []
    d = t0
    for _ in range(n_fu):
        d = d + _dt.timedelta(days=rng.randrange(49, 64))
        fu_dates.append(d)

    # ---- baseline lesions -------------------------------------------------------------------
    n_new_max = 2 if pattern in ("progression", "pseudoprogression", "hyperprogression", "dissociated") else 0
    n_targets = rng.randint(1, min(5, max_lesions - n_new_max))
    n_nt = rng.randint(0, min(3, max_lesions - n_targets - n_new_max))
    organ_count = {}
    lesions = []
    for i in range(n_targets):
        nodal = rng.random() < 0.25 and organ_count.get("lymph node", 0) < 2
        if nodal:
            organ, key = rng.choice(_NODE_SITES), "lymph node"
            size = rng.uniform(15.5, 40)
        else:
            choices = [o for o in _ORGANS if organ_count.get(o, 0) < 2]
            organ = key = rng.choice(choices)
            size = rng.uniform(11, 70)
        organ_count[key] = organ_count.get(key, 0) + 1
        lesions.append({"id": f"T{i + 1}", "kind": "target", "organ": organ, "nodal": nodal, "size_mm": _r1(size)})
    for i in range(n_nt):
        nodal = rng.random() < 0.3
        les = {"id": f"NT{i + 1}", "kind": "non-target", "organ": rng.choice(_NODE_SITES if nodal else _ORGANS),
               "nodal": nodal}
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
    if pattern == "response":
        depth = rng.uniform(0.0, 0.65)
        for k in range(n_fu):
            factors.append(max(depth, 1 - (k + 1) * rng.uniform(0.2, 0.4)))
    elif pattern == "stable":
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
    elif pattern == "dissociated":
        ids = sorted(lesion_dirs)
        for j, lid in enumerate(ids):
            lesion_dirs[lid] = rng.uniform(0.3, 0.6) if j % 2 == 0 else rng.uniform(1.25, 1.8)
        factors = [1.0] * n_fu
        if rng.random() < 0.5 or len(ids) == 1:
            new_at = rng.randrange(0, min(2, n_fu))

    def lesion_size(base, lid, k):
        if pattern == "dissociated":
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
    new_specs = [{"id": f"N{i + 1}", "organ": rng.choice(_ORGANS), "size": rng.uniform(6, 25)} for i in range(n_new)]
    for k, day in enumerate(fu_dates):
        tp_les = []
        for l in lesions:
            if l["kind"] == "target":
                s = lesion_size(l["size_mm"], l["id"], k)
                if pattern == "response" and factors[k] < 0.15 and not l["nodal"]:
                    tp_les.append({"id": l["id"], "measurement": "disappeared"})
                elif l["nodal"] and pattern == "response" and factors[k] < 0.3:
                    tp_les.append({"id": l["id"], "size_mm": _r1(min(s, 9.0))})
                else:
                    tp_les.append({"id": l["id"], "size_mm": _r1(s)})
            else:
                st = nt_status if (k >= 1 or nt_status == "present") else "present"
                if pattern == "response" and factors[k] < 0.2:
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
        "meta": {"pattern": pattern, "seed": seed, "generator": "analytics.compute.response.synthetic"},
    }


def generate_cohort(n_patients, seed=0, *, n_timepoints=8, max_lesions=10, weights=None):
    """``n_patients`` documents from a fixed cohort ``seed``; patient i uses seed ``seed * 1_000_003 + i``."""
    return [generate_patient(seed * 1_000_003 + i, patient_id=f"SYN{seed}-{i:05d}", n_timepoints=n_timepoints,
                             max_lesions=max_lesions, weights=weights)
            for i in range(n_patients)]
