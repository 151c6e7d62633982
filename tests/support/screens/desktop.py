"""Procedural screen-like frames (no fonts, fast): a gradient desktop, overlapping windows full of
text-like strokes or photo-like blobs, a taskbar; and the same with a terminal of real text on it."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tests.support.screens.canvas import Pixels, terminal

FRAME_SIZE = (1920, 1080)  # width, height
_WORDS = ["invoice", "deploy", "kernel", "meeting", "budget", "pipeline", "error"]


def screen_frame(seed: int, size: tuple[int, int] = FRAME_SIZE) -> Pixels:
    """A screen-like RGB frame: gradient desktop, overlapping windows full of text-like lines, a taskbar."""
    rng = np.random.default_rng(seed)
    width, height = size
    frame = _gradient(rng, width, height)
    for _ in range(int(rng.integers(2, 6))):
        _window(frame, rng)
    bar = int(rng.integers(28, 48))
    frame[height - bar :] = rng.integers(20, 70, 3, dtype=np.uint8)
    return frame


def screen_frames(count: int, first_seed: int = 0, size: tuple[int, int] = FRAME_SIZE) -> list[Pixels]:
    return [screen_frame(first_seed + i, size) for i in range(count)]


def desktop(seed: int, size: tuple[int, int] = FRAME_SIZE) -> Pixels:
    """A screen_frame with a terminal of real text on it, so OCR has words to read."""
    frame = screen_frame(seed, size)
    lines = [f"{seed:04d} {word} " * 3 for word in _WORDS[seed % 7 :] + _WORDS[: seed % 7]] * 3
    text = terminal(lines, (760, 500), font_size=15)
    top, left = 60 + (seed * 37) % 400, 80 + (seed * 151) % 1000
    frame[top : top + 500, left : left + 760] = text
    return frame


def _gradient(rng: np.random.Generator, width: int, height: int) -> Pixels:
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, np.newaxis]
    column = (start + (end - start) * ramp).astype(np.uint8)  # height x 3
    return np.ascontiguousarray(np.broadcast_to(column[:, np.newaxis, :], (height, width, 3)))


def _window(frame: Pixels, rng: np.random.Generator) -> None:
    height, width = frame.shape[:2]
    w, h = int(rng.integers(width // 4, width * 3 // 4)), int(rng.integers(height // 4, height * 3 // 4))
    x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
    dark = bool(rng.random() < 0.3)  # terminals and dark themes
    paper = rng.integers(10, 50, 3) if dark else rng.integers(215, 256, 3)
    ink = rng.integers(170, 256, 3) if dark else rng.integers(0, 90, 3)
    view = frame[y : y + h, x : x + w]
    view[...] = paper.astype(np.uint8)
    view[:30] = rng.integers(40, 200, 3, dtype=np.uint8)  # title bar
    view[[0, -1], :] = view[:, [0, -1]] = 90  # border
    if rng.random() < 0.3:
        _picture(view[40:-10, 10:-10], rng)
    else:
        _text(view[40:-10, 10:-10], rng, ink.astype(np.uint8))


def _text(area: Pixels, rng: np.random.Generator, ink: NDArray[np.uint8]) -> None:
    """Lines of 'words': runs of glyph-like strokes with gaps, ragged right edges, some blank lines."""
    height, width = area.shape[:2]
    pitch, glyph = int(rng.integers(14, 24)), int(rng.integers(8, 12))
    strokes = (np.arange(width) % 3 != 0)[np.newaxis, :] & (np.arange(glyph) % 4 != 3)[:, np.newaxis]
    for top in range(0, height - glyph, pitch):
        if rng.random() < 0.15:
            continue
        mask = _word_runs(rng, width, int(rng.integers(width // 3, width + 1)))
        area[top : top + glyph][strokes & mask[np.newaxis, :]] = ink


def _word_runs(rng: np.random.Generator, width: int, line_len: int) -> NDArray[np.bool_]:
    words = rng.integers(12, 90, line_len // 20 + 1)
    gaps = rng.integers(6, 14, words.size)
    runs = np.repeat(np.tile([True, False], words.size), np.column_stack([words, gaps]).ravel())
    mask = np.zeros(width, dtype=bool)
    used = min(width, line_len, runs.size)
    mask[:used] = runs[:used]
    return mask


def _picture(area: Pixels, rng: np.random.Generator) -> None:
    """A photo-like region: smooth colour blobs, not pixel noise."""
    height, width = area.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.zeros((height, width, 3), dtype=np.float32)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(40, 300)
        blob = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * r * r))
        out += blob[..., np.newaxis] * rng.uniform(0, 255, 3).astype(np.float32)
    area[...] = np.clip(out, 0, 255).astype(np.uint8)
