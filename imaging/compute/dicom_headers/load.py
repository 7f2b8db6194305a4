"""Parse a DICOM file with pydicom, telling a truncated file, a non-DICOM file and a damaged one apart.

The first step of the pydicom way to a header (:mod:`.extract` is the second). Pure Python (pydicom); no Django
imports.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from pydicom.datadict import dictionary_has_tag
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from .errors import DicomHeaderError, _source_label


def _raw_elements(ds: Dataset) -> Iterable[Any]:
    """Yield the still-raw (unparsed) data elements of ``ds`` and its sequence items."""
    for elem in ds._dict.values():  # noqa: SLF001 - raw elements keep file offsets
        if hasattr(elem, "value_tell") and not hasattr(elem, "file_tell"):
            yield elem
        elif getattr(elem, "VR", None) == "SQ":
            for item in elem.value or ():
                yield from _raw_elements(item)


def _truncation_reason(ds: Dataset, size: int, eof_warnings: list[str]) -> str | None:
    """Return why ``ds`` (parsed from ``size`` bytes) is truncated, or ``None``.

    pydicom does not complain when a file ends in the middle of an element: it
    returns what it could read. We compare each raw element's declared length
    with the bytes that were actually there.
    """
    if eof_warnings:
        return eof_warnings[0]
    last_end = 0
    for elem in _raw_elements(ds):
        length = elem.length
        if length == 0xFFFFFFFF:
            continue
        end = elem.value_tell + length
        if end > size:
            return (
                f"element {elem.tag} declares {length} bytes but the file ends "
                f"{end - size} bytes early"
            )
        if isinstance(elem.value, bytes) and len(elem.value) < length:
            return f"element {elem.tag} declares {length} bytes but only {len(elem.value)} were read"
        last_end = max(last_end, end)
    # The element generator silently stops when fewer than 8 bytes (one tag
    # header) remain; leftover bytes after the last complete element mean the
    # file was cut inside the next element's header.
    top = [e for e in ds._dict.values()]  # noqa: SLF001
    if top:
        last = max(top, key=lambda e: e.tag)
        if hasattr(last, "value_tell") and last.length != 0xFFFFFFFF:
            tail = size - (last.value_tell + last.length)
            if 0 < tail < 8:
                return f"{tail} stray bytes after the last complete element"
    return None


def load_dataset(
    source: str | os.PathLike[str] | bytes | BinaryIO | Dataset,
    *,
    with_pixels: bool = False,
) -> Dataset:
    """Parse ``source`` into a pydicom dataset, raising :class:`DicomHeaderError`.

    Parameters
    ----------
    source : path, bytes, binary file object or pydicom Dataset
        The DICOM file. A :class:`~pydicom.dataset.Dataset` is returned as is.
    with_pixels : bool
        If False (default) large values (pixel data) are deferred, not read.

    Returns
    -------
    pydicom.dataset.Dataset

    Raises
    ------
    DicomHeaderError
        ``not_dicom`` if the bytes are not a DICOM dataset, ``truncated`` if
        the file ends before its last element does, ``unreadable`` for any
        other parse failure.

    Notes
    -----
    Files without the 128-byte preamble and ``DICM`` prefix are accepted when
    they parse into a dataset that has a SOP Class UID (older exports, and
    pydicom's own ``rtstruct.dcm``, look like that); anything else without
    the prefix is "not DICOM".
    """
    if isinstance(source, Dataset):
        return source
    label = _source_label(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise DicomHeaderError(label, "unreadable", "file does not exist")
        data: bytes | None = None
        size = path.stat().st_size
        target: Any = os.fspath(path)
    else:
        data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else source.read()
        size = len(data)
        target = None
    if size == 0:
        raise DicomHeaderError(label, "not_dicom", "the file is empty (0 bytes), not a DICOM file")

    def _read(force: bool) -> tuple[Dataset, list[str]]:
        fp = io.BytesIO(data) if data is not None else target
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(
                fp, force=force, defer_size=None if with_pixels else 1024
            )
        eof = [
            str(w.message)
            for w in caught
            if "end of file" in str(w.message).lower() or "eof" in str(w.message).lower()
        ]
        return ds, eof

    try:
        try:
            ds, eof = _read(force=False)
            had_prefix = True
        except InvalidDicomError:
            ds, eof = _read(force=True)
            had_prefix = False
    except (EOFError, OSError, struct.error) as exc:
        raise DicomHeaderError(label, "truncated", f"the file ends unexpectedly ({exc})") from exc
    except Exception as exc:  # pydicom raises many types on garbage input
        raise DicomHeaderError(
            label, "unreadable", f"pydicom could not parse the file ({type(exc).__name__}: {exc})"
        ) from exc

    if not had_prefix:
        # force=True parses anything into "elements"; only trust it if it
        # looks like a real DICOM object.
        try:
            plausible = "SOPClassUID" in ds and str(ds.SOPClassUID).startswith("1.2.")
        except Exception:  # noqa: BLE001 - garbage elements can fail to convert
            plausible = False
        if not plausible:
            # A DICOM data set without its SOP Class UID still parses into
            # standard tags; random bytes give unknown ones.
            tags = [t for t in ds.keys() if t.group != 0x0002]
            known = sum(dictionary_has_tag(t) for t in tags)
            plausible = len(tags) >= 3 and known >= 0.8 * len(tags)
        if not plausible:
            raise DicomHeaderError(
                label,
                "not_dicom",
                "not a DICOM file: no 'DICM' prefix after the 128-byte preamble and no "
                "parsable DICOM data set (SOP Class UID missing); check that the file is "
                "a DICOM export and not e.g. a PDF, a JPEG or a ZIP archive",
            )
    if not any(tag.group != 0x0002 for tag in ds.keys()):
        raise DicomHeaderError(
            label,
            "truncated",
            "the file has a DICOM preamble/file meta header but no data set after it; it was "
            "probably cut off during transfer - re-send it from the source system",
        )
    reason = _truncation_reason(ds, size, eof)
    if reason is not None:
        raise DicomHeaderError(
            label,
            "truncated",
            f"the file is truncated ({reason}); it was probably cut off during transfer - "
            "re-send it from the source system",
        )
    return ds
