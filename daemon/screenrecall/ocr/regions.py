"""Where a frame changed since the last one read, so OCR reads only those regions.

The rest of the text is carried over from the previous read. A region that touches a previous line
grows to cover that whole line, so an edited line is read again in full, never half.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from screenrecall.ocr.engine import Line
from screenrecall.pipeline.messages import Box, Pixels

CELL = 16  # px; the diff grid (120 x 68 cells on a 1080p screen)
CELL_THRESHOLD = 6.0  # mean grey-level change (0..255) of a cell that counts as changed
MARGIN = 6  # px around a changed region, so glyph edges are not cut
FULL_READ_FRACTION = 0.5  # above this changed share of the frame, one full read is cheaper
ROW_GAP_CELLS = 4  # blank cells between changed ones on a row that still make one region (~4 spaces)
MOSAIC_GAP = 24  # px of background between regions pasted into one image for OCR


def grey_cells(pixels: Pixels) -> NDArray[np.float32]:
    """Mean grey level of each CELL x CELL block (edge pixels that do not fill a cell are dropped)."""
    height, width = pixels.shape[0] // CELL * CELL, pixels.shape[1] // CELL * CELL
    grey = pixels[:height, :width].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    cells: NDArray[np.float32] = grey.reshape(height // CELL, CELL, width // CELL, CELL).mean(axis=(1, 3))
    return cells


def changed_regions(previous: Pixels, current: Pixels, previous_lines: Sequence[Line]) -> list[Box] | None:
    """Boxes to read again, [] when nothing changed, or None when a full read is the better deal."""
    if previous.shape != current.shape:
        return None
    mask = np.abs(grey_cells(current) - grey_cells(previous)) > CELL_THRESHOLD
    if not mask.any():
        return []
    if mask.mean() > FULL_READ_FRACTION:
        return None
    height, width = current.shape[:2]
    # Words on one row are separated by blank cells: bridge short horizontal gaps first, so a
    # changed row becomes one region (and one line for OCR), not one region per word.
    boxes = [_pad(box, width, height) for box in _components(_bridge_rows(mask, ROW_GAP_CELLS))]
    return _grow_to_lines(_merge(boxes), previous_lines, width, height)


def _bridge_rows(mask: NDArray[np.bool_], gap: int) -> NDArray[np.bool_]:
    bridged = mask.copy()
    for shift in range(1, gap + 1):
        # A blank cell between changed cells at most `gap` apart on the same row becomes changed.
        left = np.zeros_like(mask)
        left[:, shift:] = mask[:, :-shift]
        right = np.zeros_like(mask)
        right[:, :-shift] = mask[:, shift:]
        bridged |= left & right
    return bridged


def _components(mask: NDArray[np.bool_]) -> list[Box]:
    """Bounding boxes (in pixels) of 8-connected groups of changed cells."""
    seen = np.zeros_like(mask)
    rows, cols = mask.shape
    boxes: list[Box] = []
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        stack, y0, x0, y1, x1 = [start], start[0], start[1], start[0], start[1]
        seen[start] = True
        while stack:
            y, x = stack.pop()
            y0, x0, y1, x1 = min(y0, y), min(x0, x), max(y1, y), max(x1, x)
            for ny in range(max(0, y - 1), min(rows, y + 2)):
                for nx in range(max(0, x - 1), min(cols, x + 2)):
                    if mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        boxes.append((int(x0) * CELL, int(y0) * CELL, (int(x1) + 1) * CELL, (int(y1) + 1) * CELL))
    return boxes


def _pad(box: Box, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    return max(0, x0 - MARGIN), max(0, y0 - MARGIN), min(width, x1 + MARGIN), min(height, y1 + MARGIN)


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _merge(boxes: list[Box]) -> list[Box]:
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                if _overlaps(merged[i], merged[j]):
                    merged[i] = _union(merged[i], merged.pop(j))
                    changed = True
                    break
            if changed:
                break
    return merged


def _grow_to_lines(boxes: list[Box], lines: Sequence[Line], width: int, height: int) -> list[Box]:
    """Each region grows over every previous line it touches, until no region touches a line partly."""
    grown = list(boxes)
    while True:
        before = list(grown)
        for index in range(len(grown)):
            for line in lines:
                if _touches(grown[index], line.box):
                    # A line's box can reach past the frame (OCR pads its boxes): never a region.
                    grown[index] = _clip(_union(grown[index], line.box), width, height)
        grown = _merge(grown)
        if grown == before:
            return grown


def _clip(box: Box, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def _touches(region: Box, line: Box) -> bool:
    """A region touches a line when it reaches the middle third of the line's height.

    OCR boxes of adjacent lines overlap by a few pixels; counting that as touching made one
    appended line grow its region over the whole block of text above it.
    """
    third = (line[3] - line[1]) // 3
    return _overlaps(region, (line[0], line[1] + third, line[2], line[3] - third))


def read_regions(read: Callable[[Pixels], list[Line]], frame: Pixels, regions: Sequence[Box]) -> list[Line]:
    """Reads every region in ONE OCR call: the regions are stacked into a mosaic image.

    OCR has a fixed cost per call (detection runs over the whole input), so many small calls cost
    more than a full-frame read; one small mosaic costs a fraction of it.
    """
    frame_height, frame_width = frame.shape[:2]
    regions = [r for r in (_clip(box, frame_width, frame_height) for box in regions) if r[2] > r[0] and r[3] > r[1]]
    if not regions:
        return []
    widths = [x1 - x0 for x0, _, x1, _ in regions]
    heights = [y1 - y0 for _, y0, _, y1 in regions]
    canvas = np.empty((sum(heights) + MOSAIC_GAP * (len(regions) + 1), max(widths) + 2 * MOSAIC_GAP, 3), np.uint8)
    canvas[...] = _background(frame)
    bands: list[tuple[int, int, Box]] = []  # canvas y range -> the region it holds
    top = MOSAIC_GAP
    for (x0, y0, x1, y1), height in zip(regions, heights, strict=True):
        canvas[top : top + height, MOSAIC_GAP : MOSAIC_GAP + x1 - x0] = frame[y0:y1, x0:x1]
        bands.append((top, top + height, (x0, y0, x1, y1)))
        top += height + MOSAIC_GAP
    lines: list[Line] = []
    for line in read(canvas):
        middle = (line.box[1] + line.box[3]) // 2
        for band_top, band_bottom, (x0, y0, _, _) in bands:
            if band_top <= middle < band_bottom:
                dx, dy = x0 - MOSAIC_GAP, y0 - band_top
                bx0, by0, bx1, by1 = line.box
                lines.append(Line(line.text, (bx0 + dx, by0 + dy, bx1 + dx, by1 + dy), line.score))
                break
    return lines


def _background(frame: Pixels) -> NDArray[np.uint8]:
    """The most common colour along the frame's border: what empty screen looks like here."""
    border = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
    colours, counts = np.unique(border, axis=0, return_counts=True)
    return np.asarray(colours[int(np.argmax(counts))], dtype=np.uint8)


def carried_over(previous_lines: Sequence[Line], regions: Sequence[Box]) -> list[Line]:
    """The previous lines no region touches: still on screen, unchanged."""
    return [line for line in previous_lines if not any(_touches(region, line.box) for region in regions)]


def area_fraction(regions: Sequence[Box], width: int, height: int) -> float:
    return sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions) / float(width * height)
