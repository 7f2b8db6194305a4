"""The demo cohort's synthetic radiomic features (demo.compute.features), stored as an external profile's feature
sets so that delta-radiomics and the prediction models can be tried on every demo patient."""
import numpy as np
from django.db import transaction

from imaging.models import ExternalFeatureSet, Lesion, LesionMeasurement
from imaging.services import external_profile_for_import
from patients.models import Biomarker

from ..compute.features import lesion_features

PROFILE = "demo-features"
DESCRIPTION = ("Synthetic demo features (demo.compute.features): shape from the measured size, noise features, and "
               "original_glrlm_RunEntropy planted 1 SD higher with PD-L1 TPS >= 50 %.")


def demo_features_create(*, patients, seed=0):
    """Feature sets for the target lesions of these demo patients at every measured assessment. Returns the number
    stored. Bulk writes send no signals: the caller refreshes the patients' delta-radiomics
    (``analytics.services.delta_refresh_patients``), as ``seed_demo`` does."""
    rng = np.random.default_rng([seed, 2026])
    pks = [p.pk for p in patients]
    pdl1 = {}
    for patient_id, value in (Biomarker.objects.filter(patient__in=pks, kind__code="pdl1_tps", source="measured")
                              .order_by("measured_on", "pk").values_list("patient_id", "value_numeric")):
        pdl1[patient_id] = value  # the latest wins
    sizes = {}
    for lesion_id, timepoint_id, size in (LesionMeasurement.objects.filter(lesion__patient__in=pks,
                                                                           lesion__role="target")
                                          .values_list("lesion_id", "timepoint_id", "size_mm")):
        sizes.setdefault(lesion_id, {})[timepoint_id] = float(size) if size is not None else None
    rows = []
    with transaction.atomic():
        profile, _ = external_profile_for_import(name=PROFILE, description=DESCRIPTION)
        for lesion in Lesion.objects.filter(patient__in=pks, role="target").order_by("patient_id", "label"):
            measured = sizes.get(lesion.pk, {})
            timepoints = sorted(measured)
            high = pdl1.get(lesion.patient_id) is not None and float(pdl1[lesion.patient_id]) >= 50
            for timepoint_id, features in zip(timepoints, lesion_features(
                    sizes_mm=[measured[t] for t in timepoints], pdl1_high=high, rng=rng), strict=True):
                if features is not None:
                    rows.append(ExternalFeatureSet(lesion=lesion, timepoint_id=timepoint_id, profile=profile,
                                                   features=features, feature_count=len(features)))
        ExternalFeatureSet.objects.bulk_create(rows, batch_size=500)
    return len(rows)
