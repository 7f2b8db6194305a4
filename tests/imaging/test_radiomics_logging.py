"""pyradiomics' log: printed once, at the application's level, and still captured per region (issue 9)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import radiomics  # noqa: E402 - required dependency: a missing one is an error, never a skip

from imaging.compute.radiomics import Extractor

PROJECT_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")  # pykwalify inside stock


def _run(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter, so pyradiomics is imported for the first time there."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)


def test_an_application_that_configures_logging_sees_each_warning_once_and_keeps_its_level():
    """As Django's LOGGING does: a root console handler, the radiomics logger at WARNING, configured before the
    import. pyradiomics' import used to set the logger to INFO and print every warning a second time."""
    out = _run(
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stderr, format='APP %(name)s %(message)s')\n"
        "logging.getLogger('radiomics').setLevel(logging.WARNING)\n"
        "import imaging.compute.radiomics\n"
        "log = logging.getLogger('radiomics.imageoperations')\n"
        "log.info('narration')\n"
        "log.warning('sigma skipped')\n"
        "print(logging.getLogger('radiomics').level)\n"
    )
    assert out.stdout.strip() == str(logging.WARNING)
    assert out.stderr.count("sigma skipped") == 1, out.stderr
    assert "APP radiomics.imageoperations sigma skipped" in out.stderr
    assert "narration" not in out.stderr


def test_a_script_without_logging_configuration_still_sees_pyradiomics_output_at_its_verbosity():
    out = _run(
        "import logging\n"
        "import imaging.compute.radiomics\n"
        "import radiomics\n"
        "log = logging.getLogger('radiomics.glcm')\n"
        "log.warning('shown')\n"
        "radiomics.setVerbosity(logging.ERROR)\n"
        "log.warning('hidden')\n"
        "log.error('an error')\n"
    )
    assert out.stderr.splitlines() == ["shown", "an error"]


@pytest.fixture
def pyradiomics_stderr():
    """pyradiomics' own handler writing to a buffer, at its default verbosity (other tests lower it)."""
    buffer = io.StringIO()
    old_stream = radiomics.handler.setStream(buffer)
    old_level = radiomics.handler.level
    radiomics.setVerbosity(logging.WARNING)
    try:
        yield buffer
    finally:
        radiomics.handler.setStream(old_stream)
        radiomics.handler.setLevel(old_level)


def test_with_another_handler_pyradiomics_own_handler_stays_silent(pyradiomics_stderr, caplog):
    with caplog.at_level(logging.WARNING):
        logging.getLogger("radiomics.imageoperations").warning("sigma skipped")
    assert [r.getMessage() for r in caplog.records] == ["sigma skipped"]
    assert pyradiomics_stderr.getvalue() == ""


def test_a_filter_warning_during_extraction_is_captured_and_logged_once(pyradiomics_stderr, caplog, tmp_path):
    """A LoG sigma too large for the region: pyradiomics skips it with a warning, which ends in the region's
    ``warnings`` and reaches the application's handlers exactly once."""
    import numpy as np
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    image = sitk.GetImageFromArray(rng.normal(40, 10, (12, 12, 12)).astype(np.float32))
    mask_array = np.zeros((12, 12, 12), dtype=np.uint8)
    mask_array[4:7, 4:7, 4:7] = 1  # a 3-voxel crop: too small for LoG
    mask = sitk.GetImageFromArray(mask_array)
    mask.CopyInformation(image)
    params = {"setting": {"binWidth": 25, "sigma": [1.0], "preCrop": True, "padDistance": 0},
              "imageType": {"Original": {}, "LoG": {}}}
    with caplog.at_level(logging.WARNING):
        result = Extractor(params).extract(image, {"l": mask})["l"]
    assert result.ok, result.error
    skipped = [w for w in result.warnings if "too small to apply LoG" in w]
    assert skipped, result.warnings
    logged = [r for r in caplog.records if r.name.startswith("radiomics") and "too small" in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in caplog.records]
    assert pyradiomics_stderr.getvalue() == ""
