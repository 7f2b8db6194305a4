"""What we change in pyradiomics, and how we listen to it while it works on one region.

* :class:`FastRadiomicsShape` - pyradiomics' 3-D shape class with its C mesh-coefficient call replaced by
  :func:`~imaging.compute.radiomics.fast_shape.mesh_coefficients` (same numbers, faster);
* :func:`_with_shared_binning` - a pyradiomics texture class whose ROI discretisation is computed once per image type
  and shared between the six classes (reused only when inputs and settings are equal);
* :func:`_capture_radiomics_log` - the errors and ``imageoperations`` warnings pyradiomics logs for a region,
  collected for its :class:`~imaging.compute.radiomics.results.FeatureResult`.

How pyradiomics' log reaches the application is set up once, in :mod:`.pyradiomics_logging`.
Pure Python/numpy/SimpleITK; no Django imports.
"""

from __future__ import annotations

import contextvars
import logging
from contextlib import contextmanager

import numpy as np
import SimpleITK as sitk
from radiomics import base as _rad_base
from radiomics import imageoperations
from radiomics import shape as _rad_shape

from .fast_shape import mesh_coefficients

__all__ = ["FastRadiomicsShape"]

logger = logging.getLogger(__name__)  # FastRadiomicsShape logs under this module's name, as pyradiomics' classes do


class FastRadiomicsShape(_rad_shape.RadiomicsShape):
    """pyradiomics' 3-D shape class with the C mesh-coefficient call replaced by an exact, faster one.

    ``_initSegmentBasedCalculation`` is pyradiomics 3.1's, line for line, except that
    ``cShape.calculate_coefficients(maskArray, pixelSpacing)`` is replaced by
    :func:`~imaging.compute.radiomics.fast_shape.mesh_coefficients` (identical surface area, mesh volume and the four
    maximum diameters; see that module for why the numbers are the same). All feature formulas are inherited.
    """

    def _initSegmentBasedCalculation(self):
        self.pixelSpacing = np.array(self.inputImage.GetSpacing()[::-1])

        # Pad inputMask to prevent index-out-of-range errors (as pyradiomics does)
        cpif = sitk.ConstantPadImageFilter()
        padding = np.tile(1, 3)
        cpif.SetPadLowerBound(padding.tolist())
        cpif.SetPadUpperBound(padding.tolist())
        self.inputMask = cpif.Execute(self.inputMask)

        self.maskArray = (sitk.GetArrayFromImage(self.inputMask) == self.label)
        self.labelledVoxelCoordinates = np.where(self.maskArray != 0)

        self.SurfaceArea, self.Volume, self.diameters = mesh_coefficients(self.maskArray, self.pixelSpacing)

        Np = len(self.labelledVoxelCoordinates[0])
        coordinates = np.array(self.labelledVoxelCoordinates, dtype='int').transpose((1, 0))
        physicalCoordinates = coordinates * self.pixelSpacing[None, :]
        physicalCoordinates -= np.mean(physicalCoordinates, axis=0)
        physicalCoordinates /= np.sqrt(Np)
        covariance = np.dot(physicalCoordinates.T.copy(), physicalCoordinates)
        self.eigenValues = np.linalg.eigvals(covariance)

        machine_errors = np.bitwise_and(self.eigenValues < 0, self.eigenValues > -1e-10)
        if np.sum(machine_errors) > 0:
            self.logger.warning('Encountered %d eigenvalues < 0 and > -1e-10, rounding to 0', np.sum(machine_errors))
            self.eigenValues[machine_errors] = 0

        self.eigenValues.sort()
        self.logger.debug('Shape feature class initialized')


_BINNING_CACHE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("radimmuno_binning_cache",
                                                                            default=None)


def _shared_binning_apply(self, matrix):
    """``RadiomicsFeaturesBase._applyBinning`` computed once per (image, mask, bin settings) and shared.

    pyradiomics' six texture classes each discretise the very same ROI with the very same settings in their
    ``__init__`` (``imageoperations.binImage`` + ``numpy.unique``). Within one image type we compute that once with
    pyradiomics' own ``binImage`` and hand every class a private copy. The cache entry is reused only if the input
    matrix, the ROI mask and the bin settings are *equal* to those it was computed from, so the result is the one
    pyradiomics would have computed.
    """
    cache = _BINNING_CACHE.get()
    if cache is None:
        return _rad_base.RadiomicsFeaturesBase._applyBinning(self, matrix)
    bin_key = (self.settings.get("binWidth", 25), self.settings.get("binCount"))
    entry = cache.get("binning")
    if not (entry is not None and entry["bin_key"] == bin_key and entry["matrix"].shape == matrix.shape
            and entry["matrix"].dtype == matrix.dtype and np.array_equal(entry["mask"], self.maskArray)
            and np.array_equal(entry["matrix"], matrix)):
        binned, _ = imageoperations.binImage(matrix, self.maskArray, **self.settings)
        gray_levels = np.unique(binned[self.maskArray])
        entry = {"bin_key": bin_key, "matrix": matrix.copy(), "mask": self.maskArray.copy(), "binned": binned,
                 "gray_levels": gray_levels}
        cache["binning"] = entry
    self.coefficients["grayLevels"] = entry["gray_levels"].copy()
    self.coefficients["Ng"] = int(np.max(self.coefficients["grayLevels"]))
    return entry["binned"].copy()


_SHARED_BINNING_CLASSES: dict[type, type] = {}


def _with_shared_binning(cls: type) -> type:
    """Subclass of a pyradiomics feature class whose only change is :func:`_shared_binning_apply`."""
    if cls not in _SHARED_BINNING_CLASSES:
        _SHARED_BINNING_CLASSES[cls] = type(cls.__name__, (cls,), {
            "_applyBinning": _shared_binning_apply,
            "__module__": cls.__module__,  # keep pyradiomics' logger names (radiomics.glcm, ...)
            "__doc__": cls.__doc__,
        })
    return _SHARED_BINNING_CLASSES[cls]


class _LogCapture(logging.Handler):
    """Collects what pyradiomics logs while it works on one region.

    * ``errors``: ERROR records -- pyradiomics logs a feature that raised ("FAILED: <traceback>") and sets it to NaN;
    * ``warnings``: WARNING records of ``radiomics.imageoperations`` -- e.g. a LoG sigma skipped because the region
      is too small, a mask resampled to the image geometry -- which would otherwise only reach stderr.
    """

    collects_only = True  # does not print: pyradiomics_logging lets pyradiomics' own handler print regardless

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def emit(self, record):
        lines = record.getMessage().strip().splitlines()
        # for "FAILED: <traceback>" the last traceback line is the exception itself
        text = lines[-1] if lines else ""
        if record.levelno >= logging.ERROR:
            self.errors.append(text)
        elif record.name == "radiomics.imageoperations":
            self.warnings.append(text)


@contextmanager
def _capture_radiomics_log():
    handler = _LogCapture()
    loggers = [logging.getLogger("radiomics"), logger]  # FastRadiomicsShape logs under this module's name
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
