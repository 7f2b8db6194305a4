"""What an extraction returns: per-region results, their provenance and the error a region can end in.

Pure Python/numpy/SimpleITK; no Django imports.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

__all__ = ["EXTRACTOR_VERSION", "ExtractionError", "FeatureResult", "Provenance", "image_sha256", "library_versions"]

# Bumped whenever the extractor's handling (extract.py, patches.py) could change a stored number.
EXTRACTOR_VERSION = "1"


class ExtractionError(Exception):
    """Features could not be extracted for one region.

    Parameters
    ----------
    reason : str
        What went wrong, in words a reader can act on (e.g. ``"mask has no voxels with label 1 (the mask is
        empty)"``).
    key : hashable, optional
        The lesion / region key this error belongs to.
    stage : str, optional
        ``"load"``, ``"mask"``, ``"preprocess"``, ``"shape"``, ``"features"`` or ``"validate"``.
    """

    def __init__(self, reason: str, *, key: Hashable | None = None, stage: str | None = None):
        self.reason = str(reason)
        self.key = key
        self.stage = stage
        super().__init__(self.reason)

    def __reduce__(self):  # picklable across worker processes, keyword arguments included
        return (_rebuild_extraction_error, (self.reason, self.key, self.stage))

    def __repr__(self) -> str:
        return f"ExtractionError({self.reason!r}, key={self.key!r}, stage={self.stage!r})"


def _rebuild_extraction_error(reason, key, stage):
    return ExtractionError(reason, key=key, stage=stage)


@dataclass(frozen=True)
class Provenance:
    """Everything needed to reproduce one result: library versions, parameter hash and input hashes."""

    pyradiomics: str
    numpy: str
    simpleitk: str
    pywavelets: str
    scipy: str
    python: str
    extractor: str
    params_hash: str
    image_sha256: str
    mask_sha256: str | None
    label: int
    fast_shape: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FeatureResult:
    """Features of one region (lesion or peritumoral ring) of one image.

    Attributes
    ----------
    key : hashable
        The key the mask was given under.
    features : dict of str to float
        pyradiomics feature names (``original_shape_Maximum3DDiameter``, ``log-sigma-1-0-mm-3D_glcm_Contrast``,
        ``wavelet-LLH_firstorder_Mean``, ...), in pyradiomics' order. Empty when extraction failed before features.
    diagnostics : dict of str to object
        A subset of pyradiomics' ``diagnostics_*`` items under the same names (bounding box, voxel count, number of
        connected volumes, centre of mass, image/ROI intensity statistics, interpolated/resegmented variants).
    timings : dict of str to float
        Seconds: ``image_load`` and ``image_prepare`` (shared by all regions of the image), ``mask``, ``shape``,
        ``features`` (filters + texture classes; shared filters are split evenly), ``total``.
    provenance : Provenance
    error : ExtractionError or None
        Set when the region failed; ``features`` may then be partial (e.g. a NaN feature is reported here, the
        finite ones are kept for inspection).
    warnings : list of str
        Non-fatal notes (e.g. shape2D requested without ``force2D``; pyradiomics skipped it).
    """

    key: Hashable
    features: dict[str, float] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    provenance: Provenance | None = None
    error: ExtractionError | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def raise_for_error(self) -> FeatureResult:
        """Raise the :class:`ExtractionError` if the region failed, else return ``self``."""
        if self.error is not None:
            raise self.error
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (tuples become lists, numpy scalars Python numbers)."""
        return _jsonable({
            "key": self.key if isinstance(self.key, (str, int)) else repr(self.key),
            "features": self.features,
            "diagnostics": self.diagnostics,
            "timings": self.timings,
            "provenance": self.provenance.to_dict() if self.provenance else None,
            "error": None if self.error is None else {"reason": self.error.reason, "stage": self.error.stage},
            "warnings": self.warnings,
        })


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def library_versions() -> dict[str, str]:
    """Versions of everything that can change a feature value."""
    import pywt
    import radiomics
    import scipy

    return {
        "pyradiomics": str(radiomics.__version__),
        "numpy": np.__version__,
        "simpleitk": sitk.Version().VersionString(),
        "pywavelets": pywt.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "extractor": EXTRACTOR_VERSION,
    }


def image_sha256(image: sitk.Image) -> str:
    """SHA-256 over the pixel type, geometry (size, spacing, origin, direction) and raw pixel bytes of ``image``."""
    header = json.dumps({
        "pixel": image.GetPixelIDTypeAsString(),
        "components": image.GetNumberOfComponentsPerPixel(),
        "size": list(image.GetSize()),
        "spacing": [repr(float(v)) for v in image.GetSpacing()],
        "origin": [repr(float(v)) for v in image.GetOrigin()],
        "direction": [repr(float(v)) for v in image.GetDirection()],
    }, sort_keys=True).encode("ascii")
    digest = hashlib.sha256(header)
    array = np.ascontiguousarray(sitk.GetArrayViewFromImage(image))
    digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()
