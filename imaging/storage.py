"""Stored objects of the imaging app: DICOM originals, label maps, masks and uploads, content-addressed in Django's
default storage (``dicom/ab/cd/<sha256>.dcm``), and the readers that turn them back into volumes and masks.

Writing is idempotent and never overwrites: a name is the SHA-256 of the content, so two writers of the same
content race harmlessly and another content has another name. Which files make a series is a question for the
rows (``imaging.selectors``, ``imaging.ingest``), which call the readers here with the stored names.

Imports no other imaging module but ``compute``: ingest and services build on it, not the other way round.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from radimmuno.lazy import lazy_import

sitk = lazy_import("SimpleITK")
volume = lazy_import("imaging.compute.volume")  # pydicom, Pillow: loaded on first use

_known_dirs = set()  # directories made by this process: one os.makedirs per directory, not one per file


def content_name(sha256, *, prefix="dicom", suffix=".dcm"):
    return f"{prefix}/{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"


def local_path(name):
    """The path of a stored name on this machine, or None on remote storage (S3 & co.)."""
    try:
        return default_storage.path(name)
    except NotImplementedError:
        return None


def storage_path(name):
    """The path of a stored name on this machine; raises ``NotImplementedError`` on remote storage (the listener's
    spool and temporary files are written in place, so they need local storage)."""
    return default_storage.path(name)


def _make_dir(directory):
    if directory not in _known_dirs:
        os.makedirs(directory, exist_ok=True)
        _known_dirs.add(directory)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- writing


def store_bytes(data, *, prefix="dicom", suffix=".dcm", sha256=None):
    """Store ``data`` unchanged under its SHA-256; idempotent. Returns (storage name, sha256).

    Two writers of the same content race harmlessly: each writes a temporary file and renames it over the
    same name. A different content has a different name, so an original is never overwritten.
    """
    sha256 = sha256 or sha256_hex(data)
    name = content_name(sha256, prefix=prefix, suffix=suffix)
    path = local_path(name)
    if path is not None:
        if not os.path.exists(path):
            directory = os.path.dirname(path)
            _make_dir(directory)
            try:
                fd, tmp = tempfile.mkstemp(dir=directory, prefix=".incoming-")
            except FileNotFoundError:  # the directory was removed since we made it
                os.makedirs(directory, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=directory, prefix=".incoming-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    elif not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent writer stored the same content first
            default_storage.delete(saved)
    return name, sha256


def store_stream(stream, *, head=b"", prefix="files", suffix=".bin", chunk=1 << 20):
    """Store ``head`` followed by the rest of ``stream`` under its SHA-256 without holding it in memory.
    Returns (storage name, sha256, size)."""
    digest, size = hashlib.sha256(), 0
    with tempfile.TemporaryFile() as tmp:
        block = head
        while block:
            digest.update(block)
            tmp.write(block)
            size += len(block)
            block = stream.read(chunk)
        sha256 = digest.hexdigest()
        name = content_name(sha256, prefix=prefix, suffix=suffix)
        if not default_storage.exists(name):
            tmp.seek(0)
            saved = default_storage.save(name, File(tmp))
            if saved != name:  # another writer stored the same content meanwhile
                default_storage.delete(saved)
    return name, sha256, size


def store_upload(uploaded_file, *, prefix, suffix):
    """Store an uploaded file under its SHA-256, read in chunks (Django keeps large uploads on disk). Returns the
    storage name."""
    digest = hashlib.sha256()
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    name = content_name(digest.hexdigest(), prefix=prefix, suffix=suffix)
    if not default_storage.exists(name):
        uploaded_file.seek(0)
        saved = default_storage.save(name, uploaded_file)
        if saved != name:  # stored meanwhile by a concurrent upload of the same content
            default_storage.delete(saved)
    return name


def write_temporary(data):
    """Write ``data`` to a temporary file next to the stored originals (local storage); returns its path. The
    caller hashes the same bytes meanwhile and then gives the file its name (``place_temporary``)."""
    directory = storage_path("dicom/.incoming")
    _make_dir(directory)
    fd, tmp = tempfile.mkstemp(dir=directory)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    return tmp


def place_temporary(tmp, sha256, *, prefix="dicom", suffix=".dcm"):
    """Move a temporary file to its content-addressed name (or drop it: the same content is there)."""
    name = content_name(sha256, prefix=prefix, suffix=suffix)
    path = storage_path(name)
    if os.path.exists(path):
        os.unlink(tmp)
        return name
    _make_dir(os.path.dirname(path))
    os.replace(tmp, path)
    return name


def store_mask(mask, geometry):
    """A boolean (z, y, x) mask as compressed NRRD (uint8) on ``geometry``; stored content-addressed."""
    image = geometry.to_sitk(np.asarray(mask, dtype=np.uint8))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mask.nrrd")
        sitk.WriteImage(image, path, useCompression=True)
        data = Path(path).read_bytes()
    return store_bytes(data, prefix="masks", suffix=".nrrd")


def exists(name):
    return default_storage.exists(name)


def delete(name):
    default_storage.delete(name)


# --------------------------------------------------------------------------- reading


def open_stored(name):
    """A stored file opened for reading (binary); use it as a context manager."""
    return default_storage.open(name, "rb")


def stored_bytes(name):
    with default_storage.open(name, "rb") as f:
        return f.read()


def stored_source(name):
    """What the compute layer can read for a stored file: its local path, else its bytes."""
    path = local_path(name)
    if path is not None:
        return path
    return stored_bytes(name)


@contextmanager
def local_copy(name, *, suffix=""):
    """A local path of a stored file for readers that only take paths (SimpleITK): the file itself on local
    storage, else a temporary copy, deleted on leaving the block."""
    path = local_path(name)
    if path is not None:
        yield path
        return
    tmp = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)
    try:
        with tmp:
            tmp.write(stored_bytes(name))
        yield tmp.name
    finally:
        os.unlink(tmp.name)


def read_volume(names, *, convert_pet_to_suv=True):
    """The stored instances ``names`` as one 3-D volume (``imaging.compute.volume.Volume``)."""
    return volume.assemble_volume([stored_source(n) for n in names], convert_pet_to_suv=convert_pet_to_suv)


def read_layout(instances, *, known=None):
    """The sorted geometry of stored image instances, given as (SOP Instance UID, storage name) pairs (headers
    only).

    ``known``: SOP Instance UID -> the header dict read when the instance arrived; the other instances' headers
    are read from storage. Re-reading 2,000 files at the end of an association only to sort them would take
    longer than receiving them. PET headers are re-read (SUVbw needs more attributes than the header dict
    keeps); so are multi-frame instances (their frames are placed from the per-frame functional groups) and
    remote-storage files, which have no local path.
    """
    known = known or {}
    sources = []
    for uid, name in instances:
        header, source = known.get(uid), stored_source(name)
        if (header is not None and not header["is_multiframe"] and header["modality"] != "PT"
                and isinstance(source, str)):
            source = volume.KnownHeader(header, source)
        sources.append(source)
    return volume.read_series_layout(sources, on_missing_slice="raise")


def read_mask(name):
    """A stored mask as a SimpleITK image (uint8, 1 = lesion)."""
    with local_copy(name, suffix=".nrrd") as path:
        return sitk.ReadImage(path)


def geometry_dict(geometry):
    """A ``Geometry`` as the JSON stored on a series row."""
    return {"size": list(geometry.size), "origin": list(geometry.origin), "spacing": list(geometry.spacing),
            "direction": list(geometry.direction)}


def geometry_from_dict(data):
    return volume.Geometry(size=tuple(int(v) for v in data["size"]), origin=tuple(data["origin"]),
                    spacing=tuple(data["spacing"]), direction=tuple(data["direction"]))
