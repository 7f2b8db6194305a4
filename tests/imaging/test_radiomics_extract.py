"""Extractor and batch runner: same numbers as stock pyradiomics, per-lesion errors, provenance, workers."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import pytest

import SimpleITK as sitk  # noqa: E402 - required dependencies: a missing one is an error, never a skip
import radiomics  # noqa: E402

from radiomics import featureextractor  # noqa: E402

from imaging.compute.radiomics import (  # noqa: E402
    BatchExtractor,
    ExtractionError,
    ExtractionJob,
    Extractor,
    FeatureResult,
    InvalidParameters,
    image_sha256,
    params_hash,
    run_batch,
)

pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")  # pykwalify inside stock

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REL_TOL = 1e-9

# CT-style profile, lighter than the bench's to keep the suite quick: two LoG sigmas + wavelet.
FILTERED = {
    "setting": {"binWidth": 25, "sigma": [1.0, 3.0], "preCrop": True},
    "imageType": {"Original": {}, "LoG": {}, "Wavelet": {}},
}
ORIGINAL_ONLY = {"setting": {"binWidth": 25}, "imageType": {"Original": {}}}


def _data_dir() -> Path:
    return Path(os.environ.get("RADIMMUNO_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")) / "pyradiomics"


@pytest.fixture(scope="module")
def cases():
    root = _data_dir()
    needed = [f"{c}_{k}.nrrd" for c in ("breast1", "brain2") for k in ("image", "label")]
    missing = [n for n in needed if not (root / n).is_file()]
    if missing:
        pytest.skip(f"pyradiomics test data missing in {root}: {missing} (set RADIMMUNO_SHARED_DATA)")
    return {c: (root / f"{c}_image.nrrd", root / f"{c}_label.nrrd") for c in ("breast1", "brain2")}


def _stock(params, image, mask, label=1) -> dict[str, float]:
    radiomics.setVerbosity(logging.ERROR)
    out = featureextractor.RadiomicsFeatureExtractor(params).execute(image, mask, label=label)
    return {k: float(v) for k, v in out.items() if not k.startswith("diagnostics_")}


def _assert_same(ours: dict[str, float], stock: dict[str, float], what: str = "") -> None:
    assert list(ours) == list(stock), f"{what}: feature names/order differ"
    bad = [(k, ours[k], v) for k, v in stock.items() if abs(ours[k] - v) > REL_TOL * abs(v)]
    assert not bad, f"{what}: {bad[:5]}"


def _sphere_mask(reference: sitk.Image, center_xyz, radius_vox: float, value: int = 1) -> sitk.Image:
    arr = np.zeros(sitk.GetArrayViewFromImage(reference).shape, dtype=np.uint8)
    zz, yy, xx = np.indices(arr.shape)
    cx, cy, cz = center_xyz
    arr[((xx - cx) ** 2 + (yy - cy) ** 2 + ((zz - cz) * 2) ** 2) <= radius_vox ** 2] = value
    mask = sitk.GetImageFromArray(arr)
    mask.CopyInformation(reference)
    return mask


# ------------------------------------------------------------------------------------------------ errors
def _empty_like(reference: sitk.Image) -> sitk.Image:
    mask = sitk.Image(reference.GetSize(), sitk.sitkUInt8)
    mask.CopyInformation(reference)
    return mask


def test_empty_mask_is_an_extraction_error_with_a_clear_reason(cases):
    image = sitk.ReadImage(str(cases["breast1"][0]))
    result = Extractor(ORIGINAL_ONLY).extract(image, {"empty": _empty_like(image)})["empty"]
    assert not result.ok and isinstance(result.error, ExtractionError)
    assert result.error.reason == "mask has no voxels with label 1 (the mask is empty)"
    assert result.error.key == "empty" and result.error.stage == "mask"
    assert result.features == {}
    with pytest.raises(ExtractionError, match="mask has no voxels with label 1"):
        Extractor(ORIGINAL_ONLY).extract_one(image, _empty_like(image))


def test_absent_label_names_the_labels_present(cases):
    image_path, label_path = cases["breast1"]
    result = Extractor(ORIGINAL_ONLY).extract(image_path, {"x": label_path}, label=3)["x"]
    assert result.error.reason == "mask has no voxels with label 3 (labels present: 1)"


def test_pyradiomics_checks_become_readable_errors(cases):
    image = sitk.ReadImage(str(cases["breast1"][0]))
    one = _empty_like(image)
    one[10, 20, 5] = 1
    result = Extractor(ORIGINAL_ONLY).extract(image, {"dot": one})["dot"]
    assert "mask only contains 1 segmented voxel" in result.error.reason
    missing = Extractor(ORIGINAL_ONLY).extract(image, {"gone": "/nonexistent/mask.nrrd"})["gone"]
    assert "does not exist" in missing.error.reason and missing.error.stage == "load"


def test_one_bad_lesion_does_not_affect_the_others(cases):
    image_path, label_path = cases["breast1"]
    image = sitk.ReadImage(str(image_path))
    results = Extractor(FILTERED).extract(image_path, {"bad": _empty_like(image), "good": label_path})
    assert list(results) == ["bad", "good"]
    assert not results["bad"].ok and results["good"].ok
    _assert_same(results["good"].features, _stock(FILTERED, str(image_path), str(label_path)), "good")


def test_nan_features_are_reported_not_returned_silently(cases, monkeypatch):
    from radiomics import glcm

    def broken(self):
        raise ZeroDivisionError("synthetic failure")

    monkeypatch.setattr(glcm.RadiomicsGLCM, "getContrastFeatureValue", broken)
    image_path, label_path = cases["breast1"]
    result = Extractor(ORIGINAL_ONLY).extract(image_path, {"l": label_path})["l"]
    assert not result.ok and result.error.stage == "validate"
    assert "original_glcm_Contrast" in result.error.reason
    assert "ZeroDivisionError: synthetic failure" in result.error.reason
    assert math.isnan(result.features["original_glcm_Contrast"])  # kept for inspection, flagged by .error
    with pytest.raises(ExtractionError):
        result.raise_for_error()


def test_invalid_params_fail_before_any_image_is_read():
    with pytest.raises(InvalidParameters, match="binWidth"):
        Extractor({"setting": {"binWidth": -1}}).fit()
    with pytest.raises(InvalidParameters):
        BatchExtractor({"setting": {"binWidth": -1}}, n_workers=2).run(
            [ExtractionJob("/nonexistent.nrrd", {"a": "/nonexistent.nrrd"})])


# ------------------------------------------------------------------------------------------------ same numbers
def test_several_lesions_of_one_image_match_stock_per_lesion(cases):
    """Real lesion, a synthetic sphere, and a two-label mask read through a label mapping; one image load."""
    image_path, label_path = cases["brain2"]
    image = sitk.ReadImage(str(image_path))
    sphere = _sphere_mask(image, (100, 120, 12), 6)
    two_labels = _sphere_mask(image, (60, 150, 8), 5, value=2)
    two_labels = sitk.Maximum(two_labels, _sphere_mask(image, (180, 60, 15), 4, value=5))
    masks = {"real": str(label_path), "sphere": sphere, "left": two_labels, "right": two_labels}
    labels = {"real": 1, "sphere": 1, "left": 2, "right": 5}
    results = Extractor(FILTERED).extract(image, masks, label=labels)
    for key, mask in masks.items():
        assert results[key].ok, results[key].error
        _assert_same(results[key].features, _stock(FILTERED, image, mask if not isinstance(mask, str)
                                                   else sitk.ReadImage(mask), label=labels[key]), key)
    # the shared multi-label mask was hashed once and names the same file content for both regions
    assert results["left"].provenance.mask_sha256 == results["right"].provenance.mask_sha256
    assert results["left"].provenance.label == 2 and results["right"].provenance.label == 5


@pytest.mark.parametrize(
    "setting, image_types",
    [
        # stock default (no preCrop): filters see the whole image; we filter once and crop per lesion
        ({"binWidth": 25, "sigma": [2.0], "preCrop": False}, {"Original": {}, "LoG": {}, "Square": {}}),
        # resampling: stock resampleImage crops to the box + padDistance in the new grid
        ({"binWidth": 25, "resampledPixelSpacing": [1, 1, 1], "interpolator": "sitkBSpline", "padDistance": 6,
          "sigma": [1.0]}, {"Original": {}, "LoG": {}}),
        # normalisation (whole image, once) + sigma resegmentation + shape on the resegmented mask
        ({"binWidth": 5, "normalize": True, "normalizeScale": 100, "resegmentRange": [-2, 2],
          "resegmentMode": "sigma", "resegmentShape": True, "preCrop": True},
         {"Original": {}, "Gradient": {}, "Exponential": {}}),
        # fixed bin count and 2-D texture extraction
        ({"binCount": 16, "force2D": True, "preCrop": True}, {"Original": {}, "Wavelet": {}}),
    ],
    ids=["whole-image-filters", "resampling", "normalize-resegment", "bincount-force2D"],
)
def test_preprocessing_modes_match_stock(cases, setting, image_types):
    # all classes but shape2D (which needs a single-slice ROI; stock would raise for these lesions)
    classes = ["shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"]
    params = {"setting": setting, "imageType": image_types, "featureClass": {c: [] for c in classes}}
    image_path, label_path = cases["brain2"]
    image = sitk.ReadImage(str(image_path))
    second = _sphere_mask(image, (90, 110, 12), 7)
    results = Extractor(params).extract(image, {"real": str(label_path), "sphere": second})
    for key, mask in (("real", sitk.ReadImage(str(label_path))), ("sphere", second)):
        assert results[key].ok, results[key].error
        _assert_same(results[key].features, _stock(params, image, mask), key)


def test_stock_shape_class_option_gives_the_same_numbers(cases):
    image_path, label_path = cases["brain2"]
    fast = Extractor(ORIGINAL_ONLY).extract(image_path, {"l": label_path})["l"].features
    slow = Extractor(ORIGINAL_ONLY, fast_shape=False).extract(image_path, {"l": label_path})["l"].features
    _assert_same(fast, slow, "fast_shape")


def test_diagnostics_match_stock_where_named_alike(cases):
    image_path, label_path = cases["brain2"]
    ours = Extractor(ORIGINAL_ONLY).extract(image_path, {"l": label_path})["l"].diagnostics
    radiomics.setVerbosity(logging.ERROR)
    stock = featureextractor.RadiomicsFeatureExtractor(ORIGINAL_ONLY).execute(str(image_path), str(label_path))
    shared = [k for k in ours if k in stock and "Hash" not in k]
    assert len(shared) >= 12
    for key in shared:
        if isinstance(stock[key], str):
            assert ours[key] == stock[key], key
        else:
            assert np.allclose(np.asarray(ours[key], float), np.asarray(stock[key], float), rtol=1e-9, atol=0), key


# ------------------------------------------------------------------------------------------------ provenance
def test_provenance_records_versions_params_and_input_hashes(cases):
    import pywt

    image_path, label_path = cases["breast1"]
    image = sitk.ReadImage(str(image_path))
    mask = sitk.ReadImage(str(label_path))
    result = Extractor(ORIGINAL_ONLY).extract(image, {"l": mask})["l"]
    p = result.provenance
    assert p.pyradiomics == radiomics.__version__ and p.pywavelets == pywt.__version__
    assert p.numpy == np.__version__ and p.simpleitk == sitk.Version().VersionString()
    assert p.params_hash == params_hash(ORIGINAL_ONLY)
    assert p.image_sha256 == image_sha256(image) and p.mask_sha256 == image_sha256(mask)
    changed = sitk.Image(image)
    changed[0, 0, 0] = changed[0, 0, 0] + 1
    assert image_sha256(changed) != p.image_sha256
    moved = sitk.Image(image)
    moved.SetOrigin([v + 0.5 for v in image.GetOrigin()])
    assert image_sha256(moved) != p.image_sha256
    assert set(result.timings) == {"image_load", "image_prepare", "mask", "shape", "features", "total"}
    assert all(v >= 0 for v in result.timings.values())
    json.dumps(result.to_dict())  # storable as JSON


# ------------------------------------------------------------------------------------------------ batches
def test_batch_with_workers_equals_in_process_and_reports_progress(cases):
    jobs = [
        ExtractionJob(cases["breast1"][0], {"b1": cases["breast1"][1]}, job_id="breast1"),
        ExtractionJob(cases["brain2"][0], {"b2": cases["brain2"][1], "nothing": "/nonexistent/mask.nrrd"},
                      job_id="brain2"),
        ExtractionJob("/nonexistent/image.nrrd", {"x": cases["brain2"][1]}, job_id="missing-image"),
    ]
    seen = []
    parallel = run_batch(jobs, FILTERED, n_workers=2, progress=lambda done, total, r: seen.append((done, total,
                                                                                                  r.job_id)))
    serial = BatchExtractor(FILTERED, n_workers=1).run(jobs)
    assert [r.job_id for r in parallel] == ["breast1", "brain2", "missing-image"]  # input order
    assert [d for d, _, _ in seen] == [1, 2, 3] and {t for _, t, _ in seen} == {3}
    assert {j for _, _, j in seen} == {"breast1", "brain2", "missing-image"}
    assert len({r.worker_pid for r in parallel[:2]} | {os.getpid()}) >= 2  # ran outside this process
    for p, s in zip(parallel, serial):
        assert list(p.results) == list(s.results)
        for key in p.results:
            assert isinstance(p.results[key], FeatureResult)
            assert (p.results[key].error is None) == (s.results[key].error is None)
            assert p.results[key].features == s.results[key].features  # bit-identical across processes
    assert parallel[0].ok
    assert parallel[1].results["b2"].ok and "does not exist" in parallel[1].results["nothing"].error.reason
    assert "image file" in parallel[2].results["x"].error.reason and not parallel[2].ok


def test_filters_pyradiomics_would_silently_skip_are_surfaced(cases):
    """A LoG sigma pyradiomics cannot apply (region too small) is skipped by stock with a log line only."""
    image_path, label_path = cases["breast1"]
    params = {"setting": {"binWidth": 25, "sigma": [1.0], "preCrop": True, "padDistance": 0},
              "imageType": {"Original": {}, "LoG": {}}}
    result = Extractor(params).extract(image_path, {"l": label_path})["l"]
    assert result.ok
    assert not any(name.startswith("log-sigma") for name in result.features)  # stock computes none either
    _assert_same(result.features, _stock(params, str(image_path), str(label_path)), "padDistance 0")
    assert any("too small to apply LoG" in w for w in result.warnings), result.warnings


def test_lbp_without_its_optional_dependency_is_refused_not_skipped():
    import importlib.util

    if importlib.util.find_spec("skimage") is not None:
        pytest.skip("scikit-image is installed; pyradiomics can compute LBP2D here")
    with pytest.raises(InvalidParameters, match="LBP2D: needs skimage"):
        Extractor({"imageType": {"Original": {}, "LBP2D": {}}}).fit()


@pytest.mark.parametrize("pad", [5, 12])
def test_lesion_crop_is_exactly_stock_precrop(cases, pad):
    """The region our filters see equals stock ``loadImage(preCrop=True)``: bbox +/- padDistance voxels, clipped."""
    from imaging.compute.radiomics.extract import _Lesion

    image = sitk.ReadImage(str(cases["brain2"][0]))
    masks = {"real": sitk.ReadImage(str(cases["brain2"][1])),
             "at-border": _sphere_mask(image, (3, 128, 2), 5)}  # touches x = 0 and z = 0
    settings = {"binWidth": 25, "preCrop": True, "padDistance": pad}
    extractor = Extractor({"setting": settings}).fit()
    ctx = extractor._prepare_image(image)
    for key, mask in masks.items():
        lesion = _Lesion(key=key, label=1, settings=dict(extractor.settings_, label=1), result=FeatureResult(key=key))
        extractor._prepare_lesion(ctx, lesion, mask, {})
        stock_image, stock_mask = featureextractor.RadiomicsFeatureExtractor.loadImage(
            image, mask, **dict(extractor.settings_, label=1))
        for ours, stock in ((lesion.image_r, stock_image), (lesion.mask_r, stock_mask)):
            assert ours.GetSize() == stock.GetSize(), key
            assert ours.GetOrigin() == stock.GetOrigin() and ours.GetSpacing() == stock.GetSpacing(), key
            assert ours.GetPixelID() == stock.GetPixelID(), key
            np.testing.assert_array_equal(sitk.GetArrayViewFromImage(ours), sitk.GetArrayViewFromImage(stock))
    assert lesion.region_lower_xyz[0] == 0 and lesion.region_lower_xyz[2] == 0  # clipped at the border


def test_batch_inside_a_daemonic_process_runs_in_process(cases):
    """Celery prefork workers are daemonic and may not fork: the batch must still run (in-process)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()

    def child(q):
        try:
            res = run_batch([ExtractionJob(cases["breast1"][0], {"b": cases["breast1"][1]})], ORIGINAL_ONLY,
                            n_workers=2)
            q.put((res[0].ok, res[0].worker_pid == os.getpid()))
        except Exception as exc:  # noqa: BLE001
            q.put(("error", repr(exc)))

    proc = context.Process(target=child, args=(queue,), daemon=True)
    proc.start()
    outcome = queue.get(timeout=120)
    proc.join(timeout=30)
    assert outcome == (True, True)
