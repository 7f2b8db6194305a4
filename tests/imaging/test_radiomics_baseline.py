"""Our Extractor reproduces pyradiomics' published baseline (``data/pyradiomics/baseline/baseline_<class>.csv``).

Each baseline column is one *test*: a test case (image + label) and the settings pyradiomics used, stored in the
``diagnostics_Configuration_Settings`` row (resampling, normalisation, resegmentation, fixed bin count, 2-D
extraction, flat region, ...). Columns with the same case and settings are run together, one extraction each,
with exactly the feature classes the baseline has for them. As in pyradiomics' own ``tests/testUtils.py``,
resegmentation is disabled for the shape class, and the ``<case>_2D`` cases of the shape2D baseline are a single
slice of the case's label (pyradiomics downloads them; here they are rebuilt and their SHA-1 checked against the
baseline's ``diagnostics_Mask-original_Hash``).

Tolerance: 1e-6 relative for every feature, with one documented exception: pyradiomics 3.1 itself no longer
reproduces four brain1 mesh features of this (older) baseline -- MeshVolume, SurfaceArea, SurfaceVolumeRatio and
Sphericity differ by up to 9.1e-4 relative with *stock* pyradiomics too (brain1's label has two separate volumes and
the mesh code changed since the baseline was generated). For those we assert agreement with stock pyradiomics 3.1 to
1e-9 relative, and agreement with the baseline to the 1e-3 the current code achieves.
"""

from __future__ import annotations

import ast
import csv
import logging
import math
import os
from pathlib import Path

import pytest

import SimpleITK as sitk  # noqa: E402 - required dependencies: a missing one is an error, never a skip
import radiomics  # noqa: E402

from imaging.compute.radiomics import Extractor  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CASES = ("brain1", "brain2", "breast1", "lung1", "lung2")
REL_TOL = 1e-6
# (test column, feature) pairs where stock pyradiomics 3.1.x itself is off the baseline (measured: max 9.1e-4).
STOCK_DEVIATES_FROM_BASELINE = {
    ("brain1", "original_shape_MeshVolume"),
    ("brain1", "original_shape_SurfaceArea"),
    ("brain1", "original_shape_SurfaceVolumeRatio"),
    ("brain1", "original_shape_Sphericity"),
}
STOCK_DEVIATION_TOL = 1e-3


def _data_dir() -> Path:
    return Path(os.environ.get("RADIMMUNO_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")) / "pyradiomics"


def _read_baseline(directory: Path) -> dict:
    """{column: {feature_class: {row_name: value}}} for every baseline_<class>.csv."""
    out: dict = {}
    for path in sorted((directory / "baseline").glob("baseline_*.csv")):
        cls = path.stem[len("baseline_"):]
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        header = rows[0][1:]
        for j, column in enumerate(header, start=1):
            out.setdefault(column, {})[cls] = {row[0]: row[j] for row in rows[1:]}
    return out


def _groups(baseline: dict) -> dict:
    """Columns sharing test case, settings and image types -> one extraction: {key: [(column, class), ...]}."""
    groups: dict = {}
    for column, classes in baseline.items():
        for cls, values in classes.items():
            settings = ast.literal_eval(values["diagnostics_Configuration_Settings"])
            if cls == "shape":
                settings["resegmentRange"] = None  # as pyradiomics' testUtils
            key = (values["diagnostics_Configuration_TestCase"], repr(sorted(settings.items())),
                   values["diagnostics_Configuration_EnabledImageTypes"])
            groups.setdefault(key, []).append((column, cls))
    return groups


_DATA = _data_dir()
_MISSING = [f"{c}_{kind}.nrrd" for c in CASES for kind in ("image", "label")
            if not (_DATA / f"{c}_{kind}.nrrd").is_file()]
if not (_DATA / "baseline").is_dir():
    _MISSING.append("baseline/")
_BASELINE = {} if _MISSING else _read_baseline(_DATA)
_GROUPS = _groups(_BASELINE) if _BASELINE else {}
_GROUP_IDS = ["+".join(sorted({col for col, _ in cols})) for cols in _GROUPS.values()]


@pytest.fixture(scope="module")
def data_dir() -> Path:
    if _MISSING:
        pytest.skip(f"pyradiomics test data missing in {_DATA}: {', '.join(_MISSING)} "
                    "(set RADIMMUNO_SHARED_DATA to the folder containing pyradiomics/)")
    return _DATA


@pytest.fixture(scope="module")
def case_images(data_dir):
    """Images and labels, read once; their SHA-1 must be the baseline's, proving it is the same data."""
    images = {}
    for case in CASES:
        image = sitk.ReadImage(str(data_dir / f"{case}_image.nrrd"))
        label = sitk.ReadImage(str(data_dir / f"{case}_label.nrrd"))
        expected = next(v for col, classes in _BASELINE.items() for v in classes.values()
                        if v.get("diagnostics_Configuration_TestCase") == case)
        assert sitk.Hash(image) == expected["diagnostics_Image-original_Hash"], f"{case} image differs from baseline"
        images[case] = (image, label)
    return images


def _mask_for(case: str, values: dict, images: dict):
    """The label for a test case; ``<case>_2D`` is one z-slice of the 3-D label (its own geometry)."""
    if not case.endswith("_2D"):
        return images[case]
    base = case[: -len("_2D")]
    image, label = images[base]
    z = int(ast.literal_eval(values["diagnostics_Mask-corrected_BoundingBox"])[2])
    mask = label[:, :, z:z + 1]
    assert sitk.Hash(sitk.Cast(mask, sitk.sitkUInt32)) == values["diagnostics_Mask-original_Hash"], \
        f"rebuilt {case} mask is not the baseline's"
    return image, mask


def _rel(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(b), 1e-300)


@pytest.mark.parametrize("group_key", list(_GROUPS) or [None], ids=_GROUP_IDS or ["no-data"])
def test_extractor_reproduces_pyradiomics_baseline(group_key, case_images):
    columns = _GROUPS[group_key]
    first_column, first_cls = columns[0]
    values0 = _BASELINE[first_column][first_cls]
    case = values0["diagnostics_Configuration_TestCase"]
    settings = dict(ast.literal_eval(group_key[1]))
    image_types = ast.literal_eval(group_key[2])
    classes = sorted({cls for _, cls in columns})
    params = {"setting": settings, "imageType": image_types, "featureClass": {cls: [] for cls in classes}}

    image, mask = _mask_for(case, values0, case_images)
    result = Extractor(params).extract(image, {case: mask})[case]
    assert result.ok, result.error
    features = result.features

    failures = []
    n_checked = 0
    for column, cls in columns:
        expected = {k: v for k, v in _BASELINE[column][cls].items() if not k.startswith("diagnostics_")}
        ours = {k for k in features if k.startswith(f"original_{cls}_")}
        # every feature of the class is in the baseline and vice versa (pyradiomics' own completeness check)
        assert ours == set(expected), f"{column}/{cls}: feature names differ: {sorted(ours ^ set(expected))}"
        for name, text in expected.items():
            reference = float(text)
            value = features[name]
            assert math.isfinite(value), f"{column}: {name} is {value}"
            n_checked += 1
            rel = _rel(value, reference)
            if (column, name) in STOCK_DEVIATES_FROM_BASELINE:
                if rel > STOCK_DEVIATION_TOL:
                    failures.append(f"{column} {name}: {value!r} vs baseline {reference!r} (rel {rel:.2e})")
            elif rel > REL_TOL:
                failures.append(f"{column} {name}: {value!r} vs baseline {reference!r} (rel {rel:.2e})")
    assert n_checked > 0
    assert not failures, "\n".join(failures)


@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")  # pykwalify, inside stock pyradiomics
def test_documented_baseline_deviations_are_stock_pyradiomics_behaviour(case_images):
    """The four brain1 mesh features off the baseline: ours equal stock pyradiomics 3.1 to 1e-9."""
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    values = _BASELINE["brain1"]["shape"]
    settings = ast.literal_eval(values["diagnostics_Configuration_Settings"])
    settings["resegmentRange"] = None
    params = {"setting": settings, "imageType": {"Original": {}}, "featureClass": {"shape": []}}
    image, mask = case_images["brain1"]
    stock = featureextractor.RadiomicsFeatureExtractor(params).execute(image, mask)
    ours = Extractor(params).extract(image, {"b": mask})["b"].raise_for_error().features
    worst_vs_baseline = 0.0
    for column, name in sorted(STOCK_DEVIATES_FROM_BASELINE):
        assert _rel(ours[name], float(stock[name])) <= 1e-9, name
        worst_vs_baseline = max(worst_vs_baseline, _rel(float(stock[name]), float(values[name])))
    # the exception is real (stock is measurably off the baseline) and small
    assert 1e-6 < worst_vs_baseline <= STOCK_DEVIATION_TOL
