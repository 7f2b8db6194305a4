"""Writes of the imaging app, one module per area; import them from here.

``assessments``: timepoints, lesions, measurements and the target-selection rules. ``segments``: the review of
segments derived from masks. ``radiomics``: extraction profiles and feature sets. Everything that brings files in
(uploads, ``import_dicom``, the listener) and the curation of quarantined files is :mod:`imaging.ingest`, which
sits above this package: ingest writes timepoints through ``assessments``; nothing here imports ingest (an
import-linter contract checks it).
"""
from .assessments import (
    BASELINE_LOOKAHEAD_DAYS,
    PRE_BASELINE_LOOKAHEAD_DAYS,
    lesion_create,
    lesions_validate,
    measurement_record,
    regimen_assign_all,
    regimen_for_assessment,
    targets_check,
    timepoint_upsert,
)
from .feature_import import external_profile_for_import, features_import
from .measurement_import import measurements_import
from .radiomics import (
    auto_extract_deferred,
    auto_extract_enabled,
    feature_set_compute,
    feature_set_retry,
    feature_sets_extract_batch,
    feature_sets_request,
    profile_export_yaml,
    profile_load_yaml,
    profile_save,
    profile_set_active,
    profiles_for_modality,
    series_volume_path,
)
from .segments import (
    measurement_enter,
    segment_assign_lesion,
    segment_measurement_accept,
    segment_measurement_override,
)

__all__ = [
    "BASELINE_LOOKAHEAD_DAYS", "PRE_BASELINE_LOOKAHEAD_DAYS", "auto_extract_deferred", "auto_extract_enabled",
    "external_profile_for_import", "feature_set_compute", "feature_set_retry", "feature_sets_extract_batch",
    "features_import", "measurements_import",
    "feature_sets_request", "lesion_create", "lesions_validate", "measurement_enter", "measurement_record", "profile_export_yaml",
    "profile_load_yaml", "profile_save", "profile_set_active", "profiles_for_modality",
    "regimen_assign_all",
    "regimen_for_assessment", "segment_assign_lesion", "segment_measurement_accept", "segment_measurement_override",
    "series_volume_path", "targets_check", "timepoint_upsert",
]
