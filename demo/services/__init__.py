"""Writes of the demo app: the synthetic cohort, its imaging and the imaging's radiomics."""
from .clinic import demo_clinic_create
from .cohort import demo_cohort_create
from .features import demo_features_create
from .imaging import demo_imaging_create, demo_patients_for_imaging
from .radiomics import (
    EXTRACT_COMMAND,
    demo_radiomics_extract,
    demo_radiomics_log_path,
    demo_radiomics_request,
    demo_radiomics_running,
    demo_radiomics_start,
    demo_radiomics_unfinished,
)

__all__ = [
    "EXTRACT_COMMAND",
    "demo_clinic_create",
    "demo_cohort_create",
    "demo_features_create",
    "demo_imaging_create",
    "demo_patients_for_imaging",
    "demo_radiomics_extract",
    "demo_radiomics_log_path",
    "demo_radiomics_request",
    "demo_radiomics_running",
    "demo_radiomics_start",
    "demo_radiomics_unfinished",
]
