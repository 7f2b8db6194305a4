"""One axial slice of a series as a PNG, windowed for reading, with the lesion masks outlined (no Django).

The scan viewer asks for one slice at a time; this draws it: the intensities through a window (CT presets in HU,
PET in SUV), each segment's outline on this slice in its own colour with its lesion label, and, on the slice
where a segmentation's size was proposed, its RECIST long (solid) and short (dashed) axes. Small images are
enlarged by an integer factor (nearest neighbour) so outlines and labels stay crisp.
"""
import io

import numpy as np

#: Window presets: name -> (centre, width) in the series' units (HU for CT, SUV for converted PET).
WINDOWS = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (40.0, 400.0),
    "abdomen": (50.0, 350.0),
    "bone": (400.0, 1800.0),
    "suv": (5.0, 10.0),  # SUV 0-10
}
WINDOW_LABELS = {"lung": "Lung (W 1500 / L −600)", "mediastinum": "Mediastinum (W 400 / L 40)",
                 "abdomen": "Abdomen (W 350 / L 50)", "bone": "Bone (W 1800 / L 400)", "suv": "PET SUV 0–10"}
#: Outline colours (Okabe–Ito, bright enough on grey).
COLOURS = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (213, 94, 0), (204, 121, 167)]


def windowed(image, centre, width):
    """``image`` (2-D) through the window as uint8 (0 below, 255 above)."""
    low = centre - width / 2.0
    scaled = (np.asarray(image, dtype=np.float32) - low) * (255.0 / width)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _eroded(mask):
    padded = np.pad(mask, 1)
    return padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]


def outline(mask, *, thickness=1):
    """The boundary of a 2-D boolean mask: inside pixels within ``thickness`` of an outside 4-neighbour."""
    mask = np.asarray(mask, dtype=bool)
    inner = mask
    for _ in range(thickness):
        inner = _eroded(inner)
    return mask & ~inner


def slice_png(image, *, window="mediastinum", overlays=(), min_size=512):
    """The slice as PNG bytes.

    ``image``: 2-D array (rows = y, columns = x). ``overlays``: [{"mask": 2-D bool or None, "label": str,
    "long": ((x, y), (x, y)) or None, "short": ... or None}] in voxel indices of this slice.
    """
    from PIL import Image, ImageDraw  # only the viewer needs Pillow; kept out of the web process's start-up

    centre, width = WINDOWS[window]
    grey = windowed(image, centre, width)
    scale = max(1, min_size // max(grey.shape))
    rgb = np.repeat(np.repeat(np.stack([grey] * 3, axis=-1), scale, axis=0), scale, axis=1)
    for i, overlay in enumerate(overlays):
        if overlay.get("mask") is None or not overlay["mask"].any():
            continue
        big = np.repeat(np.repeat(np.asarray(overlay["mask"], dtype=bool), scale, axis=0), scale, axis=1)
        rgb[outline(big, thickness=2 if scale > 1 else 1)] = COLOURS[i % len(COLOURS)]
    picture = Image.fromarray(rgb, mode="RGB")
    draw = ImageDraw.Draw(picture)
    for i, overlay in enumerate(overlays):
        colour = COLOURS[i % len(COLOURS)]
        for axis, dash in (("long", False), ("short", True)):
            ends = overlay.get(axis)
            if ends:
                (x0, y0), (x1, y1) = ((scale * (x + 0.5), scale * (y + 0.5)) for x, y in ends)
                _line(draw, (x0, y0, x1, y1), colour, dashed=dash, width=max(2, scale // 3))
        mask = overlay.get("mask")
        if mask is not None and mask.any():
            ys, xs = np.nonzero(mask)
            x, y = scale * (xs.max() + 1) + 3, scale * ys.min()
            draw.rectangle((x - 1, y - 1, x + 7 * len(overlay["label"]) + 3, y + 13), fill=(0, 0, 0))
            draw.text((x + 1, y), overlay["label"], fill=colour)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False, compress_level=3)
    return buffer.getvalue()


def _line(draw, points, colour, *, dashed, width):
    x0, y0, x1, y1 = points
    if not dashed:
        draw.line(points, fill=colour, width=width)
        return
    length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1.0)
    steps = int(length // 8) or 1
    for k in range(0, steps, 2):
        a, b = k / steps, min((k + 1) / steps, 1.0)
        draw.line((x0 + a * (x1 - x0), y0 + a * (y1 - y0), x0 + b * (x1 - x0), y0 + b * (y1 - y0)), fill=colour,
                  width=width)
