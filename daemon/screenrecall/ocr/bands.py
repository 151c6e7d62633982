"""Fixed shapes for the OCR reader: a frame is read in bands of a few fixed sizes, never as it comes.

OpenVINO's CPU plugin builds and keeps kernels and buffers for every input shape it is given, and
the text detector's activations grow with the image: a full dense 1080p frame took the reader from
~115 MB to ~1.2 GB, and every new crop size added more (bench/memory.py). Bands of at most
BAND_ROWS rows (overlapping, so each text line lies whole in one of them), padded to multiples of
PAD_STEP, bound both the largest activation and the number of shapes the detector ever sees.
Measured on dense 1080p terminals (widths bucketed too): one 1152-row read peaked at ~950 MB in
~6.5 s; 640-row bands at ~730 MB; 384-row bands ~600 MB; 256-row bands ~580 MB, in 4-7 s each
(2026-12-03, the reader alone, three screens in a row). Of the 256-row reader's ~500 MB after a
read, the detector kept ~180 MB and the recogniser (lines up to ~4,000 px wide) ~200 MB, until wide
lines were read in pieces (ocr/lines.py: ~470 MB peak).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

BAND_ROWS = 256  # a multiple of PAD_STEP: no padded rows; six bands for 1080p
OVERLAP_ROWS = 64  # taller than any line of screen text the detector reads as one box
PAD_STEP = 128

Image = np.ndarray[Any, np.dtype[np.uint8]]


@dataclass(frozen=True, slots=True)
class Band:
    top: int  # the band's first row in the frame
    pixels: Image  # padded to multiples of PAD_STEP
    keep_from: int  # a line whose vertical centre lies in [keep_from, keep_to) (frame rows) is this band's
    keep_to: int


def bands(frame: Image, rows: int = BAND_ROWS, overlap: int = OVERLAP_ROWS) -> Iterator[Band]:
    """The frame as overlapping bands; every row belongs to exactly one band's keep range."""
    height = frame.shape[0]
    if height <= rows:
        yield Band(0, pad(frame), 0, height)
        return
    step = rows - overlap
    tops = [*range(0, height - rows, step), height - rows]  # the last band ends at the bottom
    for n, top in enumerate(tops):
        keep_from = 0 if n == 0 else top + overlap // 2
        keep_to = height if n == len(tops) - 1 else tops[n + 1] + overlap // 2
        yield Band(top, pad(frame[top : top + rows]), keep_from, keep_to)


def pad(image: Image, step: int = PAD_STEP) -> Image:
    """Pads right and bottom to multiples of step with the image's background colour (its median
    edge colour), so boxes keep their coordinates and the padding reads as empty screen."""
    height, width = image.shape[:2]
    padded_h, padded_w = -(-height // step) * step, -(-width // step) * step
    if (padded_h, padded_w) == (height, width):
        return image
    edges = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    background = np.median(edges, axis=0).astype(np.uint8)
    out = np.empty((padded_h, padded_w, *image.shape[2:]), dtype=np.uint8)
    out[...] = background
    out[:height, :width] = image
    return out


def bucket_width(width: float, step: int = PAD_STEP) -> int:
    """The recogniser's input width for a line: the next multiple of step, so few shapes ever occur."""
    return max(step, int(-(-width // step) * step))
