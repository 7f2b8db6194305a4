"""Feature robustness: ICC(3,1) against pingouin and Shrout & Fleiss (1979), the mask perturbations, and the stored
robustness of a profile version computed from a synthetic CT through the app's own extraction path."""
import io
import warnings

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import SimpleITK as sitk
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from analytics.compute.robustness import (
    ICC31,
    TEXTURE_CLASSES,
    ICCUndefinedWarning,
    class_summary,
    feature_class,
)
from analytics.models import FeatureRobustness
from analytics.selectors import feature_robustness_latest, non_robust_features, robust_features
from analytics.services import feature_robustness_now, feature_robustness_request
from imaging.compute.segmentation.perturb import (
    PerturbationError,
    dilate_mask,
    erode_mask,
    perturb_mask,
    random_contour,
)
from imaging.compute.synthetic_ct import Lesion as SyntheticLesion
from imaging.compute.synthetic_ct import synthetic_ct
from imaging.compute.volume import read_series_layout
from imaging.compute.writers import write_ct_series, write_seg
from imaging.models import ExtractionProfile, FeatureSet, IngestJob, Study
from imaging.services.radiomics import profile_save
from patients.models import Patient, Site
from tests.imaging.test_ingest_helpers import patient_with_mrn

# Shrout PE & Fleiss JL, Psychol Bull 1979;86:420, Table 2: 6 targets (rows) rated by 4 judges (columns).
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
                         dtype=float)


@pytest.fixture
def exact_pingouin(monkeypatch):
    monkeypatch.setitem(pg.options, "round.column.CI95", None)  # pingouin rounds the CI to 2 decimals by default


def pingouin_icc3(ratings, nan_policy="raise"):
    """pingouin's ICC(3,1) row ("ICC3", called ICC(C,1) since 0.7) for one targets x raters matrix."""
    n, k = ratings.shape
    long = pd.DataFrame({"target": np.repeat(np.arange(n), k), "rater": np.tile(np.arange(k), n),
                         "rating": ratings.ravel()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its 0/0 on the degenerate data sets
        table = pg.intraclass_corr(long, targets="target", raters="rater", ratings="rating", nan_policy=nan_policy)
    row = table.set_index("Type").loc["ICC(C,1)" if "ICC(C,1)" in set(table["Type"]) else "ICC3"]
    return row["ICC"], row["CI95"][0], row["CI95"][1]


def ratings_cube(seed, n, k, p, *, between=2.0, rater=0.5, noise=1.0):
    rng = np.random.default_rng(seed)
    scales = rng.uniform(0.1, 10.0, p)
    cube = (between * rng.normal(size=(n, 1, p)) + rater * rng.normal(size=(1, k, p))
            + noise * rng.uniform(0.05, 2.0, p) * rng.normal(size=(n, k, p)))
    return cube * scales + rng.normal(0, 100, p)


# -- ICC(3,1) ----------------------------------------------------------------------------------------------------
def test_shrout_fleiss_worked_example():
    icc = ICC31().fit(SHROUT_FLEISS[:, :, None])
    # Their Table 3: BMS = 11.24, EMS = 1.02; Table 4: ICC(3,1) = .71.
    assert round(float(icc.ms_rows_[0]), 2) == 11.24 and round(float(icc.ms_error_[0]), 2) == 1.02
    assert round(float(icc.icc_[0]), 2) == 0.71
    assert icc.n_targets_[0] == 6 and icc.n_raters_ == 4 and icc.undefined_[0] == ""


def test_shrout_fleiss_equals_pingouin(exact_pingouin):
    icc = ICC31().fit(SHROUT_FLEISS)
    ref = pingouin_icc3(SHROUT_FLEISS)
    assert np.allclose([icc.icc_[0], icc.ci_lower_[0], icc.ci_upper_[0]], ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed,n,k,between,noise", [
    (0, 30, 3, 2.0, 1.0),  # the erode / original / dilate design
    (1, 8, 2, 1.0, 1.0),
    (2, 50, 4, 5.0, 0.2),  # robust features: ICC close to 1
    (3, 12, 3, 0.1, 2.0),  # non-robust: ICC near or below 0
    (4, 3, 5, 1.0, 1.0),   # few lesions, many perturbations
])
def test_icc_equals_pingouin_for_every_feature(exact_pingouin, seed, n, k, between, noise):
    cube = ratings_cube(seed, n, k, 12, between=between, noise=noise)
    icc = ICC31().fit(cube)
    for j in range(cube.shape[2]):
        got = (icc.icc_[j], icc.ci_lower_[j], icc.ci_upper_[j])
        assert np.allclose(got, pingouin_icc3(cube[:, :, j]), rtol=0, atol=1e-9), j
    assert (icc.n_targets_ == n).all() and not any(icc.undefined_)


def test_long_table_gives_the_array_result_and_missing_values_are_left_out_per_feature(exact_pingouin):
    cube = ratings_cube(5, 20, 3, 4)
    cube[3, 1, 0] = np.nan  # lesion 3 lacks one perturbation of feature 0 only
    cube[7, :, 2] = np.nan
    long = pd.DataFrame([{"lesion": f"L{i:02d}", "perturbation": ["original", "erode", "dilate"][r],
                          "feature": f"f{j}", "value": cube[i, r, j]}
                         for i in range(20) for r in range(3) for j in range(4) if np.isfinite(cube[i, r, j])])
    from_long = ICC31().fit(long)
    from_array = ICC31().fit(cube[:, [2, 1, 0], :], feature_names=["f0", "f1", "f2", "f3"])  # raters sorted by name
    assert from_long.feature_names_ == ["f0", "f1", "f2", "f3"]
    assert np.allclose(from_long.icc_, from_array.icc_, rtol=0, atol=1e-12)
    assert list(from_long.n_targets_) == [19, 20, 19, 20]
    for j in range(4):
        ref = pingouin_icc3(cube[:, :, j], nan_policy="omit")
        assert np.allclose((from_long.icc_[j], from_long.ci_lower_[j], from_long.ci_upper_[j]), ref, atol=1e-9)


def test_degenerate_features_are_flagged_never_a_silent_nan(exact_pingouin):
    rng = np.random.default_rng(7)
    n, k = 10, 3
    constant = np.full((n, k), 4.2)
    shift_only = np.tile([1.0, 2.0, 5.0], (n, 1))  # the same value for every lesion under each perturbation
    roundoff = 1e6 * (1 + 1e-15 * rng.normal(size=(n, k)))  # constant up to floating-point noise
    perfect = np.repeat(rng.normal(size=(n, 1)), k, axis=1) + [0.0, 0.3, -0.2]  # perturbations shift all alike
    spread = rng.normal(size=n)[:, None]
    no_between = np.hstack([spread, -spread, np.zeros((n, 1))])  # lesion means equal, interaction only
    cube = np.stack([constant, shift_only, roundoff, perfect, no_between], axis=2)
    with pytest.warns(ICCUndefinedWarning, match="undefined for 3 of 5 feature"):
        icc = ICC31().fit(cube, ["constant", "shift", "roundoff", "perfect", "no_between"])
    assert list(icc.undefined_) == ["constant", "constant", "constant", "", ""]
    assert np.isnan(icc.icc_[:3]).all() and np.isfinite(icc.icc_[3:]).all()
    assert icc.icc_[3] == 1.0 and icc.ci_lower_[3] == 1.0 and icc.ci_upper_[3] == 1.0
    assert icc.icc_[3] == pytest.approx(pingouin_icc3(perfect)[0], abs=1e-9)
    assert icc.icc_[4] == pytest.approx(-1 / (k - 1), abs=1e-12)  # as non-robust as a feature can be
    assert np.allclose((icc.icc_[4], icc.ci_lower_[4], icc.ci_upper_[4]), pingouin_icc3(no_between), atol=1e-9)
    table = icc.table(threshold=0.75)
    assert list(table["robust"]) == [False, False, False, True, False]


def test_too_few_lesions_and_bad_input():
    cube = ratings_cube(8, 4, 3, 2)
    cube[1:, 0, 1] = np.nan  # feature 1: one lesion with every perturbation
    with pytest.warns(ICCUndefinedWarning, match="too few lesions"):
        icc = ICC31().fit(cube)
    assert icc.undefined_[1] == "too few lesions" and icc.n_targets_[1] == 1 and np.isnan(icc.icc_[1])
    with pytest.warns(ICCUndefinedWarning):
        assert ICC31(min_targets=5).fit(cube).undefined_[0] == "too few lesions"
    with pytest.raises(ValueError, match="at least two measurements"):
        ICC31().fit(np.ones((5, 1, 3)))
    with pytest.raises(ValueError, match="min_targets must be at least 2"):
        ICC31(min_targets=1).fit(cube)
    duplicated = pd.DataFrame({"lesion": [1, 1, 2, 2, 1], "perturbation": ["a", "b", "a", "b", "a"],
                               "value": [1.0, 2.0, 3.0, 4.0, 5.0]})
    with pytest.raises(ValueError, match="measured once per perturbation"):
        ICC31().fit(duplicated)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean fit warns about nothing
        ICC31().fit(ratings_cube(9, 6, 2, 3))


def test_feature_class_and_class_summary():
    assert feature_class("original_shape_VoxelVolume") == ("original", "shape")
    assert feature_class("wavelet-LLH_glcm_Contrast") == ("wavelet-LLH", "glcm")
    assert feature_class("log-sigma-1-0-mm-3D_firstorder_Mean") == ("log-sigma-1-0-mm-3D", "firstorder")
    assert feature_class("volume") == ("", "")
    table = {"original_shape_A": {"icc": 0.9, "robust": True}, "original_shape_B": {"icc": 0.7, "robust": False},
             "original_glcm_C": {"icc": 0.2, "robust": False}, "wavelet-LLH_glcm_D": {"icc": 0.4, "robust": False},
             "log-sigma-1-0-mm-3D_glcm_E": {"icc": None, "robust": False, "undefined": "constant"}}
    summary = class_summary(table)
    assert list(summary.index) == ["shape", "glcm"]
    assert summary.loc["shape", "median_icc"] == pytest.approx(0.8)
    assert summary.loc["glcm", "n_features"] == 3 and summary.loc["glcm", "n_undefined"] == 1
    assert summary.loc["glcm", "median_icc"] == pytest.approx(0.3)
    assert class_summary(table, image_type="original").loc["glcm", "n_features"] == 1
    with_texture = class_summary(table, texture_row=True)
    assert list(with_texture.index) == ["shape", "glcm", "texture"]
    assert with_texture.loc["texture", "n_features"] == 3
    assert class_summary(table, image_type="wavelet").loc["glcm", "median_icc"] == pytest.approx(0.4)


# -- mask perturbations ------------------------------------------------------------------------------------------
def label_image(array, spacing=(1.0, 1.0, 2.0)):
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing(spacing)
    image.SetOrigin((-5.0, 3.0, 7.0))
    return image


def voxels(image):
    return sitk.GetArrayFromImage(image).astype(bool)


def test_erosion_and_dilation_by_one_voxel_with_6_connectivity():
    cube = np.zeros((9, 9, 9), dtype=np.uint8)
    cube[2:7, 2:7, 2:7] = 1  # 5 x 5 x 5
    eroded, dilated = erode_mask(label_image(cube)), dilate_mask(label_image(cube))
    assert voxels(eroded).sum() == 27 and voxels(eroded)[3:6, 3:6, 3:6].all()
    # 6-connectivity: the 5^3 cube grows by one voxel on each face, not at edges and corners
    assert voxels(dilated).sum() == 125 + 6 * 25
    assert eroded.GetSpacing() == (1.0, 1.0, 2.0) and dilated.GetOrigin() == (-5.0, 3.0, 7.0)
    point = np.zeros((5, 5, 5), dtype=np.uint8)
    point[2, 2, 2] = 1
    assert voxels(dilate_mask(label_image(point))).sum() == 7
    with pytest.raises(PerturbationError, match="erosion by 1 voxel.*leaves no lesion voxel"):
        erode_mask(label_image(point))
    edge = np.zeros((4, 4, 4), dtype=np.uint8)
    edge[:, :, :] = 1  # a lesion filling the image: the image border is not a lesion border
    assert voxels(erode_mask(label_image(edge))).sum() == 64
    with pytest.raises(PerturbationError, match="no voxel with label 1"):
        erode_mask(label_image(np.zeros((3, 3, 3))))


def test_random_contour_flips_only_boundary_voxels_and_is_seeded():
    sphere = np.zeros((15, 15, 15), dtype=np.uint8)
    zz, yy, xx = np.mgrid[:15, :15, :15]
    sphere[(zz - 7) ** 2 + (yy - 7) ** 2 + (xx - 7) ** 2 <= 25] = 1
    mask = label_image(sphere)
    first = voxels(random_contour(mask, probability=0.3, seed=(0, 12)))
    assert np.array_equal(first, voxels(random_contour(mask, probability=0.3, seed=(0, 12))))
    assert not np.array_equal(first, voxels(random_contour(mask, probability=0.3, seed=(0, 13))))
    lesion = sphere.astype(bool)
    band = voxels(dilate_mask(mask)) & ~voxels(erode_mask(mask))  # inner + outer boundary
    changed = first ^ lesion
    assert changed.any() and not (changed & ~band).any()
    assert 0.2 < changed.sum() / band.sum() < 0.4
    assert np.array_equal(voxels(random_contour(mask, probability=0.0)), lesion)
    assert perturb_mask(mask, "original") is mask
    with pytest.raises(ValueError, match="Unknown mask perturbation 'blur'"):
        perturb_mask(mask, "blur")


# -- the stored robustness of a profile version -----------------------------------------------------------------
ALL_CLASSES = {"setting": {"binWidth": 25, "label": 1}, "imageType": {"Original": {}},
               "featureClass": {name: [] for name in ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm",
                                                      "ngtdm")}}
#: (centre mm, semi-axes mm, mean HU, heterogeneity HU): lesions of many sizes and textures, and one so small that
#: its erosion is empty.
LESIONS = [((-45.0, -30.0, -12.0), (13.0, 11.0, 12.0), 40.0, 15.0),
           ((-10.0, -30.0, -12.0), (7.0, 6.0, 7.0), 60.0, 8.0),
           ((25.0, -30.0, -12.0), (10.0, 9.0, 9.0), 35.0, 20.0),
           ((50.0, -28.0, 9.0), (5.0, 5.0, 6.0), 70.0, 12.0),
           ((-45.0, 5.0, 9.0), (9.0, 7.0, 8.0), 50.0, 5.0),
           ((-12.0, 5.0, 9.0), (12.0, 12.0, 10.0), 45.0, 25.0),
           ((25.0, 5.0, -12.0), (6.0, 8.0, 6.0), 55.0, 10.0),
           ((-40.0, 35.0, -12.0), (8.0, 8.0, 8.0), 30.0, 18.0),
           ((0.0, 35.0, 12.0), (11.0, 8.0, 9.0), 65.0, 14.0),
           ((35.0, 35.0, 12.0), (7.0, 7.0, 9.0), 42.0, 22.0),
           ((56.0, 6.0, -15.0), (2.0, 2.0, 2.9), 50.0, 5.0)]  # 2 x 2 x 2 voxels


def write_lesion_study(root):
    syn = synthetic_ct((28, 80, 80), (2.0, 2.0, 3.0), lesions=[SyntheticLesion(*spec) for spec in LESIONS], seed=11)
    written = write_ct_series(syn.image, root / "ct", patient_id="MRN-ROBUST", study_date="20240301",
                              series_description="chest CT", convolution_kernel="B30f", uid_entropy="robust")
    names = {i + 1: f"T{i + 1}" for i in range(len(LESIONS))}
    seg = write_seg(syn.label_array, read_series_layout(written.paths), root / "seg.dcm", segment_labels=names,
                    uid_entropy="robust")
    return root / "ct", seg.path


@pytest.fixture(scope="module")
def imaged(django_db_setup, django_db_blocker, tmp_path_factory):
    """A synthetic CT with 11 lesion masks extracted with an all-classes profile, and its robustness (erode,
    dilate) computed by the service; everything is removed after the module."""
    started = timezone.now()
    with django_db_blocker.unblock():
        ct_dir, seg = write_lesion_study(tmp_path_factory.mktemp("robust"))
        patient_with_mrn("MRN-ROBUST", lesions=[(f"T{i + 1}", "lung", False) for i in range(len(LESIONS))])
        profile, _ = profile_save(name="ct-robust", params=ALL_CLASSES, modality="")
        call_command("import_dicom", str(ct_dir), str(seg), no_progress=True, no_extract=True, stdout=io.StringIO())
        call_command("extract_features", "--profile", "ct-robust", "--workers", "1", stdout=io.StringIO(),
                     stderr=io.StringIO())
        assert FeatureSet.objects.filter(profile=profile, status="done").count() == len(LESIONS)
        row = feature_robustness_now(profile=profile, workers=1)
        yield profile, row
        FeatureRobustness.objects.all().delete()
        Study.objects.all().delete()  # series, instances, segmentations, segments and feature sets with them
        IngestJob.objects.all().delete()
        Patient.objects.all().delete()
        Site.objects.all().delete()
        ExtractionProfile.objects.filter(name="ct-robust").delete()
        for model in apps.get_models():
            if model.__name__.startswith("Historical") and any(f.name == "history_date" for f in model._meta.fields):
                model.objects.filter(history_date__gte=started).delete()


@pytest.mark.django_db
def test_service_stores_the_robustness_of_the_profile_version(imaged):
    profile, row = imaged
    assert row.status == "done", row.error
    assert row.profile == profile and row.method == "segmentation"
    assert row.perturbations == ["original", "erode", "dilate"] and row.threshold == 0.75
    assert row.n_lesions == 10 and row.n_patients == 1
    (tiny,) = row.excluded  # T11 (2 x 2 x 2 voxels) has no voxel left after erosion: reported, not skipped
    assert tiny["lesion"] == "T11" and "erode" in tiny["reason"] and "leaves no lesion voxel" in tiny["reason"]
    assert row.n_features == len(row.features) > 90
    volume = row.features["original_shape_VoxelVolume"]
    assert set(volume) >= {"icc", "ci_lower", "ci_upper", "robust", "n"} and volume["n"] == 10
    assert volume["ci_lower"] <= volume["icc"] <= volume["ci_upper"] and volume["robust"] is True
    assert row.n_robust == sum(v["robust"] for v in row.features.values())
    assert all(v["robust"] == (v["icc"] is not None and v["icc"] >= 0.75) for v in row.features.values())
    lesion = row.lesions[0]
    assert lesion["voxels"]["erode"] < lesion["voxels"]["original"] < lesion["voxels"]["dilate"]
    assert len(lesion["image_sha256"]) == 64 and set(lesion["mask_sha256"]) == {"original", "erode", "dilate"}
    assert row.versions["pyradiomics"] and row.versions["icc"]["scipy"] and len(row.inputs_sha256) == 64
    assert row.computed_at and row.finished_at


@pytest.mark.django_db
def test_the_stored_icc_is_the_icc_of_the_perturbed_extractions(imaged):
    """Recompute one feature's ICC from a direct extraction of the perturbed masks with the profile's extractor."""
    from imaging.compute.radiomics import Extractor
    from imaging.selectors import lesion_feature_sets_done, segment_mask
    from imaging.services.radiomics import series_volume_path

    profile, row = imaged
    used = {entry["segment"] for entry in row.lesions}
    extractor = Extractor(profile.params).fit()
    values = []
    for fs in lesion_feature_sets_done(profile=profile):
        if fs.segment_id not in used:
            continue
        mask = segment_mask(fs.segment)
        image = str(series_volume_path(fs.segment.segmentation.image_series))
        results = extractor.extract(image, {p: perturb_mask(mask, p) for p in ("original", "erode", "dilate")})
        values.append([results[p].features["original_glcm_Contrast"] for p in ("original", "erode", "dilate")])
    assert ICC31().fit(np.array(values)).icc_[0] == pytest.approx(row.features["original_glcm_Contrast"]["icc"],
                                                                   abs=1e-9)


@pytest.mark.django_db
def test_shape_features_are_more_robust_than_texture_features(imaged):
    """Acceptance (issue 11): one-voxel perturbations rank shape features above the high-order texture classes.

    On the same (original) image: the shape median ICC must exceed the median of every texture class, and the
    texture classes must not all be robust (else the ranking would say nothing)."""
    _, row = imaged
    summary = class_summary(row.features, image_type="original", texture_row=True)
    shape = summary.loc["shape", "median_icc"]
    assert shape > 0.9, summary
    for cls in TEXTURE_CLASSES:
        assert summary.loc[cls, "median_icc"] < shape, summary
    assert summary.loc["texture", "median_icc"] < 0.85, summary
    assert summary.loc["texture", "n_features"] == summary.loc[list(TEXTURE_CLASSES), "n_features"].sum()


@pytest.mark.django_db
def test_selectors_name_the_robust_features_for_later_analyses(imaged):
    profile, row = imaged
    assert feature_robustness_latest(profile="ct-robust") == row == feature_robustness_latest(profile=profile)
    robust = robust_features(profile="ct-robust")
    excluded = non_robust_features(profile=profile)
    assert "original_shape_VoxelVolume" in robust and robust == row.robust_names()
    assert set(robust).isdisjoint(excluded) and set(robust) | set(excluded) == set(row.features)
    assert len(robust_features(profile=profile, threshold=0.5)) >= len(robust) >= len(
        robust_features(profile=profile, threshold=0.95))
    other = ExtractionProfile.objects.get(name="ct-default")
    assert feature_robustness_latest(profile=other) is None and feature_robustness_latest(profile="nope") is None
    with pytest.raises(FeatureRobustness.DoesNotExist, match="manage.py feature_robustness --profile ct-default"):
        robust_features(profile="ct-default")


@pytest.mark.django_db
def test_command_prints_the_summary_with_a_progress_bar(imaged):
    out, err = io.StringIO(), io.StringIO()
    call_command("feature_robustness", "--profile", "ct-robust", "--perturbations", "erode", "dilate", "random",
                 "--seed", "3", "--limit", "6", "--workers", "1", "--top", "3", stdout=out, stderr=err)
    text = out.getvalue()
    assert "re-extracting" in err.getvalue() and "24/24" in err.getvalue()  # 6 masks x (original + 3 perturbations)
    assert "Feature robustness of ct-robust v1 (original, erode, dilate, random; seed 3): 6 lesion masks" in text
    row = FeatureRobustness.objects.get(profile__name="ct-robust")
    assert f"{row.n_robust} of {row.n_features} features robust (ICC(3,1) >= 0.75)." in text
    assert "By feature class, original image:" in text
    for cls in ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm", "Top 3 by ICC", "Bottom 3 by ICC"):
        assert cls in text
    assert row.seed == 3 and row.n_lesions == 6 and row.lesion_limit == 6
    with pytest.raises(Exception, match="No extraction profile named 'nope'"):
        call_command("feature_robustness", "--profile", "nope", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(Exception, match="At least 5 lesion masks"):
        call_command("feature_robustness", "--profile", "ct-robust", "--limit", "2", stdout=io.StringIO(),
                     stderr=io.StringIO())
    with pytest.raises(Exception, match="has 0 lesion mask"):
        call_command("feature_robustness", "--profile", "ct-default", stdout=io.StringIO(), stderr=io.StringIO())
    failed = FeatureRobustness.objects.get(profile__name="ct-default")
    assert failed.status == "failed" and "extract_features --profile ct-default" in failed.error
    assert feature_robustness_latest(profile="ct-default") is None
    call_command("feature_robustness", "--profile", "ct-robust", "--workers", "1", stdout=io.StringIO(),
                 stderr=io.StringIO())  # back to the module's row (erode, dilate; every lesion)


@pytest.mark.django_db
def test_request_is_checked_and_a_running_computation_is_not_overwritten(imaged):
    profile, row = imaged
    with pytest.raises(ValidationError, match="unknown: blur"):
        feature_robustness_request(profile=profile, perturbations=["erode", "blur"])
    with pytest.raises(ValidationError, match="between -1 and 1"):
        feature_robustness_request(profile=profile, threshold=2)
    FeatureRobustness.objects.filter(pk=row.pk).update(status="running", heartbeat_at=timezone.now(),
                                                       started_at=timezone.now())
    try:
        with pytest.raises(ValidationError, match="is being computed"):
            feature_robustness_request(profile=profile)
        assert FeatureRobustness.objects.get(pk=row.pk).features == row.features
    finally:
        FeatureRobustness.objects.filter(pk=row.pk).update(status="done")


@pytest.mark.django_db
def test_admin_shows_the_robustness_table_read_only(imaged, admin_client_logged_in):
    _, row = imaged
    listing = admin_client_logged_in.get(reverse("admin:analytics_featurerobustness_changelist"),
                                         {"profile__id__exact": row.profile_id}).content.decode()
    assert "ct-robust v1" in listing and f"{row.n_robust} / {row.n_features}" in listing
    page = admin_client_logged_in.get(reverse("admin:analytics_featurerobustness_change", args=[row.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "ICC by feature class" in text and "original_shape_VoxelVolume" in text
    assert "T11" in text and "leaves no lesion voxel" in text and 'name="_save"' not in text
