"""Exact pixel-boundary contours of a 2-D mask, and the even-odd fill at pixel centres that reads them back.

Writers and readers must agree on these (:func:`~imaging.compute.writers.write_rtstruct`,
:func:`~imaging.compute.segmentation.rtstruct.read_rtstruct_masks`). Pure Python (numpy); no Django imports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np


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
