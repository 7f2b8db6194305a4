"""Radiomics feature extraction for all lesions of one image, with pyradiomics' own numbers.

:class:`Extractor` wraps pyradiomics (``RadiomicsFeatureExtractor``) and produces the same feature values under the
same names, but organises the work per *image* instead of per (image, mask) pair:

* the image is read, hashed and (if ``normalize``) normalised **once** for all of its lesions;
* each lesion's bounding box is found with numpy on the mask, and image and mask are cropped to the box plus
  ``padDistance`` voxels -- exactly the crop stock pyradiomics makes with ``preCrop: true``
  (``featureextractor.loadImage`` -> ``imageoperations.cropToTumorMask(image, mask, bb, padDistance=...)``) -- before
  any filter runs, so LoG/wavelet/etc. see the same input as in stock preCrop mode. With resampling enabled, stock's
  own ``imageoperations.resampleImage`` is called (it crops to the box plus ``padDistance`` in the new grid);
* without ``preCrop`` and without resampling, stock pyradiomics filters the *whole* image; we then run each filter
  once per image and crop the result for every lesion, which gives stock's non-preCrop numbers while filtering once;
* the shape class is pyradiomics' ``RadiomicsShape`` with only its C mesh-coefficient call replaced by
  :func:`~imaging.compute.radiomics.fast_shape.mesh_coefficients` (same surface area, volume and maximum diameters,
  without the all-pairs diameter loop);
* the six texture classes are pyradiomics' own; the only change is that the ROI's grey-level discretisation
  (``imageoperations.binImage``), which each class would redo identically in its ``__init__``, is computed once per
  image type and shared (reused only when image values, ROI and bin settings are equal);
* work that stock repeats per call on the full-size volumes only to produce diagnostics (SHA-1 of image and mask,
  label statistics, connected components) is done once per image, or on the cropped region.

Errors are per lesion: an empty mask, a label that is absent, a region too small for pyradiomics' checks, a geometry
mismatch or a feature that comes out NaN yields a :class:`FeatureResult` whose ``error`` is an
:class:`ExtractionError` with a readable reason; the other lesions of the image are unaffected.

The results (:class:`FeatureResult`, :class:`Provenance`, :class:`ExtractionError`) are in :mod:`.results`, the changed
pyradiomics classes and the per-region log capture in :mod:`.patches`.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import time
import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk
from radiomics import getFeatureClasses, imageoperations
from radiomics.featureextractor import RadiomicsFeatureExtractor
from radiomics.generalinfo import GeneralInfo
from scipy import ndimage

from .params import InvalidParameters, params_hash, validate_params
from .patches import _BINNING_CACHE, FastRadiomicsShape, _capture_radiomics_log, _LogCapture, _with_shared_binning
from .results import ExtractionError, FeatureResult, Provenance, image_sha256, library_versions

__all__ = ["Extractor"]

logger = logging.getLogger(__name__)


# Filters whose output does not depend on the mask: computed once per image when stock would filter the whole image.
_MASK_INDEPENDENT_IMAGE_TYPES = {
    "Original", "LoG", "Wavelet", "Square", "SquareRoot", "Logarithm", "Exponential", "Gradient", "LBP2D",
}


def _read(source, what: str) -> sitk.Image:
    if isinstance(source, sitk.Image):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise ExtractionError(f"{what} file {path!r} does not exist", stage="load")
        try:
            return sitk.ReadImage(path)
        except RuntimeError as exc:
            raise ExtractionError(f"cannot read {what} {path!r}: {str(exc).strip().splitlines()[-1]}",
                                  stage="load") from exc
    raise ExtractionError(f"{what} must be a SimpleITK.Image or a file path, got {type(source).__name__}",
                          stage="load")


def _source_key(source) -> Any:
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else id(source)


def _bbox(hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper (inclusive) index of True voxels, numpy (z, y, x) order."""
    lower, upper = [], []
    for axis in range(hits.ndim):
        other = tuple(a for a in range(hits.ndim) if a != axis)
        idx = np.flatnonzero(hits.any(axis=other))
        lower.append(idx[0])
        upper.append(idx[-1])
    return np.array(lower), np.array(upper)


def _same_geometry(image: sitk.Image, mask: sitk.Image) -> bool:
    """Conservative version of ITK's "same physical space" check (only used to choose the fast path)."""
    if image.GetSize() != mask.GetSize() or image.GetDimension() != mask.GetDimension():
        return False
    coord_tol = 0.5 * sitk.ProcessObject.GetGlobalDefaultCoordinateTolerance() * abs(image.GetSpacing()[0])
    dir_tol = 0.5 * sitk.ProcessObject.GetGlobalDefaultDirectionTolerance()
    return (np.allclose(image.GetOrigin(), mask.GetOrigin(), rtol=0, atol=coord_tol)
            and np.allclose(image.GetSpacing(), mask.GetSpacing(), rtol=0, atol=coord_tol)
            and np.allclose(image.GetDirection(), mask.GetDirection(), rtol=0, atol=dir_tol))


def _crop(image: sitk.Image, lower_xyz, upper_xyz) -> sitk.Image:
    """Crop to the inclusive index range [lower, upper] (x, y, z order) -- the CropImageFilter call stock makes."""
    size = np.array(image.GetSize())
    cif = sitk.CropImageFilter()
    cif.SetLowerBoundaryCropSize([int(v) for v in lower_xyz])
    cif.SetUpperBoundaryCropSize([int(v) for v in (size - np.asarray(upper_xyz) - 1)])
    return cif.Execute(image)


def _ndimage_volume_count(hits: np.ndarray) -> int:
    structure = np.ones((3,) * hits.ndim, dtype=bool)  # 26-connectivity, as pyradiomics' FullyConnectedOn
    return int(ndimage.label(hits, structure=structure)[1])


@dataclass
class _ImageContext:
    image: sitk.Image
    prepared: sitk.Image
    sha256: str
    diagnostics: dict[str, Any]
    load_s: float
    prepare_s: float


@dataclass
class _Lesion:
    key: Hashable
    label: int
    settings: dict[str, Any]
    result: FeatureResult
    mask_sha256: str | None = None
    image_r: sitk.Image | None = None  # image cropped to bbox + padDistance (or resampled region)
    mask_r: sitk.Image | None = None  # UInt32 mask on the same grid
    region_lower_xyz: np.ndarray | None = None  # where image_r sits in the full image (None when resampled)
    region_upper_xyz: np.ndarray | None = None
    bbox: np.ndarray | None = None  # stock boundingBox (L_x, U_x, L_y, U_y, L_z, U_z) on image_r
    feature_mask: sitk.Image | None = None
    shape_mask: sitk.Image | None = None
    errors_logged: list[str] = field(default_factory=list)
    t_mask: float = 0.0
    t_shape: float = 0.0
    t_features: float = 0.0


class Extractor:
    """Extract pyradiomics features for all lesions (and other regions) of one image.

    Parameters
    ----------
    params : mapping, optional
        pyradiomics parameter set (``setting``/``imageType``/``featureClass``), validated with pyradiomics' schema by
        :meth:`fit`. ``None`` is the same as ``{}``: pyradiomics' defaults as for an empty parameter file (Original
        image, every feature class -- shape2D included, which pyradiomics skips with a warning unless ``force2D``).
    fast_shape : bool
        Use :class:`FastRadiomicsShape` (exact, faster mesh diameters) instead of pyradiomics' ``RadiomicsShape``.
    check_finite : bool
        Report a region whose features contain NaN/inf (pyradiomics sets NaN when a feature raises) as an
        :class:`ExtractionError` instead of returning NaN silently.

    Attributes
    ----------
    params_ : dict
        Validated parameters.
    params_hash_ : str
        :func:`~imaging.compute.radiomics.params.params_hash` of ``params_``.
    settings_ : dict
        Effective pyradiomics settings (defaults filled in, as ``RadiomicsFeatureExtractor.settings``).
    image_types_ : dict
        Enabled image types and their custom settings.
    feature_classes_ : dict
        Enabled feature classes and features.
    versions_ : dict
        :func:`library_versions`.

    Examples
    --------
    >>> extractor = Extractor(default_params("CT")).fit()                       # doctest: +SKIP
    >>> results = extractor.extract(ct, {"L1": mask1, "L2": mask2})            # doctest: +SKIP
    >>> results["L1"].raise_for_error().features["original_shape_Maximum3DDiameter"]  # doctest: +SKIP
    """

    def __init__(self, params: Mapping[str, Any] | None = None, *, fast_shape: bool = True,
                 check_finite: bool = True):
        self.params = params
        self.fast_shape = fast_shape
        self.check_finite = check_finite

    # ------------------------------------------------------------------ configuration
    def fit(self) -> Extractor:
        """Validate the parameters and build the pyradiomics configuration. Returns ``self``.

        Raises
        ------
        InvalidParameters
        """
        self.params_ = validate_params(self.params or {})
        self.params_hash_ = params_hash(self.params_)
        with warnings.catch_warnings():  # pykwalify's deprecated load_module(), as in params.validate_params
            warnings.filterwarnings("ignore", message=r".*load_module\(\) method is deprecated",
                                    category=DeprecationWarning)
            rfe = RadiomicsFeatureExtractor(self.params_)  # stock parsing: defaults, image types, feature classes
        self._rfe = rfe
        self.settings_ = dict(rfe.settings)
        self.image_types_ = {k: dict(v or {}) for k, v in rfe.enabledImagetypes.items()}
        self.feature_classes_ = dict(rfe.enabledFeatures)
        self.versions_ = library_versions()
        self._check_filter_dependencies()
        return self

    def _check_filter_dependencies(self) -> None:
        """pyradiomics silently yields no LBP image when its optional dependencies are missing; we refuse instead."""
        import importlib.util

        needs = {"LBP2D": ["skimage"], "LBP3D": ["scipy", "trimesh"]}
        problems = []
        for image_type, modules in needs.items():
            if image_type in self.image_types_:
                missing = [m for m in modules if importlib.util.find_spec(m) is None]
                if missing:
                    problems.append(f"imageType.{image_type}: needs {', '.join(missing)} (not installed); "
                                    "pyradiomics would silently compute no features for it")
        if problems:
            raise InvalidParameters(problems)

    def _check_fitted(self):
        if not hasattr(self, "params_"):
            self.fit()

    @property
    def _resamples(self) -> bool:
        s = self.settings_
        return s.get("interpolator") is not None and s.get("resampledPixelSpacing") is not None

    @property
    def _filters_whole_image(self) -> bool:
        """Stock pyradiomics filters the whole image (no preCrop, no resampling) and some filter is enabled."""
        return (not self._resamples and not self.settings_.get("preCrop", False)
                and any(name != "Original" for name in self.image_types_))

    # ------------------------------------------------------------------ public API
    def extract(self, image: sitk.Image | str | os.PathLike,
                masks: Mapping[Hashable, sitk.Image | str | os.PathLike],
                label: int | Mapping[Hashable, int] = 1) -> dict[Hashable, FeatureResult]:
        """Features for every region of one image, loading and preparing the image once.

        Parameters
        ----------
        image : SimpleITK.Image or path
        masks : mapping of key to SimpleITK.Image or path
            One label map per region (lesion, peritumoral ring, ...), each with the image's geometry (or, with
            ``correctMask``/resampling, any geometry pyradiomics accepts).
        label : int or mapping of key to int
            Label value of the region in its mask (one for all, or per key; missing keys use
            ``settings_["label"]``).

        Returns
        -------
        dict of key to FeatureResult
            In the order of ``masks``. Never raises for a single region's problem: see ``FeatureResult.error``.

        Raises
        ------
        InvalidParameters
            If the parameters are invalid (checked once, before any image is touched).
        """
        self._check_fitted()
        t_start = time.perf_counter()
        results: dict[Hashable, FeatureResult] = {}
        lesions: list[_Lesion] = []

        try:
            ctx = self._prepare_image(image)
        except ExtractionError as exc:
            for key in masks:
                results[key] = FeatureResult(key=key, error=ExtractionError(exc.reason, key=key, stage=exc.stage))
            return results
        except Exception as exc:  # noqa: BLE001 - a broken image must not crash the batch
            reason = f"cannot prepare image: {type(exc).__name__}: {exc}"
            for key in masks:
                results[key] = FeatureResult(key=key, error=ExtractionError(reason, key=key, stage="preprocess"))
            return results

        # A multi-label mask may serve several regions (different labels): read and hash it once, keep it only
        # until its last use (a full-size mask per lesion would otherwise stay in memory for the whole image).
        uses = collections.Counter(_source_key(m) for m in masks.values())
        mask_cache: dict[Any, tuple[sitk.Image, str]] = {}
        by_key: dict[Hashable, _Lesion] = {}
        for key, mask in masks.items():
            lbl = label.get(key, self.settings_.get("label", 1)) if isinstance(label, Mapping) else label
            lesion = _Lesion(key=key, label=int(lbl), settings=dict(self.settings_, label=int(lbl)),
                             result=FeatureResult(key=key))
            results[key] = lesion.result
            by_key[key] = lesion
            t0 = time.perf_counter()
            try:
                with _capture_radiomics_log() as captured:
                    try:
                        self._prepare_lesion(ctx, lesion, mask, mask_cache)
                    finally:
                        self._collect(lesion, captured)
                lesions.append(lesion)
            except Exception as exc:  # noqa: BLE001
                self._fail(lesion, exc, default_stage="mask")
            source_key = _source_key(mask)
            uses[source_key] -= 1
            if uses[source_key] == 0:
                mask_cache.pop(source_key, None)
            lesion.t_mask = time.perf_counter() - t0

        for lesion in lesions:
            t0 = time.perf_counter()
            try:
                with _capture_radiomics_log() as captured:
                    try:
                        lesion.result.features.update(self._compute_shape(lesion))
                    finally:
                        self._collect(lesion, captured)
            except Exception as exc:  # noqa: BLE001
                self._fail(lesion, exc, default_stage="shape")
            lesion.t_shape = time.perf_counter() - t0

        live = [lesion for lesion in lesions if lesion.result.error is None]
        if self._filters_whole_image:
            self._features_whole_image(ctx, live)
        else:
            for lesion in live:
                t0 = time.perf_counter()
                try:
                    with _capture_radiomics_log() as captured:
                        try:
                            self._features_per_lesion(lesion)
                        finally:
                            self._collect(lesion, captured)
                except Exception as exc:  # noqa: BLE001
                    self._fail(lesion, exc, default_stage="features")
                lesion.t_features += time.perf_counter() - t0

        n_regions = max(len(masks), 1)
        for key, lesion in by_key.items():
            result = lesion.result
            result.provenance = self._provenance(ctx, lesion.mask_sha256, lesion.label)
            result.diagnostics = {**ctx.diagnostics, **result.diagnostics}
            result.timings.update({
                "image_load": ctx.load_s,
                "image_prepare": ctx.prepare_s,
                "mask": lesion.t_mask,
                "shape": lesion.t_shape,
                "features": lesion.t_features,
            })
            # This region's share of the wall time: shared image work split evenly between the image's regions.
            result.timings["total"] = ((ctx.load_s + ctx.prepare_s) / n_regions + lesion.t_mask + lesion.t_shape
                                       + lesion.t_features)
            self._check_values(lesion)
            lesion.image_r = lesion.mask_r = lesion.feature_mask = lesion.shape_mask = None
        logger.debug("extracted %d region(s) in %.3f s", len(masks), time.perf_counter() - t_start)
        return results

    def extract_one(self, image: sitk.Image | str | os.PathLike, mask: sitk.Image | str | os.PathLike,
                    label: int = 1, key: Hashable = "roi") -> FeatureResult:
        """Features of a single region; raises :class:`ExtractionError` instead of returning a failed result."""
        return self.extract(image, {key: mask}, label=label)[key].raise_for_error()

    # ------------------------------------------------------------------ image level
    def _prepare_image(self, source) -> _ImageContext:
        t0 = time.perf_counter()
        image = _read(source, "image")
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if image.GetNumberOfComponentsPerPixel() != 1:
            raise ExtractionError("image has more than one component per pixel; pyradiomics needs a scalar image",
                                  stage="load")
        digest = image_sha256(image)
        arr = sitk.GetArrayViewFromImage(image)
        diagnostics = {
            "diagnostics_Image-original_Dimensionality": "%iD" % image.GetDimension(),
            "diagnostics_Image-original_Spacing": image.GetSpacing(),
            "diagnostics_Image-original_Size": image.GetSize(),
            "diagnostics_Image-original_Mean": float(np.mean(arr, dtype=np.float64)),
            "diagnostics_Image-original_Minimum": float(np.min(arr)),
            "diagnostics_Image-original_Maximum": float(np.max(arr)),
        }
        prepared = image
        if self.settings_.get("normalize", False):
            # Whole-image statistics: done once per image, exactly as stock loadImage does before cropping.
            prepared = imageoperations.normalizeImage(image, **self.settings_)
        return _ImageContext(image=image, prepared=prepared, sha256=digest, diagnostics=diagnostics,
                             load_s=load_s, prepare_s=time.perf_counter() - t0)

    # ------------------------------------------------------------------ lesion level
    def _prepare_lesion(self, ctx: _ImageContext, lesion: _Lesion, source, cache: dict) -> None:
        settings = lesion.settings
        label = lesion.label
        cache_key = _source_key(source)
        if cache_key not in cache:
            loaded = _read(source, "mask")
            cache[cache_key] = (loaded, image_sha256(loaded))
        mask, lesion.mask_sha256 = cache[cache_key]

        # Segmentation objects stored as vector images: pick the channel, as stock getMask does.
        if "vector" in mask.GetPixelIDTypeAsString().lower():
            channel = int(settings.get("label_channel", 0))
            n = mask.GetNumberOfComponentsPerPixel()
            if channel >= n:
                raise ExtractionError(f"label_channel {channel} requested but the mask has {n} channel(s)",
                                      stage="mask")
            mask = sitk.VectorIndexSelectionCast(mask, channel)
        if "float" in mask.GetPixelIDTypeAsString().lower():
            mask = sitk.Cast(mask, sitk.sitkUInt32)  # stock casts first; float labels are truncated
        arr = sitk.GetArrayViewFromImage(mask)
        hits = arr == label
        if not hits.any():
            present = np.unique(arr[arr != 0]) if arr.size <= 50_000_000 else np.array([])
            if present.size == 0:
                detail = "the mask is empty"
            else:
                shown = ", ".join(str(v) for v in present[:10].tolist()) + (", ..." if present.size > 10 else "")
                detail = f"labels present: {shown}"
            raise ExtractionError(f"mask has no voxels with label {label} ({detail})", stage="mask")

        lower_zyx, upper_zyx = _bbox(hits)
        roi = hits[tuple(slice(lo, up + 1) for lo, up in zip(lower_zyx, upper_zyx))]
        com_zyx = np.array([c.mean() for c in np.nonzero(roi)]) + lower_zyx
        com_index = tuple(float(v) for v in com_zyx[::-1])
        lesion.result.diagnostics.update({
            "diagnostics_Mask-original_Spacing": mask.GetSpacing(),
            "diagnostics_Mask-original_Size": mask.GetSize(),
            "diagnostics_Mask-original_BoundingBox": tuple(int(v) for v in lower_zyx[::-1]) + tuple(
                int(v) for v in (upper_zyx - lower_zyx + 1)[::-1]),
            "diagnostics_Mask-original_VoxelNum": int(roi.sum()),
            "diagnostics_Mask-original_VolumeNum": _ndimage_volume_count(roi),
            "diagnostics_Mask-original_CenterOfMassIndex": com_index,
            "diagnostics_Mask-original_CenterOfMass": mask.TransformContinuousIndexToPhysicalPoint(com_index),
        })

        image = ctx.prepared
        info = GeneralInfo()  # stock diagnostics, only ever fed the small cropped images
        if self._resamples:
            mask32 = sitk.Cast(mask, sitk.sitkUInt32)
            image_r, mask_r = imageoperations.resampleImage(image, mask32, **settings)
            info.addImageElements(image_r, "interpolated")
            info.addMaskElements(image_r, mask_r, label, "interpolated")
        else:
            if not _same_geometry(image, mask):
                # Slow path, stock semantics: geometry mismatch is an error unless correctMask resamples the mask.
                mask32 = sitk.Cast(mask, sitk.sitkUInt32)
                bb, corrected = imageoperations.checkMask(image, mask32, **settings)
                if corrected is None:
                    raise ExtractionError("mask geometry does not match the image", stage="mask")
                info.addMaskElements(image, corrected, label, "corrected")
                mask = corrected
                lower_xyz, upper_xyz = np.asarray(bb[0::2]), np.asarray(bb[1::2])
            else:
                lower_xyz, upper_xyz = lower_zyx[::-1], upper_zyx[::-1]
            pad = int(settings.get("padDistance", 0))
            size = np.array(image.GetSize())
            lesion.region_lower_xyz = np.maximum(lower_xyz - pad, 0)
            lesion.region_upper_xyz = np.minimum(upper_xyz + pad, size - 1)
            image_r = _crop(image, lesion.region_lower_xyz, lesion.region_upper_xyz)
            mask_r = sitk.Cast(_crop(mask, lesion.region_lower_xyz, lesion.region_upper_xyz), sitk.sitkUInt32)

        # From here on: stock RadiomicsFeatureExtractor.execute on the cropped region.
        bb, corrected = imageoperations.checkMask(image_r, mask_r, **settings)
        if corrected is not None:
            mask_r = corrected
        resegmented = None
        if settings.get("resegmentRange") is not None:
            resegmented = imageoperations.resegmentMask(image_r, mask_r, **settings)
            bb, _ = imageoperations.checkMask(image_r, resegmented, **settings)
            info.addMaskElements(image_r, resegmented, label, "resegmented")
        lesion.image_r = image_r
        lesion.mask_r = mask_r
        lesion.bbox = bb
        resegment_shape = settings.get("resegmentShape", False)
        lesion.shape_mask = resegmented if (resegment_shape and resegmented is not None) else mask_r
        lesion.feature_mask = resegmented if resegmented is not None else mask_r
        lesion.result.diagnostics.update(
            {k: v for k, v in info.getGeneralInfo().items() if not k.startswith("diagnostics_Versions")})

    def _compute_shape(self, lesion: _Lesion) -> dict[str, float]:
        """Stock ``RadiomicsFeatureExtractor.computeShape`` with :class:`FastRadiomicsShape` for the 3-D class."""
        features: dict[str, float] = collections.OrderedDict()
        enabled = self.feature_classes_
        if "shape" not in enabled and "shape2D" not in enabled:
            return features
        settings = lesion.settings
        bb = lesion.bbox
        cropped_image, cropped_mask = imageoperations.cropToTumorMask(lesion.image_r, lesion.shape_mask, bb)
        classes = getFeatureClasses()

        def compute(shape_type):
            if shape_type == "shape" and self.fast_shape:
                cls = FastRadiomicsShape
            else:
                cls = classes[shape_type]
            shape_class = cls(cropped_image, cropped_mask, **settings)
            names = enabled[shape_type]
            if names is not None:
                for name in names:
                    shape_class.enableFeatureByName(name)
            for name, value in shape_class.execute().items():
                features["original_%s_%s" % (shape_type, name)] = value

        nd = lesion.shape_mask.GetDimension()
        if "shape" in enabled:
            if nd == 3:
                compute("shape")
            else:
                lesion.result.warnings.append(f"shape features need 3-D input (found {nd}-D); use shape2D")
        if "shape2D" in enabled:
            if nd == 3:
                force2d = settings.get("force2D", False)
                dim = settings.get("force2Ddimension", 0)
                if not force2d:
                    lesion.result.warnings.append("shape2D requested but force2D is false; pyradiomics skips it")
                elif not (bb[1::2] - bb[0::2] + 1)[dim] > 1:
                    # Stock's test, verbatim: it indexes the (x, y, z) bounding-box size with force2Ddimension,
                    # which counts (z, y, x) elsewhere; kept as is so that we skip exactly when stock skips.
                    lesion.result.warnings.append(
                        f"shape2D skipped by pyradiomics' bounding-box check for force2Ddimension={dim}")
                else:
                    compute("shape2D")
            elif nd == 2:
                compute("shape2D")
            else:
                lesion.result.warnings.append(f"shape2D needs 2-D or 3-D input (found {nd}-D)")
        return features

    def _image_type_args(self, lesion: _Lesion, image_type: str) -> dict[str, Any]:
        args = dict(lesion.settings)
        args.update(self.image_types_[image_type])
        return args

    def _compute_on(self, lesion: _Lesion, filtered: sitk.Image, type_name: str, kwargs: dict) -> None:
        kwargs = dict(kwargs, label=lesion.label)
        image, mask = imageoperations.cropToTumorMask(filtered, lesion.feature_mask, lesion.bbox, padDistance=0)
        lesion.result.features.update(self._compute_feature_classes(image, mask, type_name, **kwargs))

    def _compute_feature_classes(self, image: sitk.Image, mask: sitk.Image, type_name: str, **kwargs):
        """Stock ``RadiomicsFeatureExtractor.computeFeatures``, with the ROI discretised once for all classes."""
        features: dict[str, float] = collections.OrderedDict()
        classes = getFeatureClasses()
        token = _BINNING_CACHE.set({})
        try:
            for class_name, names in self.feature_classes_.items():
                if class_name.startswith("shape") or class_name not in classes:
                    continue
                feature_class = _with_shared_binning(classes[class_name])(image, mask, **kwargs)
                if names is not None:
                    for name in names:
                        feature_class.enableFeatureByName(name)
                for name, value in feature_class.execute().items():
                    features["%s_%s_%s" % (type_name, class_name, name)] = value
        finally:
            _BINNING_CACHE.reset(token)
        return features

    def _features_per_lesion(self, lesion: _Lesion) -> None:
        for image_type in self.image_types_:
            args = self._image_type_args(lesion, image_type)
            generator = getattr(imageoperations, "get%sImage" % image_type)
            for filtered, type_name, kwargs in generator(lesion.image_r, lesion.feature_mask, **args):
                self._compute_on(lesion, filtered, type_name, kwargs)

    def _features_whole_image(self, ctx: _ImageContext, lesions: list[_Lesion]) -> None:
        """Stock non-preCrop semantics: filters see the whole image; each filter runs once for all lesions."""
        if not lesions:
            return
        for image_type in self.image_types_:
            generator = getattr(imageoperations, "get%sImage" % image_type)
            if image_type in _MASK_INDEPENDENT_IMAGE_TYPES:
                alive = [x for x in lesions if x.result.error is None]
                if not alive:
                    return
                args = self._image_type_args(alive[0], image_type)
                # These filters ignore their mask argument; label is re-set per lesion in _compute_on.
                stream = generator(ctx.prepared, alive[0].feature_mask, **args)
                while True:
                    t_filter = time.perf_counter()
                    try:
                        with _capture_radiomics_log() as captured:
                            try:
                                filtered, type_name, kwargs = next(stream)
                            finally:
                                for lesion in alive:  # e.g. a skipped sigma concerns every lesion
                                    self._collect(lesion, captured)
                    except StopIteration:
                        break
                    except Exception as exc:  # noqa: BLE001 - a filter failure fails every lesion of the image
                        for lesion in alive:
                            self._fail(lesion, exc, default_stage="features")
                        return
                    share = (time.perf_counter() - t_filter) / len(alive)
                    for lesion in alive:
                        if lesion.result.error is not None:
                            continue
                        t1 = time.perf_counter()
                        try:
                            region = _crop(filtered, lesion.region_lower_xyz, lesion.region_upper_xyz)
                            with _capture_radiomics_log() as captured:
                                try:
                                    self._compute_on(lesion, region, type_name, kwargs)
                                finally:
                                    self._collect(lesion, captured)
                        except Exception as exc:  # noqa: BLE001
                            self._fail(lesion, exc, default_stage="features")
                        lesion.t_features += time.perf_counter() - t1 + share
            else:
                # Mask-dependent filters (LBP3D): per lesion, on the whole image with the lesion's full-size mask.
                for lesion in lesions:
                    if lesion.result.error is not None:
                        continue
                    t1 = time.perf_counter()
                    try:
                        args = self._image_type_args(lesion, image_type)
                        full_mask = self._full_size_mask(ctx, lesion)
                        with _capture_radiomics_log() as captured:
                            try:
                                for filtered, type_name, kwargs in generator(ctx.prepared, full_mask, **args):
                                    region = _crop(filtered, lesion.region_lower_xyz, lesion.region_upper_xyz)
                                    self._compute_on(lesion, region, type_name, kwargs)
                            finally:
                                self._collect(lesion, captured)
                    except Exception as exc:  # noqa: BLE001
                        self._fail(lesion, exc, default_stage="features")
                    lesion.t_features += time.perf_counter() - t1

    @staticmethod
    def _full_size_mask(ctx: _ImageContext, lesion: _Lesion) -> sitk.Image:
        """The lesion's (resegmented) mask pasted back into an image-sized UInt32 volume."""
        full = sitk.Image(ctx.prepared.GetSize(), sitk.sitkUInt32)
        full.CopyInformation(ctx.prepared)
        return sitk.Paste(full, lesion.feature_mask, lesion.feature_mask.GetSize(), [0] * full.GetDimension(),
                          [int(v) for v in lesion.region_lower_xyz])

    # ------------------------------------------------------------------ results
    def _provenance(self, ctx: _ImageContext, mask_sha256: str | None, label: int) -> Provenance:
        v = self.versions_
        return Provenance(pyradiomics=v["pyradiomics"], numpy=v["numpy"], simpleitk=v["simpleitk"],
                          pywavelets=v["pywavelets"], scipy=v["scipy"], python=v["python"],
                          extractor=v["extractor"], params_hash=self.params_hash_, image_sha256=ctx.sha256,
                          mask_sha256=mask_sha256, label=label, fast_shape=self.fast_shape)

    @staticmethod
    def _collect(lesion: _Lesion, captured: _LogCapture) -> None:
        lesion.errors_logged.extend(captured.errors)
        for text in captured.warnings:
            note = f"pyradiomics: {text}"
            if note not in lesion.result.warnings:
                lesion.result.warnings.append(note)

    def _fail(self, lesion: _Lesion, exc: BaseException, default_stage: str) -> None:
        if isinstance(exc, ExtractionError):
            error = ExtractionError(exc.reason, key=lesion.key, stage=exc.stage or default_stage)
        elif isinstance(exc, ValueError):
            # pyradiomics' own checks raise ValueError with readable text (e.g. "mask only contains 1 segmented
            # voxel! Cannot extract features for a single voxel.")
            error = ExtractionError(str(exc), key=lesion.key, stage=default_stage)
        else:
            error = ExtractionError(f"{type(exc).__name__}: {exc}", key=lesion.key, stage=default_stage)
        lesion.result.error = error

    def _check_values(self, lesion: _Lesion) -> None:
        features = lesion.result.features
        for name, value in list(features.items()):
            features[name] = float(value)
        if not self.check_finite or lesion.result.error is not None:
            return
        bad = [name for name, value in features.items() if not math.isfinite(value)]
        if bad:
            shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            logged = "; ".join(dict.fromkeys(lesion.errors_logged)) or "no error was logged"
            lesion.result.error = ExtractionError(
                f"{len(bad)} feature value(s) are not finite ({shown}); pyradiomics reported: {logged}",
                key=lesion.key, stage="validate")
