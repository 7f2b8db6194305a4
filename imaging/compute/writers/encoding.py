"""What every DICOM object we write needs: UIDs (fresh or reproducible), DS/DA strings, the file meta.

Pure Python (numpy, pydicom); no Django imports.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

IMPLEMENTATION_NAME = "radimmuno"
_PYDICOM_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's UID root, used by generate_uid


def _uid(entropy: str | None, *parts: Any) -> str:
    """A fresh UID, or a reproducible one when ``entropy`` is given."""
    if entropy is None:
        return generate_uid()
    return generate_uid(prefix=_PYDICOM_ROOT, entropy_srcs=[entropy, *map(str, parts)])


def _ds(value: float) -> str:
    """A float as a DICOM DS string: the most precise ``%g`` form that fits 16 characters.

    (pydicom's ``format_number_as_ds`` can return 17 characters, e.g. for
    -99.99999999999989.)
    """
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"cannot store {v} as a DICOM decimal string")
    for digits in range(16, 0, -1):
        text = f"{v:.{digits}g}"
        if len(text) <= 16:
            return "0" if text in ("-0", "0") else text
    raise ValueError(f"cannot format {v} as a DICOM decimal string")


def _da(value: dt.date | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        pydicom.valuerep.DA(value)  # validates YYYYMMDD
        return value
    return value.strftime("%Y%m%d")


def _file_meta(sop_class: str, sop_instance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"{IMPLEMENTATION_NAME}"[:16]
    return meta
