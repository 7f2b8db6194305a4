"""What goes wrong assembling a series into a volume: errors that refuse it, warnings that let it through.

Pure Python; no Django imports.
"""

from __future__ import annotations

from dataclasses import dataclass


class VolumeAssemblyError(ValueError):
    """A series cannot be assembled into one correct volume.

    Attributes
    ----------
    code : str
        ``empty``, ``not_image``, ``mixed_series``, ``inconsistent_orientation``,
        ``invalid_orientation``, ``inconsistent_size``, ``inconsistent_spacing``,
        ``duplicate_position``, ``sheared``, ``missing_slice``, ``pixel_decode``,
        ``unsupported``.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class MissingSliceError(VolumeAssemblyError):
    """The series has a gap larger than ``MISSING_SLICE_FACTOR`` × the median slice step."""

    def __init__(self, message: str, gaps: list[tuple[float, float, int]]) -> None:
        #: (position before, position after, estimated number of missing slices)
        self.gaps = gaps
        super().__init__("missing_slice", message)



@dataclass(frozen=True)
class AssemblyWarning:
    """A non-fatal issue found while assembling a volume."""

    code: str
    message: str
