"""Drops screen frames like their monitor's last kept one, re-confirming a still screen each heartbeat."""

from __future__ import annotations

import enum
import functools
import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from screenrecall.frames import Frame, Pixels, Source

logger = logging.getLogger(__name__)

# The signature: a 64x36 (16:9) grid of mean grey levels in 0..1. Fine enough that a changed
# panel or a scrolled page moves many cells; small enough to compare in microseconds.
SIGNATURE_W, SIGNATURE_H = 64, 36
# Each cell averages 8x4 evenly spread sample pixels rather than every pixel: averaging a whole
# 1080p frame costs ~25 ms, sampling ~0.5 ms, and 73k samples still see any change big enough
# to pass the threshold.
_SAMPLES_X, _SAMPLES_Y = 8, 4
# Rec. 601 luma weights, pre-divided by 255 so the signature is in 0..1.
_GREY = (np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255).astype(np.float32)

Signature = NDArray[np.float32]


class Decision(enum.Enum):
    CHANGED = "changed"  # new content: keep it
    HEARTBEAT = "heartbeat"  # same content, but due for re-confirmation: keep it (updates last_seen)
    UNCHANGED = "unchanged"  # same content: drop it


@dataclass(slots=True)
class _Kept:
    signature: Signature
    size: tuple[int, int]
    at_ms: int


class ChangeGate:
    """Compares each frame's signature with the last kept frame of the same monitor.

    Not thread-safe, on purpose: one sampler thread calls decide(), so there is no lock to pay for.
    Time comes from the frames' captured_at_ms, never from a clock, so decisions are reproducible.
    """

    def __init__(self, threshold: float, heartbeat_s: float) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in 0..1, not {threshold}")
        if heartbeat_s <= 0:
            raise ValueError(f"heartbeat_s must be positive, not {heartbeat_s}")
        self._threshold = threshold
        self._heartbeat_ms = heartbeat_s * 1000.0
        self._kept: dict[tuple[Source, int], _Kept] = {}

    def decide(self, frame: Frame) -> Decision:
        key = (frame.source, frame.monitor)
        current = signature(frame.pixels)
        kept = self._kept.get(key)
        if kept is None or kept.size != frame.size:
            self._keep(key, current, frame)
            return Decision.CHANGED
        diff = difference(current, kept.signature)
        if diff > self._threshold:
            logger.debug("monitor %d changed: difference %.4f", frame.monitor, diff)
            self._keep(key, current, frame)
            return Decision.CHANGED
        elapsed_ms = frame.captured_at_ms - kept.at_ms
        # A negative elapsed time means the wall clock stepped back: re-confirm rather than
        # stay silent until the clock catches up with the old timestamp.
        if elapsed_ms >= self._heartbeat_ms or elapsed_ms < 0:
            self._keep(key, current, frame)
            return Decision.HEARTBEAT
        return Decision.UNCHANGED

    def _keep(self, key: tuple[Source, int], current: Signature, frame: Frame) -> None:
        self._kept[key] = _Kept(current, frame.size, frame.captured_at_ms)


def signature(pixels: Pixels) -> Signature:
    """A SIGNATURE_H x SIGNATURE_W grid of mean grey levels (0..1) of an H x W x 3 RGB frame."""
    height, width = pixels.shape[:2]
    # Gathers only the sample grid, so a strided view (the grabber's BGRA buffer read as RGB) is
    # never copied whole.
    rows, cols = _sample_grid(height, width)
    samples = pixels[rows[:, None], cols[None, :]].reshape(-1, 3)
    grey = samples.astype(np.float32) @ _GREY
    cells = grey.reshape(SIGNATURE_H, _SAMPLES_Y, SIGNATURE_W, _SAMPLES_X)
    result: Signature = cells.mean(axis=(1, 3), dtype=np.float32)
    return result


def difference(a: Signature, b: Signature) -> float:
    """Mean absolute difference of two signatures: 0 identical .. 1 black vs white."""
    return float(np.abs(a - b).mean())


@functools.lru_cache(maxsize=8)
def _sample_grid(height: int, width: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row and column indices of the sample grid; cached because frame sizes rarely change."""
    rows = _spread(SIGNATURE_H * _SAMPLES_Y, height)
    cols = _spread(SIGNATURE_W * _SAMPLES_X, width)
    rows.flags.writeable = False  # shared through the cache
    cols.flags.writeable = False
    return rows, cols


def _spread(count: int, length: int) -> NDArray[np.intp]:
    # Centres of `count` equal slices of 0..length; repeats indices when the frame is smaller.
    return ((np.arange(count, dtype=np.intp) * 2 + 1) * length) // (2 * count)
