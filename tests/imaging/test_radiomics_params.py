"""Parameter validation (pyradiomics' own schema), YAML round trip, canonical hash, modality defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import radiomics  # noqa: E402,F401 - a required dependency: missing is an error, never a skip

from imaging.compute.radiomics import (  # noqa: E402
    CT_PARAMS,
    InvalidParameters,
    default_params,
    dump_params,
    effective_params,
    load_params,
    params_hash,
    validate_params,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

CT_STYLE = {
    "setting": {"binWidth": 25, "sigma": [1.0, 2.0, 3.0, 4.0, 5.0], "preCrop": True},
    "imageType": {"Original": {}, "LoG": {}, "Wavelet": {}},
    "featureClass": {"shape": None, "glcm": ["Contrast", "Idm"], "firstorder": []},
}


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"setting": {"binWidth": -1}}, "setting.binWidth: value -1 must be > 0"),
        ({"setting": {"binWidth": "wide"}}, "setting.binWidth: value 'wide' is not of type 'float'"),
        ({"setting": {"binwidth": 25}}, "setting: unknown key 'binwidth'"),
        ({"setting": {"minimumROIDimensions": 4}}, "setting.minimumROIDimensions: value 4 must be <= 3"),
        ({"setting": {"resampledPixelSpacing": [1, 1, "a"]}},
         "setting.resampledPixelSpacing.2: value 'a' is not of type 'float'"),
        ({"setting": {"label": 0}}, "setting.label: value 0 must be > 0"),
        ({"settings": {"binWidth": 25}}, "unknown top-level key(s) ['settings']"),
        ({"imageType": {"LoGG": {}}}, "Image Type LoGG is not recognized"),
        ({"imageType": {"LoG": {}}}, "imageType.LoG: enabled but no 'sigma' given"),
        ({"imageType": {"LoG": {"sigma": [0]}}}, "imageType.LoG.sigma.0: value 0 must be > 0"),
        ({"featureClass": {"glcm": ["Contrastt"]}}, "Feature Class glcm contains unrecognized features: {'Contrastt'}"),
        ({"featureClass": {"texture": []}}, "Feature Class texture is not recognized"),
        ({"setting": {"wavelet": "coif99"}}, 'Wavelet "coif99" not available in pyWavelets'),
        ({"setting": {"interpolator": "sitkCubic"}}, 'Interpolator value "sitkCubic" not valid'),
        ({"setting": {"resegmentMode": "percent"}},
         "setting.resegmentMode: value 'percent' is not one of ['absolute', 'relative', 'sigma']"),
        ("binWidth: 25", "parameters must be a mapping, got str"),
    ],
)
def test_bad_params_are_rejected_with_a_readable_message(params, expected):
    with pytest.raises(InvalidParameters) as info:
        validate_params(params)
    assert expected in str(info.value)
    assert any(expected in e for e in info.value.errors)


def test_all_problems_are_reported_at_once():
    with pytest.raises(InvalidParameters) as info:
        validate_params({"setting": {"binWidth": 0, "padDistance": -2, "foo": 1}})
    assert len(info.value.errors) == 3
    text = str(info.value)
    assert "binWidth" in text and "padDistance" in text and "'foo'" in text


def test_valid_params_pass_and_are_not_modified():
    params = json.loads(json.dumps(CT_STYLE))
    validated = validate_params(params)
    assert validated == params
    assert params == CT_STYLE  # input untouched
    validated["setting"]["binWidth"] = 1
    assert params["setting"]["binWidth"] == 25


def test_yaml_round_trip(tmp_path):
    text = dump_params(CT_STYLE)
    assert "binWidth: 25" in text and "LoG: {}" in text
    assert load_params(text) == validate_params(CT_STYLE)
    path = tmp_path / "ct.yaml"
    path.write_text(text)
    assert load_params(path) == validate_params(CT_STYLE)
    assert load_params(str(path)) == validate_params(CT_STYLE)
    assert params_hash(load_params(path)) == params_hash(CT_STYLE)


def test_yaml_with_empty_feature_class_lists_like_pyradiomics_examples():
    text = "imageType:\n  Original: {}\nfeatureClass:\n  shape:\n  firstorder:\nsetting:\n  binWidth: 25\n"
    params = load_params(text)
    assert params["featureClass"] == {"shape": None, "firstorder": None}
    assert effective_params(params)["featureClass"] == {"shape": [], "firstorder": []}


def test_bad_yaml_and_bad_yaml_content_are_invalid_parameters(tmp_path):
    with pytest.raises(InvalidParameters, match="not valid YAML"):
        load_params("setting: {binWidth: [25\n")
    with pytest.raises(InvalidParameters, match="value -5 must be > 0"):
        load_params("setting:\n  binWidth: -5\n")
    with pytest.raises(InvalidParameters, match="does not exist"):
        load_params(tmp_path / "missing.yaml")


# Pinned: a change means stored features were computed with a configuration this code no longer names the same way
# (e.g. pyradiomics changed a default). Recompute deliberately, then update the pin.
PINNED_CT_STYLE_HASH = "875f505a398057f2230bbc9c922133269979759368ac9b5920f28a33a81e7fc4"


def test_hash_is_stable_and_canonical():
    h = params_hash(CT_STYLE)
    assert len(h) == 64 and int(h, 16) >= 0
    reordered = {
        "featureClass": {"firstorder": [], "glcm": ["Contrast", "Idm"], "shape": None},
        "imageType": {"Wavelet": {}, "LoG": {}, "Original": {}},
        "setting": {"preCrop": True, "sigma": [1.0, 2.0, 3.0, 4.0, 5.0], "binWidth": 25},
    }
    assert params_hash(reordered) == h
    # explicitly stating pyradiomics' defaults names the same configuration
    explicit = json.loads(json.dumps(CT_STYLE))
    explicit["setting"].update({"padDistance": 5, "label": 1, "normalize": False})
    assert params_hash(explicit) == h
    # anything that changes features changes the hash
    assert params_hash({**CT_STYLE, "setting": {**CT_STYLE["setting"], "binWidth": 20}}) != h
    # sigma 1 vs 1.0 names LoG images differently in pyradiomics (log-sigma-1-mm vs log-sigma-1-0-mm)
    ints = {**CT_STYLE, "setting": {**CT_STYLE["setting"], "sigma": [1, 2, 3, 4, 5]}}
    assert params_hash(ints) != h


def test_hash_is_identical_in_a_fresh_interpreter():
    code = ("import json,sys; from imaging.compute.radiomics import params_hash; "
            "print(params_hash(json.loads(sys.argv[1])))")
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(PROJECT_ROOT))
    out = subprocess.run([sys.executable, "-c", code, json.dumps(CT_STYLE)], capture_output=True, text=True,
                         env=env, cwd=PROJECT_ROOT, check=True, timeout=120)
    assert out.stdout.strip() == params_hash(CT_STYLE)


def test_hash_pin():
    assert params_hash(CT_STYLE) == PINNED_CT_STYLE_HASH


@pytest.mark.parametrize("modality", ["CT", "ct", "MR", "MRI", "PT", "PET"])
def test_modality_defaults_are_valid_pyradiomics_params(modality):
    params = default_params(modality)
    assert validate_params(params) == params
    assert params_hash(params)


def test_ct_defaults_follow_the_documented_choices():
    ct = default_params("CT")
    s = ct["setting"]
    assert s["resampledPixelSpacing"] == [1, 1, 1] and s["binWidth"] == 25
    assert s["sigma"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert set(ct["imageType"]) == {"Original", "LoG", "Wavelet"}
    mr = default_params("MR")["setting"]
    assert mr["normalize"] is True and "binCount" in mr and "binWidth" not in mr
    pet = default_params("PET")["setting"]
    assert pet["binWidth"] == 0.5 and pet["normalize"] is False


def test_defaults_are_fresh_copies_and_unknown_modality_is_an_error():
    a = default_params("CT")
    a["setting"]["binWidth"] = 1
    assert default_params("CT")["setting"]["binWidth"] == 25 == CT_PARAMS["setting"]["binWidth"]
    with pytest.raises(KeyError, match="supported"):
        default_params("US")
