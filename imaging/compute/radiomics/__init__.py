"""Radiomics feature extraction (pyradiomics numbers, faster): parameters, defaults, regions, extraction, batches.

Pure Python/numpy/SimpleITK; no Django imports. See :mod:`.extract` for how the results stay identical to stock
pyradiomics while each image is loaded once and shape diameters are computed on the convex hull.
"""

from .batch import BatchExtractor, ExtractionJob, JobResult, default_workers, run_batch
from .defaults import CT_PARAMS, MR_PARAMS, PET_PARAMS, default_params
from .extract import (
    ExtractionError,
    Extractor,
    FastRadiomicsShape,
    FeatureResult,
    Provenance,
    image_sha256,
    library_versions,
)
from .params import InvalidParameters, dump_params, effective_params, load_params, params_hash, validate_params
from .regions import RegionError, peritumoral_ring, peritumoral_rings, ring_name, with_rings

__all__ = [
    "BatchExtractor", "ExtractionJob", "JobResult", "default_workers", "run_batch",
    "CT_PARAMS", "MR_PARAMS", "PET_PARAMS", "default_params",
    "ExtractionError", "Extractor", "FastRadiomicsShape", "FeatureResult", "Provenance", "image_sha256",
    "library_versions",
    "InvalidParameters", "dump_params", "effective_params", "load_params", "params_hash", "validate_params",
    "RegionError", "peritumoral_ring", "peritumoral_rings", "ring_name", "with_rings",
]
