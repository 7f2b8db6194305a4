"""Read lesion masks onto the voxel grid of their reference image series.

Three sources are supported, all returning a :class:`MaskSet` whose masks are
boolean ``(z, y, x)`` arrays on the reference grid (the
:class:`~imaging.compute.volume.SeriesLayout` / ``Volume`` of the image
series the masks were drawn on):

* DICOM SEG (:func:`read_seg_masks`, read with highdicom): frames are mapped to
  reference slices by SOP Instance UID (highdicom's frame references), and by
  plane position when the SEG carries no usable references.
* DICOM RTSTRUCT (:func:`read_rtstruct_masks`): each ROI's closed planar
  contours are rasterised slice by slice. A voxel belongs to the ROI when its
  centre lies inside the contours by the *even-odd* rule over all contours of
  that ROI on that slice, so a contour drawn inside another is a hole.
* Label maps in NIfTI/NRRD (:func:`read_label_map`, read with SimpleITK):
  geometry must match the reference within tolerance, else
  :class:`GeometryMismatchError`, unless ``resample=True`` (nearest neighbour,
  recorded in ``MaskSet.resampled`` and ``MaskSet.notes``).

Also here, because writers and readers must agree on them:
:func:`mask_to_polygons` (exact pixel-boundary contours of a 2-D mask) and
:func:`rasterize_polygons` (even-odd polygon fill at pixel centres).

Pure Python (numpy, pydicom, highdicom, SimpleITK); no Django imports.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset

from .dicom_headers import (
    RTSTRUCT_SOP_CLASS,
    SEGMENTATION_SOP_CLASS,
    header_from_dataset,
    load_dataset,
)
from .volume import Geometry, SeriesLayout

__all__ = [
    "GeometryMismatchError",
    "MaskSet",
    "SegmentationError",
    "UnknownReferenceError",
    "check_geometry",
    "mask_to_polygons",
    "rasterize_polygons",
    "read_label_map",
    "read_rtstruct_masks",
    "read_seg_masks",
]

DicomSource = str | os.PathLike[str] | bytes | BinaryIO | Dataset

#: Default tolerances for "the same grid".
GEOMETRY_TOLERANCE_MM = 0.01
DIRECTION_TOLERANCE = 1e-4
#: A contour whose points lie further than this (in slice steps) from a slice
#: plane does not belong to any slice.
OFF_PLANE_TOLERANCE = 0.25


class SegmentationError(ValueError):
    """A segmentation cannot be read onto the reference grid."""


class GeometryMismatchError(SegmentationError):
    """The mask's voxel grid differs from the reference grid beyond tolerance.

    Attributes
    ----------
    differences : dict
        Property -> (mask value, reference value, max abs difference), for
        the properties that differ.
    """

    def __init__(self, message: str, differences: dict[str, tuple[Any, Any, float]]) -> None:
        self.differences = differences
        super().__init__(message)


class UnknownReferenceError(SegmentationError):
    """The segmentation references a series / instances / frame of reference other than the reference."""


@dataclass
class MaskSet:
    """Masks of one segmentation object on the reference grid.

    Attributes
    ----------
    masks : dict
        Segment label / ROI name -> boolean ``(z, y, x)`` array.
    source_format : str
        ``"SEG"``, ``"RTSTRUCT"`` or ``"LABELMAP"``.
    numbers : dict
        Segment label -> segment number (SEG), ROI number (RTSTRUCT) or label
        value (label map).
    resampled : bool
        True when a label map was resampled onto the reference grid.
    notes : list of str
        What was done that a curator may want to know (mapping used,
        resampling, skipped contours, renamed duplicates).
    """

    masks: dict[str, np.ndarray]
    source_format: str
    numbers: dict[str, int] = field(default_factory=dict)
    resampled: bool = False
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- polygons

# Directed pixel-boundary edges on the corner lattice (corner (i, j) is the
# point x = j - 0.5, y = i - 0.5 in index space). Each foreground pixel (r, c)
# contributes the sides that face background, oriented clockwise on screen
# (x right, y down), so the foreground is always on the same side of an edge.
_DIRS = np.array([(0, 1), (1, 0), (0, -1), (-1, 0)])  # (di, dj): +x, +y, -x, -y


def mask_to_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """Exact boundary polygons of a 2-D mask, along pixel edges.

    Parameters
    ----------
    mask : (ny, nx) array_like of bool

    Returns
    -------
    list of (N, 2) float arrays
        Closed polygons (first vertex not repeated) with vertices ``(x, y)`` in
        continuous index coordinates: pixel ``[r, c]`` is the unit square
        centred on ``(c, r)``, so vertices sit at half-integers. Only corner
        vertices are kept (collinear points removed). Outer boundaries and hole
        boundaries are both returned; filling them with the even-odd rule
        (:func:`rasterize_polygons`) reproduces ``mask`` exactly.

    Notes
    -----
    Where two foreground pixels touch only at a corner, the traversal turns so
    that they become separate polygons (4-connectivity); polygons may touch at
    such a vertex but never cross.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask_to_polygons expects a 2-D mask, got shape {m.shape}")
    p = np.pad(m, 1)
    core = p[1:-1, 1:-1]
    rr, cc = np.nonzero(core)
    if rr.size == 0:
        return []
    starts, dirs = [], []
    # top side: neighbour above is background -> edge (r, c) -> (r, c+1), direction +x
    for d, (nb_dr, nb_dc), (si, sj) in (
        (0, (-1, 0), (0, 0)),
        (1, (0, 1), (0, 1)),
        (2, (1, 0), (1, 1)),
        (3, (0, -1), (1, 0)),
    ):
        nb = p[1 + rr + nb_dr, 1 + cc + nb_dc]
        sel = ~nb
        starts.append(np.column_stack([rr[sel] + si, cc[sel] + sj]))
        dirs.append(np.full(int(sel.sum()), d))
    start = np.concatenate(starts)
    direction = np.concatenate(dirs)
    end = start + _DIRS[direction]

    by_start: dict[tuple[int, int], list[int]] = defaultdict(list)
    for k, (i, j) in enumerate(map(tuple, start.tolist())):
        by_start[(i, j)].append(k)
    used = np.zeros(len(start), dtype=bool)
    polygons: list[np.ndarray] = []
    for first in range(len(start)):
        if used[first]:
            continue
        verts = []
        k = first
        while True:
            used[k] = True
            verts.append((start[k], direction[k]))
            nxt = [e for e in by_start[tuple(end[k].tolist())] if not used[e]]
            if not nxt:
                break
            if len(nxt) > 1:
                # Pinch corner: prefer the right turn (clockwise), which keeps
                # diagonal-only neighbours in separate polygons.
                right = (direction[k] + 1) % 4
                nxt.sort(key=lambda e: 0 if direction[e] == right else 1)
            k = nxt[0]
        pts = np.array([v for v, _ in verts], dtype=float)
        d = np.array([dd for _, dd in verts])
        corner = d != np.roll(d, 1)  # vertex where the direction changes
        poly = pts[corner][:, ::-1] - 0.5  # (i, j) -> (x=j-0.5, y=i-0.5)
        polygons.append(poly)
    return polygons


def rasterize_polygons(polygons: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Fill polygons at pixel centres with the even-odd rule.

    Parameters
    ----------
    polygons : sequence of (N, 2) arrays
        Closed polygons, vertices ``(x, y)`` in continuous index coordinates
        (pixel ``[r, c]`` has its centre at ``(c, r)``).
    shape : (ny, nx)

    Returns
    -------
    (ny, nx) bool array
        True where a pixel centre lies inside an odd number of polygons'
        interiors (ray crossing parity over *all* the polygons, so nested
        polygons make holes). Centres exactly on an edge follow the half-open
        convention (left/top edges inside, right/bottom outside).
    """
    ny, nx = shape
    toggles = np.zeros((ny, nx + 1), dtype=np.int64)
    for poly in polygons:
        pts = np.asarray(poly, dtype=float)
        if pts.ndim != 2 or pts.shape[0] < 3 or pts.shape[1] != 2:
            continue
        x0, y0 = pts[:, 0], pts[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        keep = y0 != y1
        x0, y0, x1, y1 = x0[keep], y0[keep], x1[keep], y1[keep]
        ylo, yhi = np.minimum(y0, y1), np.maximum(y0, y1)
        r_start = np.clip(np.ceil(ylo), 0, ny).astype(np.int64)
        r_stop = np.clip(np.ceil(yhi), 0, ny).astype(np.int64)  # half-open [ylo, yhi)
        counts = np.maximum(r_stop - r_start, 0)
        if counts.sum() == 0:
            continue
        edge = np.repeat(np.arange(len(x0)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = r_start[edge] + offsets
        xc = x0[edge] + (rows - y0[edge]) * (x1[edge] - x0[edge]) / (y1[edge] - y0[edge])
        # A crossing at xc flips every centre c < xc (ray towards +x).
        k = np.clip(np.ceil(xc), 0, nx).astype(np.int64)
        np.add.at(toggles, (rows, np.zeros_like(rows)), 1)
        np.add.at(toggles, (rows, k), 1)
    return (np.cumsum(toggles[:, :nx], axis=1) % 2).astype(bool)


# --------------------------------------------------------------------------- geometry


def lattice_reindexing(
    actual: Geometry,
    expected: Geometry,
    *,
    tolerance_mm: float = GEOMETRY_TOLERANCE_MM,
    direction_tolerance: float = DIRECTION_TOLERANCE,
):
    """How to re-index ``actual`` onto ``expected`` when both are the *same voxel lattice* in space.

    Two grids can hold exactly the same voxel centres but number them differently: axes in another order or
    running the other way (e.g. a left-handed NRRD, whose slices a DICOM reader orders along x × y, the
    other way round). Re-indexing such a grid is exact - no interpolation. Returns ``(perm, flips)`` where
    expected axis ``i`` is actual axis ``perm[i]``, reversed when ``flips[i]``; ``None`` when the grids are
    not the same lattice.
    """
    d_act = np.array(actual.direction, dtype=float).reshape(3, 3)
    d_exp = np.array(expected.direction, dtype=float).reshape(3, 3)
    perm, flips = [], []
    for i in range(3):
        dots = d_act.T @ d_exp[:, i]
        candidates = [j for j in range(3) if abs(abs(dots[j]) - 1) <= direction_tolerance]
        if len(candidates) != 1 or candidates[0] in perm:
            return None
        j = candidates[0]
        if actual.size[j] != expected.size[i] or abs(actual.spacing[j] - expected.spacing[i]) > tolerance_mm:
            return None
        perm.append(j)
        flips.append(bool(dots[j] < 0))
    # the voxel of ``actual`` that lands on expected index (0, 0, 0) must sit at expected's origin
    corner = [0, 0, 0]
    for i, j in enumerate(perm):
        corner[j] = actual.size[j] - 1 if flips[i] else 0
    point = np.asarray(actual.origin) + d_act @ (np.asarray(corner) * np.asarray(actual.spacing))
    if np.max(np.abs(point - np.asarray(expected.origin))) > tolerance_mm:
        return None
    if perm == [0, 1, 2] and not any(flips):
        return None  # same numbering: not a re-indexing case (check_geometry decides)
    return perm, flips


def reindex_array(array_zyx: np.ndarray, perm, flips) -> np.ndarray:
    """Apply :func:`lattice_reindexing`'s result to a ``[z, y, x]`` array (exact, a view when possible)."""
    # numpy axis k holds SimpleITK axis 2 - k
    out = np.transpose(array_zyx, [2 - perm[2 - k] for k in range(3)])
    for i, flip in enumerate(flips):
        if flip:
            out = np.flip(out, axis=2 - i)
    return out


def check_geometry(
    actual: Geometry,
    expected: Geometry,
    *,
    tolerance_mm: float = GEOMETRY_TOLERANCE_MM,
    direction_tolerance: float = DIRECTION_TOLERANCE,
    what: str = "mask",
    allow_reindexing: bool = False,
) -> None:
    """Raise :class:`GeometryMismatchError` unless the two grids agree within tolerance.

    Size must match exactly; spacing and origin within ``tolerance_mm``;
    direction cosines within ``direction_tolerance``. With ``allow_reindexing``, a grid that is the same
    voxel lattice numbered differently (:func:`lattice_reindexing`) also passes.
    """
    if allow_reindexing and lattice_reindexing(actual, expected, tolerance_mm=tolerance_mm,
                                               direction_tolerance=direction_tolerance) is not None:
        return
    diffs = actual.differences(expected)
    limits = {"size": 0.0, "spacing": tolerance_mm, "origin": tolerance_mm, "direction": direction_tolerance}
    bad = {k: v for k, v in diffs.items() if v[2] > limits[k]}
    if bad:

        def fmt(v: Any) -> str:
            return "(" + ", ".join(f"{x:.6g}" for x in v) + ")"

        parts = [
            f"{k}: {what} {fmt(a)} vs reference {fmt(b)} (max difference {d:.6g}, tolerance {limits[k]:g})"
            for k, (a, b, d) in bad.items()
        ]
        raise GeometryMismatchError(
            f"the {what} grid does not match the reference series grid - " + "; ".join(parts)
            + ". It was probably drawn on another series or reconstruction; pick the right "
            "reference series, or pass resample=True to resample it (nearest neighbour)",
            bad,
        )


def _reference_geometry(reference: SeriesLayout | Geometry) -> Geometry:
    return reference if isinstance(reference, Geometry) else reference.geometry


# --------------------------------------------------------------------------- label maps


def _slicer_segment_names(image: sitk.Image) -> dict[int, str]:
    """Segment names stored by 3D Slicer in .seg.nrrd metadata (SegmentN_Name / _LabelValue)."""
    names: dict[int, str] = {}
    keys = set(image.GetMetaDataKeys())
    n = 0
    while f"Segment{n}_Name" in keys:
        value_key = f"Segment{n}_LabelValue"
        value = int(image.GetMetaData(value_key)) if value_key in keys else n + 1
        names[value] = image.GetMetaData(f"Segment{n}_Name")
        n += 1
    return names


def read_label_map(
    source: str | os.PathLike[str] | sitk.Image,
    reference: SeriesLayout | Geometry,
    *,
    resample: bool = False,
    label_names: Mapping[int, str] | None = None,
    tolerance_mm: float = GEOMETRY_TOLERANCE_MM,
    direction_tolerance: float = DIRECTION_TOLERANCE,
) -> MaskSet:
    """Read an integer label map (NIfTI, NRRD, ... via SimpleITK) onto the reference grid.

    Parameters
    ----------
    source : path or SimpleITK image
    reference : SeriesLayout, Volume or Geometry
        The grid the masks must be on.
    resample : bool
        If the grids differ: False (default) raises
        :class:`GeometryMismatchError`; True resamples with nearest neighbour
        (voxels outside the label map become background) and records it.
    label_names : mapping, optional
        Label value -> name. Defaults to Slicer segment names in the file's
        metadata, else ``"label <value>"``.
    tolerance_mm, direction_tolerance : float
        See :func:`check_geometry`.

    Returns
    -------
    MaskSet
        One mask per non-zero label value present.
    """
    if isinstance(source, sitk.Image):
        image = source
        label = "label map"
    else:
        label = os.fspath(source)
        try:
            image = sitk.ReadImage(label)
        except RuntimeError as exc:
            raise SegmentationError(f"{label}: SimpleITK cannot read this label map ({exc})") from exc
    if image.GetDimension() != 3:
        raise SegmentationError(f"{label}: expected a 3-D label map, got {image.GetDimension()}-D")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise SegmentationError(f"{label}: expected one label per voxel, got vector pixels")
    if image.GetPixelID() in (sitk.sitkFloat32, sitk.sitkFloat64):
        values = sitk.GetArrayViewFromImage(image)
        if not np.array_equal(values, np.round(values)):
            raise SegmentationError(f"{label}: label map has non-integer values (a probability map?)")
    names = dict(_slicer_segment_names(image))
    if label_names:
        names.update(label_names)

    ref = _reference_geometry(reference)
    notes: list[str] = []
    resampled = False
    try:
        check_geometry(
            Geometry.from_sitk(image),
            ref,
            tolerance_mm=tolerance_mm,
            direction_tolerance=direction_tolerance,
            what="label map",
        )
    except GeometryMismatchError as exc:
        reindexing = lattice_reindexing(Geometry.from_sitk(image), ref, tolerance_mm=tolerance_mm,
                                        direction_tolerance=direction_tolerance)
        if reindexing is not None:
            array = np.ascontiguousarray(reindex_array(sitk.GetArrayFromImage(image), *reindexing))
            image = ref.to_sitk(array)
            notes.append(f"re-indexed onto the reference grid without interpolation (same voxels, axis order "
                         f"{reindexing[0]}, reversed axes {[i for i, f in enumerate(reindexing[1]) if f]})")
        elif not resample:
            raise
        else:
            grid = ref.to_sitk(np.zeros(ref.shape_zyx, dtype=np.uint8))
            image = sitk.Resample(image, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, image.GetPixelID())
            resampled = True
            notes.append(f"resampled onto the reference grid (nearest neighbour) because {exc}")
    array = sitk.GetArrayFromImage(image)
    masks: dict[str, np.ndarray] = {}
    numbers: dict[str, int] = {}
    for value in np.unique(array):
        if value == 0:
            continue
        name = _unique_name(names.get(int(value), f"label {int(value)}"), masks, notes)
        masks[name] = array == value
        numbers[name] = int(value)
    if not masks:
        notes.append("the label map is empty (no non-zero voxels on the reference grid)")
    return MaskSet(masks=masks, source_format="LABELMAP", numbers=numbers, resampled=resampled, notes=notes)


def _unique_name(name: str, existing: Mapping[str, Any], notes: list[str]) -> str:
    if name not in existing:
        return name
    n = 2
    while f"{name} ({n})" in existing:
        n += 1
    notes.append(f"duplicate name {name!r} renamed to {name + f' ({n})'!r}")
    return f"{name} ({n})"


# --------------------------------------------------------------------------- SEG


def _load_typed(source: DicomSource, sop_class: str, kind: str) -> tuple[Dataset, str]:
    label = os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"<{kind}>"
    ds = load_dataset(source, with_pixels=True)
    header = header_from_dataset(ds, source=label)
    if header["sop_class_uid"] != sop_class:
        raise SegmentationError(f"{label}: expected a {kind} object, got {header['sop_class_name']}")
    return ds, label


def _referenced_series_uids(ds: Dataset) -> set[str]:
    uids = {str(item.SeriesInstanceUID) for item in ds.get("ReferencedSeriesSequence", []) if "SeriesInstanceUID" in item}
    for ref_for in ds.get("ReferencedFrameOfReferenceSequence", []):
        for study in ref_for.get("RTReferencedStudySequence", []):
            for series in study.get("RTReferencedSeriesSequence", []):
                if "SeriesInstanceUID" in series:
                    uids.add(str(series.SeriesInstanceUID))
    return uids


def _check_series_reference(ds: Dataset, reference: SeriesLayout, label: str, kind: str) -> None:
    referenced = _referenced_series_uids(ds)
    if referenced and reference.series_instance_uid not in referenced:
        raise UnknownReferenceError(
            f"{label}: this {kind} was drawn on series {', '.join(sorted(referenced))}, not on the "
            f"reference series {reference.series_instance_uid}; ingest the referenced series "
            "first, or choose it as the reference"
        )
    for_uid = ds.get("FrameOfReferenceUID")
    if (
        not referenced
        and for_uid
        and reference.frame_of_reference_uid
        and str(for_uid) != reference.frame_of_reference_uid
    ):
        raise UnknownReferenceError(
            f"{label}: this {kind} references no series and its frame of reference {for_uid} "
            f"differs from the reference series' {reference.frame_of_reference_uid}"
        )


def read_seg_masks(source: DicomSource, reference: SeriesLayout) -> MaskSet:
    """Read a DICOM SEG onto the reference series grid, one boolean mask per segment.

    Parameters
    ----------
    source : path, bytes, file object or pydicom Dataset
        A Segmentation Storage object (BINARY or FRACTIONAL; fractional values
        are thresholded at 0.5 of MaximumFractionalValue).
    reference : SeriesLayout or Volume
        The single-frame series the SEG was derived from.

    Returns
    -------
    MaskSet
        Keys are the SegmentLabel strings; ``numbers`` maps them to segment
        numbers.

    Raises
    ------
    UnknownReferenceError
        The SEG references another series, or instances/positions that are not
        in the reference.
    GeometryMismatchError
        Frames are not on the reference grid (other orientation or spacing).
    SegmentationError, DicomHeaderError
        Not a SEG / unreadable.
    """
    import highdicom as hd

    ds, label = _load_typed(source, SEGMENTATION_SOP_CLASS, "DICOM SEG")
    _check_series_reference(ds, reference, label, "segmentation")
    try:
        seg = hd.seg.Segmentation.from_dataset(ds, copy=False)
    except Exception as exc:  # noqa: BLE001 - highdicom validates and raises many types
        raise SegmentationError(f"{label}: highdicom cannot read this SEG ({type(exc).__name__}: {exc})") from exc

    geo = reference.geometry
    nz = geo.size[2]
    segment_numbers = list(seg.segment_numbers)
    notes: list[str] = []
    stacked: np.ndarray | None = None
    referenced_uids = {uid for _, _, uid in seg.get_source_image_uids()}
    unknown = referenced_uids - set(reference.sop_instance_uids)
    if unknown:
        # Frames of those images would be dropped silently otherwise.
        raise UnknownReferenceError(
            f"{label}: {len(unknown)} of the {len(referenced_uids)} source images the SEG "
            f"references are not in the reference series {reference.series_instance_uid} "
            f"(e.g. {sorted(unknown)[0]}); the reference series is incomplete or not the one "
            "the SEG was drawn on"
        )
    if referenced_uids and reference.frame_numbers is None:
        try:
            stacked = seg.get_pixels_by_source_instance(
                source_sop_instance_uids=list(reference.sop_instance_uids),
                segment_numbers=segment_numbers,
                assert_missing_frames_are_empty=True,
                rescale_fractional=True,
            )
            notes.append("frames mapped to reference slices by SOP Instance UID")
        except (ValueError, RuntimeError, KeyError) as exc:
            notes.append(f"SOP Instance UID mapping unavailable ({exc}); mapped by position")
            stacked = None
    if stacked is None:
        stacked = _seg_by_position(ds, reference, segment_numbers, label)
        notes.append("frames mapped to reference slices by ImagePositionPatient")
    if stacked.shape[:3] != (nz, geo.size[1], geo.size[0]):
        raise GeometryMismatchError(
            f"{label}: SEG frames are {stacked.shape[1:3]} pixels, reference slices are "
            f"{(geo.size[1], geo.size[0])}",
            {"size": (stacked.shape[1:3], (geo.size[1], geo.size[0]), float("nan"))},
        )
    fractional = str(ds.SegmentationType).upper() == "FRACTIONAL"
    masks: dict[str, np.ndarray] = {}
    numbers: dict[str, int] = {}
    for i, number in enumerate(segment_numbers):
        description = seg.get_segment_description(number)
        name = _unique_name(str(description.SegmentLabel), masks, notes)
        channel = stacked[..., i]
        masks[name] = channel > 0.5 if fractional else channel.astype(bool)
        numbers[name] = int(number)
    return MaskSet(masks=masks, source_format="SEG", numbers=numbers, notes=notes)


def _seg_by_position(
    ds: Dataset, reference: SeriesLayout, segment_numbers: list[int], label: str
) -> np.ndarray:
    """Place SEG frames by their plane position (for SEGs without usable source references)."""
    geo = reference.geometry
    nx, ny, nz = geo.size
    shared = ds.get("SharedFunctionalGroupsSequence", [Dataset()])[0]
    frames = ds.pixel_array
    if frames.ndim == 2:
        frames = frames[np.newaxis]
    if str(ds.SegmentationType).upper() == "FRACTIONAL":
        frames = frames.astype(np.float32) / float(ds.MaximumFractionalValue)
    out = np.zeros((nz, ny, nx, len(segment_numbers)), dtype=frames.dtype)
    seg_col = {n: i for i, n in enumerate(segment_numbers)}
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):

        def group(name: str, item: Dataset = item) -> Dataset | None:
            if name in item:
                return item[name].value[0]
            return shared[name].value[0] if name in shared else None

        pos, ori, meas = group("PlanePositionSequence"), group("PlaneOrientationSequence"), group("PixelMeasuresSequence")
        ident = group("SegmentIdentificationSequence")
        if pos is None or ident is None:
            raise UnknownReferenceError(
                f"{label}: frame {f + 1} has neither a usable source-image reference nor a plane "
                "position; it cannot be placed on the reference series"
            )
        if ori is not None:
            o = np.asarray([float(v) for v in ori.ImageOrientationPatient])
            ref_o = np.concatenate([geo.direction_matrix[:, 0], geo.direction_matrix[:, 1]])
            if np.max(np.abs(o - ref_o)) > DIRECTION_TOLERANCE:
                raise GeometryMismatchError(
                    f"{label}: SEG frame orientation {tuple(o)} differs from the reference {tuple(ref_o)}",
                    {"direction": (tuple(o), tuple(ref_o), float(np.max(np.abs(o - ref_o))))},
                )
        if meas is not None and "PixelSpacing" in meas:
            sp = (float(meas.PixelSpacing[1]), float(meas.PixelSpacing[0]))
            if max(abs(sp[0] - geo.spacing[0]), abs(sp[1] - geo.spacing[1])) > GEOMETRY_TOLERANCE_MM:
                raise GeometryMismatchError(
                    f"{label}: SEG pixel spacing (x, y) {sp} differs from the reference {geo.spacing[:2]}",
                    {"spacing": (sp, geo.spacing[:2], max(abs(sp[0] - geo.spacing[0]), abs(sp[1] - geo.spacing[1])))},
                )
        idx = geo.physical_to_index(np.asarray([float(v) for v in pos.ImagePositionPatient]))
        rounded = np.round(idx)
        if np.max(np.abs(idx - rounded)) > OFF_PLANE_TOLERANCE or not (0 <= rounded[2] < nz):
            raise UnknownReferenceError(
                f"{label}: SEG frame {f + 1} at {tuple(float(v) for v in pos.ImagePositionPatient)} mm "
                "is not on any slice of the reference series"
            )
        x0, y0, k = (int(v) for v in rounded)
        frame = frames[f]
        h, w = frame.shape
        # Frames may be a sub-grid (cropped SEG): place them at their integer offset.
        ys, xs = slice(max(y0, 0), min(y0 + h, ny)), slice(max(x0, 0), min(x0 + w, nx))
        fy, fx = slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0)
        number = int(ident.ReferencedSegmentNumber)
        out[k, ys, xs, seg_col[number]] = np.maximum(out[k, ys, xs, seg_col[number]], frame[fy, fx])
    return out


# --------------------------------------------------------------------------- RTSTRUCT


def read_rtstruct_masks(
    source: DicomSource,
    reference: SeriesLayout,
    *,
    roi_names: Sequence[str] | None = None,
) -> MaskSet:
    """Rasterise the ROIs of an RT Structure Set onto the reference series grid.

    Each CLOSED_PLANAR contour is mapped to continuous voxel indices; it
    belongs to the slice whose plane its points lie on (within
    ``OFF_PLANE_TOLERANCE`` slice steps) and, when it names a contour image,
    that image must be that slice. Per ROI and slice, a voxel is inside when
    its centre is inside an odd number of the ROI's contours on that slice
    (even-odd rule: inner contours are holes). POINT and OPEN_PLANAR contours
    are skipped and noted.

    Parameters
    ----------
    source : path, bytes, file object or pydicom Dataset
    reference : SeriesLayout or Volume
    roi_names : sequence of str, optional
        Only these ROIs (by ROIName); default all.

    Returns
    -------
    MaskSet
        Keys are ROI names; ``numbers`` maps them to ROI numbers.

    Raises
    ------
    UnknownReferenceError
        The structure set references another series / frame of reference, a
        contour names an image that is not in the reference, or lies between
        slices / outside the volume.
    SegmentationError, DicomHeaderError
    """
    ds, label = _load_typed(source, RTSTRUCT_SOP_CLASS, "RT Structure Set")
    _check_series_reference(ds, reference, label, "structure set")
    geo = reference.geometry
    nx, ny, nz = geo.size
    uid_to_k = {uid: k for k, uid in enumerate(reference.sop_instance_uids)}
    ref_fors = {str(i.FrameOfReferenceUID) for i in ds.get("ReferencedFrameOfReferenceSequence", []) if "FrameOfReferenceUID" in i}

    rois: dict[int, tuple[str, str | None]] = {}
    for item in ds.get("StructureSetROISequence", []):
        rois[int(item.ROINumber)] = (str(item.get("ROIName", f"ROI {item.ROINumber}")), item.get("ReferencedFrameOfReferenceUID"))
    notes: list[str] = []
    masks: dict[str, np.ndarray] = {}
    numbers: dict[str, int] = {}
    for roi_contour in ds.get("ROIContourSequence", []):
        number = int(roi_contour.ReferencedROINumber)
        name, roi_for = rois.get(number, (f"ROI {number}", None))
        if roi_names is not None and name not in roi_names:
            continue
        for_uid = str(roi_for) if roi_for else (next(iter(ref_fors)) if len(ref_fors) == 1 else None)
        if for_uid and reference.frame_of_reference_uid and for_uid != reference.frame_of_reference_uid:
            raise UnknownReferenceError(
                f"{label}: ROI {name!r} is in frame of reference {for_uid}, the reference series "
                f"is in {reference.frame_of_reference_uid}; the contours cannot be placed on it"
            )
        per_slice: dict[int, list[np.ndarray]] = defaultdict(list)
        skipped = 0
        for contour in roi_contour.get("ContourSequence", []):
            kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR")).upper()
            data = contour.get("ContourData")
            if kind != "CLOSED_PLANAR" or not data:
                skipped += 1
                continue
            pts = np.asarray([float(v) for v in data]).reshape(-1, 3)
            idx = geo.physical_to_index(pts)
            k_float = float(np.mean(idx[:, 2]))
            k = int(round(k_float))
            off = float(np.max(np.abs(idx[:, 2] - k)))
            if off > OFF_PLANE_TOLERANCE or not (0 <= k < nz):
                raise UnknownReferenceError(
                    f"{label}: a contour of ROI {name!r} lies at slice index {k_float:.2f} "
                    f"(z ~ {float(np.mean(pts[:, 2])):.2f} mm), which is "
                    + ("outside the reference volume" if not (0 <= k < nz) else "between slices of the reference series")
                    + "; it was drawn on another series or reconstruction"
                )
            for img in contour.get("ContourImageSequence", []):
                uid = str(img.ReferencedSOPInstanceUID)
                if uid not in uid_to_k:
                    raise UnknownReferenceError(
                        f"{label}: a contour of ROI {name!r} references image {uid}, which is not "
                        f"in the reference series {reference.series_instance_uid}"
                    )
                if uid_to_k[uid] != k:
                    raise UnknownReferenceError(
                        f"{label}: a contour of ROI {name!r} references the image at slice "
                        f"{uid_to_k[uid]} but its points lie on slice {k}"
                    )
            per_slice[k].append(idx[:, :2])
        if skipped:
            notes.append(f"ROI {name!r}: {skipped} non-CLOSED_PLANAR or empty contour(s) skipped")
        mask = np.zeros((nz, ny, nx), dtype=bool)
        for k, polys in per_slice.items():
            mask[k] = rasterize_polygons(polys, (ny, nx))
        key = _unique_name(name, masks, notes)
        masks[key] = mask
        numbers[key] = number
    notes.append("contours rasterised at voxel centres, even-odd rule per slice")
    return MaskSet(masks=masks, source_format="RTSTRUCT", numbers=numbers, notes=notes)

