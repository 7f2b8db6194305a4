"""Radiomics feature extraction (pyradiomics numbers, faster): parameters, defaults, regions, extraction, batches.

Pure Python/numpy/SimpleITK; no Django imports. See :mod:`.extract` for how the results stay identical to stock
pyradiomics while each image is loaded once and shape diameters are computed on the convex hull; :mod:`.results` for
what it returns, :mod:`.patches` for what it changes in pyradiomics, :mod:`.pyradiomics_logging` for how pyradiomics'
log reaches the application.
"""

from . import pyradiomics_logging  # noqa: F401 - first: pyradiomics is imported there, its logging set up (see there)
from .batch import BatchExtractor, ExtractionJob, JobResult, default_workers, run_batch
from .defaults import CT_PARAMS, MR_PARAMS, PET_PARAMS, default_params
from .extract import Extractor
from .patches import FastRadiomicsShape
from .params import InvalidParameters, dump_params, effective_params, load_params, params_hash, validate_params
from .regions import RegionError, peritumoral_ring, peritumoral_rings, ring_name, with_rings
from .results import ExtractionError, FeatureResult, Provenance, image_sha256, library_versions

__all__ = [
    "BatchExtractor", "ExtractionJob", "JobResult", "default_workers", "run_batch",
    "CT_PARAMS", "MR_PARAMS", "PET_PARAMS", "default_params",
    "ExtractionError", "Extractor", "FastRadiomicsShape", "FeatureResult", "Provenance", "image_sha256",
    "library_versions",
    "InvalidParameters", "dump_params", "effective_params", "load_params", "params_hash", "validate_params",
    "RegionError", "peritumoral_ring", "peritumoral_rings", "ring_name", "with_rings",
]
