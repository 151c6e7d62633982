"""Readable, full-resolution frames of stored records: keyframes plus per-record tile deltas.

Layout under root (dirs 0700, files 0600, written to a temp name and renamed):
  <id[:2]>/<id>.srf                  every record's frame: its keyframe id and its own tiles
  keys/<key[:2]>/<key>/key.webp      a keyframe (named after the record that started the group)
  keys/<key[:2]>/<key>/<id>          one empty marker per record that reads this keyframe

A forgotten record leaves nothing of its own picture behind: its .srf and marker go; a keyframe
with no markers left goes; a keyframe whose own record is forgotten while others still read it
keeps only the tiles those others show (the rest is blanked), and its group is closed.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from screenrecall import paths
from screenrecall.encode.letterbox import downscale
from screenrecall.pipeline import frame_codec as codec
from screenrecall.pipeline.messages import Box, Pixels

logger = logging.getLogger(__name__)

MAX_SIDE = 3840  # larger pictures (folder images) are kept at this longest side
# A frame differing from its keyframe in more than this share of tiles starts a new keyframe.
KEY_AFTER_CHANGED = 0.45
# A group this large starts a new keyframe: bounds what a keyframe's forget has to scan.
MAX_GROUP = 150
DECODED_KEYS = 4  # keyframes kept decoded for reads (~6 MB each at 1080p): timeline stepping


@dataclass
class _Open:
    key: str
    pixels: Pixels  # the keyframe as stored (masked)
    members: int


class FullFrameBudget:
    """Caps how many full-size frames the pipeline keeps alive for the archive at once.

    The embedder hands each new frame's full pixels on to the writer; a stalled writer must not
    pile up 6 MB frames, so beyond `limit` live ones a record simply gets no readable frame.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._live = 0
        self._lock = threading.Lock()
        self.refused = 0

    def take(self, pixels: Pixels) -> Pixels | None:
        with self._lock:
            if self._live >= self._limit:
                self.refused += 1
                return None
            self._live += 1
        # Released when the last reference to these pixels is gone, wherever that happens.
        weakref.finalize(pixels, self._give)
        return pixels

    def _give(self) -> None:
        with self._lock:
            self._live -= 1


class FrameArchive:
    """Thread-safe: the writer writes and hides, housekeeping and forget remove, the API reads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.RLock()
        self._open: dict[str, _Open] = {}
        self._decoded: OrderedDict[str, Pixels] = OrderedDict()

    def path(self, record_id: str) -> Path:
        return self.root / record_id[:2] / f"{record_id}.srf"

    def key_path(self, key: str) -> Path:
        return self.root / "keys" / key[:2] / key / "key.webp"

    def write(
        self,
        record_id: str,
        pixels: Pixels,
        redacted_boxes: Sequence[Box],
        frame_size: tuple[int, int],
        stream: str = "",
    ) -> str:
        """Keeps the frame (redacted boxes masked first); stream groups frames of one monitor
        ("" = stands alone). Returns its path, or "" when it could not be written (logged)."""
        try:
            with self._lock:
                return str(self._write(record_id, pixels, redacted_boxes, frame_size, stream))
        except (OSError, ValueError) as exc:
            logger.warning("readable frame not written (%s); the record keeps its thumbnail", exc)
            return ""

    def _write(
        self, record_id: str, pixels: Pixels, boxes: Sequence[Box], frame_size: tuple[int, int], stream: str
    ) -> Path:
        pixels = _fit(pixels)
        if boxes:
            pixels = pixels.copy()
            codec.flat_fill(pixels, boxes, _scale(pixels, frame_size))
        height, width = pixels.shape[:2]
        group = self._open.get(stream) if stream else None
        tiles: list[int] = []
        if group is not None and group.pixels.shape == pixels.shape and group.members < MAX_GROUP:
            tiles = codec.changed_tiles(pixels, group.pixels)
            if len(tiles) > KEY_AFTER_CHANGED * (-(-width // codec.TILE)) * (-(-height // codec.TILE)):
                group = None
        else:
            group = None
        if group is None:
            # A copy: the pipeline's own frame is released (and its FullFrameBudget slot with it);
            # the reference costs one frame per monitor for as long as its group is open.
            group, tiles = _Open(record_id, pixels.copy() if stream else pixels, 0), []
            _write_file(self.key_path(record_id), codec.encode_picture(pixels))
            if stream:
                self._open[stream] = group
        shape = codec.Delta(group.key, width, height, tuple(tiles), b"")
        delta = _with_atlas(shape, codec.pack_atlas(pixels, shape))
        _write_file(self.key_path(group.key).with_name(record_id), b"")
        target = self.path(record_id)
        _write_file(target, codec.encode_delta(delta))
        group.members += 1
        return target

    def read(self, record_id: str) -> Pixels | None:
        """The frame as stored (RGB), or None when the record has none."""
        with self._lock:
            delta = self.delta(record_id)
            if delta is None:
                return None
            canvas = self._key_pixels(delta.key).copy()
        codec.unpack_into(canvas, delta)
        return canvas

    def delta(self, record_id: str) -> codec.Delta | None:
        try:
            return codec.decode_delta(self.path(record_id).read_bytes())
        except (OSError, ValueError):
            return None

    def _key_pixels(self, key: str) -> Pixels:
        found = self._decoded.get(key)
        if found is None:
            found = codec.decode_picture(self.key_path(key).read_bytes())
            self._decoded[key] = found
            while len(self._decoded) > DECODED_KEYS:
                self._decoded.popitem(last=False)
        self._decoded.move_to_end(key)
        return found

    def hide(self, record_id: str, boxes: Sequence[Box], frame_size: tuple[int, int]) -> None:
        """Masks redacted boxes in a stored frame: in its own tiles, and in the keyframe where it
        shows the keyframe (other frames showing that same spot showed the same secret)."""
        with self._lock:
            delta = self.delta(record_id)
            if delta is None or not boxes:
                return
            try:
                key = self._key_pixels(delta.key).copy()
                frame = key.copy()
                codec.unpack_into(frame, delta)
                codec.flat_fill(frame, boxes, (delta.width / frame_size[0], delta.height / frame_size[1]))
                own = np.zeros(frame.shape[:2], dtype=bool)
                for tile in delta.tiles:
                    x0, y0, x1, y1 = delta.tile_box(tile)
                    own[y0:y1, x0:x1] = True
                key[~own] = frame[~own]
                if delta.tiles:
                    atlas = codec.pack_atlas(frame, delta)
                    _write_file(self.path(record_id), codec.encode_delta(_with_atlas(delta, atlas)))
                self._replace_key(delta.key, key)
            except (OSError, ValueError) as exc:
                logger.warning("could not mask a readable frame (%s); removing it instead", exc)
                self.remove(record_id)

    def _replace_key(self, key: str, pixels: Pixels) -> None:
        _write_file(self.key_path(key), codec.encode_picture(pixels))
        self._decoded.pop(key, None)
        for group in self._open.values():
            if group.key == key:
                group.pixels = pixels

    def remove(self, record_id: str) -> None:
        """Deletes a record's frame, and whatever of its keyframe no other record shows."""
        if not record_id or "/" in record_id or record_id.startswith("."):
            return
        with self._lock:
            delta = self.delta(record_id)
            self.path(record_id).unlink(missing_ok=True)
            if delta is None:
                return
            key_dir = self.key_path(delta.key).parent
            (key_dir / record_id).unlink(missing_ok=True)
            others = [p.name for p in key_dir.iterdir() if p.name != "key.webp" and not p.name.startswith(".")]
            if not others:
                shutil.rmtree(key_dir, ignore_errors=True)
                self._forget_key(delta.key)
            elif delta.key == record_id:
                self._scrub_key(delta.key, others)

    def _scrub_key(self, key: str, readers: list[str]) -> None:
        """Blanks every tile of a keyframe that no remaining reader shows from it."""
        try:
            pixels = self._key_pixels(key).copy()
        except (OSError, ValueError):
            return
        shown = np.zeros(pixels.shape[:2], dtype=bool)
        for reader in readers:
            delta = self.delta(reader)
            if delta is None:
                continue
            own = np.zeros_like(shown)
            for tile in delta.tiles:
                x0, y0, x1, y1 = delta.tile_box(tile)
                own[y0:y1, x0:x1] = True
            shown |= ~own
        pixels[~shown] = 0
        self._forget_key(key)
        _write_file(self.key_path(key), codec.encode_picture(pixels))

    def _forget_key(self, key: str) -> None:
        # A group whose keyframe changed under it must not take new deltas against the old pixels.
        self._decoded.pop(key, None)
        for stream in [s for s, g in self._open.items() if g.key == key]:
            del self._open[stream]

    def disk_bytes(self) -> int:
        if not self.root.exists():
            return 0
        return sum(entry.stat().st_blocks * 512 for entry in self.root.rglob("*") if entry.is_file())


def _with_atlas(delta: codec.Delta, atlas: bytes) -> codec.Delta:
    return codec.Delta(delta.key, delta.width, delta.height, delta.tiles, atlas)


def _fit(pixels: Pixels) -> Pixels:
    height, width = pixels.shape[:2]
    if max(width, height) <= MAX_SIDE:
        return pixels
    scale = MAX_SIDE / max(width, height)
    return downscale(pixels, (max(1, round(width * scale)), max(1, round(height * scale))))


def _scale(pixels: Pixels, frame_size: tuple[int, int]) -> tuple[float, float]:
    height, width = pixels.shape[:2]
    return width / max(1, frame_size[0]), height / max(1, frame_size[1])


def _write_file(target: Path, data: bytes) -> None:
    paths.ensure_private_dir(target.parent)
    partial = target.with_name(f".{target.name}.part")
    try:
        # Born 0600 before any byte is written, then renamed: never a readable or torn file.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        partial.replace(target)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
