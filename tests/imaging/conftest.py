"""Fixtures for the imaging tests: where the shared real data lives, and lung2 as DICOM.

The shared data (pyradiomics' test volumes) is found through the environment
variable ``RADIMMUNO_SHARED_DATA`` (default: ``<project root>/../shared/data``).
Tests that need it are skipped, saying what is missing, when it is not there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path:
    return Path(os.environ.get("RADIMMUNO_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def pyradiomics_data() -> Path:
    """Directory with pyradiomics' <case>_image.nrrd / <case>_label.nrrd test volumes."""
    root = shared_data_dir() / "pyradiomics"
    needed = ["lung2_image.nrrd", "lung2_label.nrrd"]
    missing = [name for name in needed if not (root / name).is_file()]
    if missing:
        pytest.skip(
            f"shared test data missing: {', '.join(missing)} not found in {root} "
            "(set RADIMMUNO_SHARED_DATA to the folder that contains pyradiomics/)"
        )
    return root


@pytest.fixture(scope="session")
def lung2(pyradiomics_data):
    """(image, label) SimpleITK images of pyradiomics' lung2 case."""
    import SimpleITK as sitk

    return (
        sitk.ReadImage(str(pyradiomics_data / "lung2_image.nrrd")),
        sitk.ReadImage(str(pyradiomics_data / "lung2_label.nrrd")),
    )


@pytest.fixture(scope="session")
def lung2_dicom(lung2, tmp_path_factory):
    """lung2_image.nrrd written once per session as a DICOM CT series (WrittenSeries)."""
    from imaging.compute.writers import write_ct_series

    image, _ = lung2
    out = tmp_path_factory.mktemp("lung2_ct")
    return write_ct_series(
        image,
        out,
        patient_id="LUNG2",
        study_date="20240115",
        series_description="lung2 from pyradiomics",
        convolution_kernel="B30f",
        uid_entropy="lung2-test",
    )


@pytest.fixture(scope="session")
def lung2_layout(lung2_dicom):
    from imaging.compute.volume import read_series_layout

    return read_series_layout(lung2_dicom.paths)
