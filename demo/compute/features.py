"""Synthetic radiomic features for the demo cohort (no Django): enough to try delta-radiomics and prediction models
on every demo patient, with one planted, documented relation.

For each target lesion at each assessment where it was measured: shape features from the measured size
(volume of a sphere of that diameter, its diameter, surface area), ``N_NOISE`` texture/intensity features drawn
per lesion (a stable lesion "fingerprint" plus a small per-scan change), and the **planted signal**:
``original_glrlm_RunEntropy`` is one standard deviation higher in patients whose PD-L1 TPS is ≥ 50 %
(the demo's ground truth a classification run should find, with its permuted control near 0.5). Everything is
seeded.
"""
import math


N_NOISE = 30
SIGNAL = "original_glrlm_RunEntropy"
SIGNAL_SHIFT_SD = 1.0
_CLASSES = ("firstorder", "glcm", "glszm", "gldm", "ngtdm")


def noise_names():
    return [f"original_{_CLASSES[i % len(_CLASSES)]}_Demo{i:02d}" for i in range(N_NOISE)]


def lesion_features(*, sizes_mm, pdl1_high, rng):
    """Features of one lesion at each measured assessment: ``[dict | None]`` aligned with ``sizes_mm`` (None where
    the lesion was not measured)."""
    fingerprint = rng.normal(size=N_NOISE)
    signal_base = rng.normal() + (SIGNAL_SHIFT_SD if pdl1_high else 0.0)
    out = []
    for size in sizes_mm:
        if size is None or size <= 0:
            out.append(None)
            continue
        radius = size / 2.0
        features = {
            "original_shape_VoxelVolume": 4.0 / 3.0 * math.pi * radius ** 3,
            "original_shape_Maximum3DDiameter": float(size),
            "original_shape_SurfaceArea": 4.0 * math.pi * radius ** 2,
            SIGNAL: 4.0 + 0.5 * (signal_base + 0.2 * rng.normal()),
        }
        drift = fingerprint + 0.3 * rng.normal(size=N_NOISE)
        features.update({name: float(value) for name, value in zip(noise_names(), drift, strict=True)})
        out.append(features)
    return out
