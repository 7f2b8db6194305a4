"""The one exception a DICOM file radimmuno cannot use raises, and how a source is named in it.

Pure Python (pydicom); no Django imports.
"""

from __future__ import annotations

import os
from typing import Any

from pydicom.dataset import Dataset


class DicomHeaderError(ValueError):
    """A DICOM file radimmuno cannot ingest.

    Parameters
    ----------
    source : str
        What was read (a file name, or ``"<bytes>"``).
    code : str
        Machine-readable kind of trouble, one of ``"not_dicom"``,
        ``"truncated"``, ``"missing_attributes"``, ``"unsupported_sop_class"``,
        ``"no_pixel_data"``, ``"unreadable"``.
    reason : str
        Human-readable explanation, ideally with what to do about it.
    """

    def __init__(self, source: str, code: str, reason: str) -> None:
        self.source = source
        self.code = code
        self.reason = reason
        super().__init__(f"{source}: {reason}")


def _source_label(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, Dataset):
        fn = getattr(source, "filename", None)
        return fn if isinstance(fn, str) and fn else "<dataset>"
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<bytes>"
