"""The export's manifest: what was selected, what each file holds and its SHA-256, and what produced it.

Enough to cite and to reproduce an export: the selection and project, row counts, the column dictionary, the
extraction-profile versions of the features, the library versions, and the checksum of every data file. Only
``exported_at`` changes when unchanged data is exported again; every other byte, and every data file, is the same.
"""
import json
import platform
from importlib import metadata

#: Bumped when a table's columns or their meaning change.
EXPORT_SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
_DISTRIBUTIONS = {"django": "Django", "numpy": "numpy", "pandas": "pandas", "pyarrow": "pyarrow",
                  "pyradiomics": "pyradiomics-bhklab", "lifelines": "lifelines"}


def library_versions():
    """Versions of Python and of the libraries that shape the files (read from the installed distributions)."""
    versions = {"python": platform.python_version()}
    for name, distribution in _DISTRIBUTIONS.items():
        try:
            versions[name] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def build_manifest(*, selection, project, fmt, files, tables, profiles, excluded, exported_at, versions=None):
    """The manifest as a dict.

    ``files``: ``[{"table", "file", "rows", "bytes", "sha256"}]`` in writing order; ``tables``: the written
    ``Table`` definitions (their column dictionary); ``profiles``: ``[{"name", "version", "source",
    "params_sha256"}]``; ``excluded``: ``{reason: patients}``; ``exported_at``: an ISO 8601 text.
    """
    return {
        "export_schema_version": EXPORT_SCHEMA_VERSION,
        "exported_at": exported_at,
        "selection": selection,
        "project": project,
        "format": fmt,
        "days": "Whole days from the start of each patient's first immune checkpoint inhibitor regimen (day 0).",
        "excluded_patients": excluded,
        "row_counts": {f["table"]: f["rows"] for f in files},
        "files": [{"file": f["file"], "table": f["table"], "rows": f["rows"], "bytes": f["bytes"],
                   "sha256": f["sha256"]} for f in files],
        "columns": {t.name: t.dictionary() for t in tables},
        "extraction_profiles": profiles,
        "library_versions": versions or library_versions(),
    }


def manifest_bytes(manifest):
    """The manifest file's bytes: sorted keys, two-space indentation, UTF-8, a final newline."""
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
