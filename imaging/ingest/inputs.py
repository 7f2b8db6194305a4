"""The inputs of an ingest run: what a received file is, the listener's spool, folders and zip archives, and the
lines of a job's manifest (the list a re-run of the job ingests again)."""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pydicom.filereader import _read_file_meta_info

from ..choices import QuarantineReason, SegmentationKind
from ..compute.dicom_headers import RTSTRUCT_SOP_CLASS, SEGMENTATION_SOP_CLASS, DicomHeaderError, read_dicom_header
from ..compute.pixels import pixel_data_problem
from ..storage import storage_path
from .outcomes import REJECTED, Outcome

SEGMENTATION_SOP_CLASSES = {SEGMENTATION_SOP_CLASS: SegmentationKind.SEG, RTSTRUCT_SOP_CLASS: SegmentationKind.RTSTRUCT}
LABEL_MAP_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")
SKIPPED_NAMES = {"DICOMDIR", ".DS_Store", "Thumbs.db"}


@dataclass
class Received:
    """A file whose header was read and whose original is stored (or, from the listener, spooled)."""

    header: dict
    sha256: str
    name: str
    size: int
    label: str
    data: bytes | None = None  # kept only while the file is being checked (not in batches)
    spooled: tuple | None = None  # listener: (offset, length) in the run's spool, not yet hashed and placed


def examine(data):
    """The header of a DICOM file's bytes (read without the pixels), or the Outcome refusing the file."""
    try:
        return read_dicom_header(data)
    except DicomHeaderError as exc:
        return Outcome.refused(exc.code, exc.reason, kind=REJECTED)


def undecodable(data, header):
    """The Outcome refusing a file whose pixel data cannot be decoded into the frames its header declares (a
    length that does not fit, a transfer syntax the data does not follow, no decoder installed), else None.
    Checked before the file's UID is looked at: such a file is never indexed, so never a volume."""
    reason = pixel_data_problem(data, header)
    return None if reason is None else Outcome.refused(QuarantineReason.UNREADABLE, reason, kind=REJECTED)


def label_map_suffix(filename):
    lower = filename.lower()
    return next((s for s in LABEL_MAP_SUFFIXES if lower.endswith(s)), None)


def dataset_offset(data):
    """Where the data set starts in a DICOM file's bytes (after preamble and file meta; 0 without them)."""
    if len(data) < 132 or data[128:132] != b"DICM":
        return 0
    fp = io.BytesIO(data)
    fp.seek(132)
    try:
        _read_file_meta_info(fp)
    except Exception:  # noqa: BLE001 - a broken meta group: compare the whole file
        return 0
    return fp.tell()


def dataset_sha256(data):
    """SHA-256 of the data set alone: what "the same content" means for two copies of one DICOM instance.

    The file meta group is written by whoever stored the file (a network receiver makes its own), so two
    copies of one instance differ there; their data sets do not.
    """
    return hashlib.sha256(memoryview(data)[dataset_offset(data):]).hexdigest()


def manifest_line(name, label):
    """One input of a job's manifest: its storage name (or ``path:``/``spool:`` reference) and its label."""
    return f"{name}\t{label.replace(chr(9), ' ').replace(chr(10), ' ')}\n"


# --------------------------------------------------------------------------- the listener's spool


class Spool:
    """The files a listener run received, appended to one file as (8-byte length, bytes) records.

    While the sender waits only this append (and the header check) happens; hashing a file to its content
    address and indexing it is the indexer thread's work. One spool per run: creating a file per instance costs
    more than the rest together. The spool is listed in the job's manifest, so a crashed run re-runs from it.
    """

    def __init__(self, name):
        self.name = name
        self.path = storage_path(name)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._size = 0

    def append(self, data):
        """Append one file; returns its place, (offset, length)."""
        offset = self._size
        self._size += 8 + len(data)
        # One syscall, in the receiving thread: a pool thread would need the GIL to start and to report, and
        # waited for it behind the header parse (~1.6 ms per 512 KB file).
        written = os.pwritev(self._fd, [len(data).to_bytes(8, "little"), data], offset)
        if written != 8 + len(data):  # a full disk: fail this file (its record is cut short, never acknowledged)
            raise OSError(f"spool write cut short ({written} of {8 + len(data)} bytes)")
        return offset + 8, len(data)

    def read(self, place):
        offset, length = place
        return os.pread(self._fd, length, offset)

    def sync(self):
        """The appended files are on disk (before they are acknowledged)."""
        os.fdatasync(self._fd)

    def sync_directory(self):
        """The spool's name is on disk in its directory."""
        fd = os.open(os.path.dirname(self.path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self, *, delete=False):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if delete:
                Path(self.path).unlink(missing_ok=True)


def read_spool(path):
    """The files appended to a listener spool (a last record cut short by a crash was never acknowledged)."""
    with open(path, "rb") as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                return
            length = int.from_bytes(head, "little")
            data = f.read(length)
            if len(data) < length:
                return
            yield data


# --------------------------------------------------------------------------- folders and archives


def zip_members(archive):
    for info in archive.infolist():
        base = info.filename.rsplit("/", 1)[-1]
        if info.is_dir() or not base or base in SKIPPED_NAMES or base.startswith(".") or "__MACOSX/" in info.filename:
            continue
        yield info


def iter_input_files(paths):
    """Files under ``paths`` (files as given, folders recursively in name order)."""
    for path in map(Path, paths):
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for filename in sorted(files):
                    if filename not in SKIPPED_NAMES and not filename.startswith("."):
                        yield Path(root) / filename
        else:
            yield path


def is_zip(path):
    return Path(path).suffix.lower() == ".zip"


def count_inputs(paths):
    """How many files ``ingest_paths`` will read (zip members counted one by one), for progress bars."""
    total = 0
    for path in iter_input_files(paths):
        if is_zip(path):
            try:
                with zipfile.ZipFile(path) as archive:
                    total += sum(1 for _ in zip_members(archive))
            except (zipfile.BadZipFile, OSError):
                total += 1
        else:
            total += 1
    return total
