"""Keeps a screen frame when its glyphs changed since the monitor's last kept frame, and drops the rest.

The comparison is exact, at full resolution, by tiles: one new line of text, a typed word, a scroll
or a page replaced in place all change some tile's bytes, whatever their share of the screen. What
must not count as news is filtered by what tiles do over time, not by how much changed:
- a tile that went back to the state it had at the previous kept frame (a blinking cursor) is old;
- a tile that keeps changing tick after tick (a ticking clock, a video in a corner) is volatile and
  ignored while it is, unless most of the screen is moving (a scrolling terminal is news);
- a change is kept once it has settled (the next tick shows the same tiles), or after `settle_s` of
  continuous change, so a burst of typing becomes one frame rather than ten.
"""

from __future__ import annotations

import enum
import itertools
import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from screenrecall.pipeline.messages import Frame, Pixels, Source

logger = logging.getLogger(__name__)

# A tile changed on this many of its last VOLATILE_WINDOW observations is volatile (clock, video).
VOLATILE_CHANGES = 3
VOLATILE_WINDOW = 4
# Observations older than this many ticks no longer count towards volatility.
VOLATILE_MAX_AGE_TICKS = 6
# When more than this share of the screen is volatile, the whole screen is moving: that is news.
MOVING_SCREEN_SHARE = 0.25

Bytes2D = NDArray[np.uint8]  # H x (W * bytes per pixel)


class Decision(enum.Enum):
    CHANGED = "changed"  # new content: keep it
    HEARTBEAT = "heartbeat"  # same content, but due for re-confirmation: keep it (updates last_seen)
    UNCHANGED = "unchanged"  # same content, or a change still settling: drop it


@dataclass(slots=True)
class _Pending:
    since_ms: int
    raw: Bytes2D  # the last tick's frame while a change settles


@dataclass(slots=True)
class _Screen:
    """What the gate remembers of one monitor."""

    kept: Bytes2D  # the last kept frame's bytes (our own copy)
    size: tuple[int, int]
    tile_bytes: int  # a tile's width in bytes (3 or 4 bytes a pixel)
    kept_at_ms: int
    tick: int = 0
    pending: _Pending | None = None
    # Per tile: the content hash it had at the kept frame before the last one (a reverted tile is old).
    previous_state: dict[int, int] = field(default_factory=dict)
    # Per tile: recent (tick, hash) observations, for volatility.
    seen: dict[int, deque[tuple[int, int]]] = field(default_factory=dict)


class ChangeGate:
    """Compares each frame with the last kept frame of the same monitor.

    Not thread-safe, on purpose: one sampler thread calls decide(), so there is no lock to pay for.
    Time comes from the frames' captured_at_ms, never from a clock, so decisions are reproducible.
    """

    def __init__(
        self,
        heartbeat_s: float,
        *,
        settle_s: float = 3.0,
        tile_px: int = 32,
        min_changed_tiles: int = 1,
    ) -> None:
        if heartbeat_s <= 0:
            raise ValueError(f"heartbeat_s must be positive, not {heartbeat_s}")
        if settle_s < 0:
            raise ValueError(f"settle_s must not be negative, not {settle_s}")
        if tile_px < 8 or min_changed_tiles < 1:
            raise ValueError("tile_px must be at least 8 and min_changed_tiles at least 1")
        self._heartbeat_ms = heartbeat_s * 1000.0
        self._settle_ms = settle_s * 1000.0
        self._tile = tile_px
        self._min_tiles = min_changed_tiles
        self._screens: dict[tuple[Source, int], _Screen] = {}

    def decide(self, frame: Frame) -> Decision:
        key = (frame.source, frame.monitor)
        now = frame.captured_at_ms
        raw = frame_bytes(frame.pixels)
        screen = self._screens.get(key)
        if screen is None or screen.size != frame.size:
            tile_bytes = self._tile * (raw.shape[1] // max(1, frame.size[0]))
            self._screens[key] = _Screen(raw.copy(), frame.size, tile_bytes, now)
            return Decision.CHANGED
        screen.tick += 1
        if np.array_equal(raw, screen.kept):  # the common case on a still screen: ~1 ms at 1080p
            screen.pending = None
            return self._still(screen, raw, now)
        changed = _changed_tiles(raw, screen.kept, self._tile, screen.tile_bytes)
        significant = self._significant(screen, raw, changed)
        if significant < self._min_tiles:
            screen.pending = None
            return self._still(screen, raw, now)
        if self._settled(screen, raw, now):
            logger.debug("monitor %d changed: %d tiles", frame.monitor, significant)
            self._keep(screen, raw, now, changed)
            return Decision.CHANGED
        return Decision.UNCHANGED

    def _still(self, screen: _Screen, raw: Bytes2D, now: int) -> Decision:
        elapsed_ms = now - screen.kept_at_ms
        # A negative elapsed time means the wall clock stepped back: re-confirm rather than
        # stay silent until the clock catches up with the old timestamp.
        if elapsed_ms >= self._heartbeat_ms or elapsed_ms < 0:
            self._keep(screen, raw, now, _changed_tiles(raw, screen.kept, self._tile, screen.tile_bytes))
            return Decision.HEARTBEAT
        return Decision.UNCHANGED

    def _settled(self, screen: _Screen, raw: Bytes2D, now: int) -> bool:
        """True once the change has stopped changing (this tick shows what the last one did), or
        has gone on for settle_s; until then the frame waits, as a copy."""
        pending = screen.pending
        if pending is None:
            if self._settle_ms <= 0:
                return True
            screen.pending = _Pending(now, raw.copy())
            return False
        if now - pending.since_ms >= self._settle_ms or now < pending.since_ms or np.array_equal(raw, pending.raw):
            return True
        np.copyto(pending.raw, raw)
        return False

    def _significant(self, screen: _Screen, raw: Bytes2D, changed: NDArray[np.bool_]) -> int:
        """How many changed tiles show something new: not reverted to an old state, not volatile."""
        count = int(changed.sum())
        if count > MOVING_SCREEN_SHARE * changed.size:
            return count  # most of the screen moves (a scroll, a new window): all of it is news
        across = changed.shape[1]
        significant = 0
        for index in (int(i) for i in np.flatnonzero(changed)):
            content = _tile_hash(raw, index, across, self._tile, screen.tile_bytes)
            if screen.previous_state.get(index) != content and not self._observe(screen, index, content):
                significant += 1
        return significant

    def _observe(self, screen: _Screen, index: int, content: int) -> bool:
        """Notes what a tile shows at this tick; True when it keeps changing (volatile)."""
        seen = screen.seen.setdefault(index, deque(maxlen=VOLATILE_WINDOW + 1))
        if not seen or seen[-1][0] != screen.tick:
            seen.append((screen.tick, content))
        recent = [h for tick, h in seen if screen.tick - tick <= VOLATILE_MAX_AGE_TICKS]
        changes = sum(1 for a, b in itertools.pairwise(recent) if a != b)
        return changes >= VOLATILE_CHANGES

    def _keep(self, screen: _Screen, raw: Bytes2D, now: int, changed: NDArray[np.bool_]) -> None:
        if changed.sum() > MOVING_SCREEN_SHARE * changed.size:
            screen.previous_state.clear()  # a whole new screen: going back to an old tile state is news again
        else:
            across = changed.shape[1]
            for index in (int(i) for i in np.flatnonzero(changed)):
                screen.previous_state[index] = _tile_hash(screen.kept, index, across, self._tile, screen.tile_bytes)
        np.copyto(screen.kept, raw)
        screen.kept_at_ms = now
        screen.pending = None
        stale = [i for i, seen in screen.seen.items() if screen.tick - seen[-1][0] > VOLATILE_MAX_AGE_TICKS]
        for gone in stale:
            del screen.seen[gone]


def frame_bytes(pixels: Pixels) -> Bytes2D:
    """The frame's bytes as an H x row-bytes array, without copying when it can.

    A grab is a reversed-channel view of mss's BGRA buffer: reading its rows straight from that
    buffer (alpha bytes included) compares 4 bytes a pixel in one pass instead of three strided ones.
    """
    height = pixels.shape[0]
    if pixels.flags.c_contiguous:
        return pixels.reshape(height, -1)
    bgr = pixels[..., ::-1]
    row, column, channel = bgr.strides
    if channel == 1 and column == 4 and row == pixels.shape[1] * 4:
        return np.lib.stride_tricks.as_strided(bgr, shape=(height, row), strides=(row, 1), writeable=False)
    return np.ascontiguousarray(pixels).reshape(height, -1)


def _changed_tiles(current: Bytes2D, kept: Bytes2D, tile_px: int, tile_bytes: int) -> NDArray[np.bool_]:
    """A (tiles down x tiles across) mask of the tiles whose bytes differ: one comparison pass."""
    height, row_bytes = current.shape
    down, across = -(-height // tile_px), -(-row_bytes // tile_bytes)
    rows = np.zeros((down * tile_px, row_bytes), dtype=np.bool_)
    np.not_equal(current, kept, out=rows[:height])
    by_band = rows.reshape(down, tile_px, row_bytes).any(axis=1)
    columns = np.zeros((down, across * tile_bytes), dtype=np.bool_)
    columns[:, :row_bytes] = by_band
    mask: NDArray[np.bool_] = np.asarray(columns.reshape(down, across, tile_bytes).any(axis=2))
    return mask


def _tile_hash(raw: Bytes2D, index: int, tiles_across: int, tile_px: int, tile_bytes: int) -> int:
    band, column = divmod(int(index), tiles_across)
    tile = raw[band * tile_px : (band + 1) * tile_px, column * tile_bytes : (column + 1) * tile_bytes]
    return hash(tile.tobytes())
