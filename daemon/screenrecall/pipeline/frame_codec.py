"""How a readable frame is kept on disk: a full keyframe, or the tiles that differ from its keyframe.

A screen changes a little between records (a line typed, a message arrived), so most records are
stored as the 64 px tiles that differ from their group's keyframe, packed into one small atlas
image; the rest of the picture comes from the keyframe. Every delta refers to its keyframe
directly (never to another delta), so showing any frame takes at most two pictures.

Pictures are lossless WebP: screen text stays exact and compresses far better than lossy codecs
manage on sharp glyphs; an atlas of mostly photographic tiles (a video) is re-encoded lossy
when that is much smaller.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from screenrecall.pipeline.messages import Box, Pixels

TILE = 64
ATLAS_COLUMNS = 16  # atlas width in tiles: 1024 px, far below WebP's 16383 px limit either way
MAGIC = b"SRF1"
# A pixel channel that moved by more than this makes its tile "changed" (screens repeat exactly;
# the margin only absorbs a lossy keyframe's own noise).
CHANGE_LEVEL = 6
LOSSLESS: dict[str, object] = {"lossless": True, "quality": 25, "method": 1}
LOSSY: dict[str, object] = {"quality": 80, "method": 0}
# Lossless above this many bytes per atlas pixel is photographic content: try lossy instead.
LOSSY_ABOVE_BYTES_PER_PIXEL = 0.35


@dataclass(frozen=True, slots=True)
class Delta:
    """One record's frame: its keyframe's id, the frame size, and the tiles stored in the atlas."""

    key: str
    width: int
    height: int
    tiles: tuple[int, ...]  # tile numbers, row-major over the frame's tile grid
    atlas: bytes  # WebP of the tiles, ATLAS_COLUMNS per row; b"" when no tile differs

    @property
    def grid_columns(self) -> int:
        return -(-self.width // TILE)

    def tile_box(self, tile: int) -> Box:
        """Where a tile lies in the frame (clipped at the right and bottom edges)."""
        x, y = (tile % self.grid_columns) * TILE, (tile // self.grid_columns) * TILE
        return x, y, min(x + TILE, self.width), min(y + TILE, self.height)


def encode_delta(delta: Delta) -> bytes:
    header = json.dumps(
        {"key": delta.key, "width": delta.width, "height": delta.height, "tiles": list(delta.tiles)},
        separators=(",", ":"),
    ).encode()
    return MAGIC + struct.pack(">I", len(header)) + header + delta.atlas


def decode_delta(data: bytes) -> Delta:
    if data[:4] != MAGIC:
        raise ValueError("not a screenrecall frame file")
    (length,) = struct.unpack(">I", data[4:8])
    header = json.loads(data[8 : 8 + length])
    return Delta(
        key=str(header["key"]),
        width=int(header["width"]),
        height=int(header["height"]),
        tiles=tuple(int(t) for t in header["tiles"]),
        atlas=data[8 + length :],
    )


def changed_tiles(pixels: Pixels, key: Pixels) -> list[int]:
    """Numbers of the tiles where pixels differ from key (same shape), row-major."""
    height, width = pixels.shape[:2]
    rows, cols = -(-height // TILE), -(-width // TILE)
    moved = np.zeros((rows * TILE, cols * TILE), dtype=bool)
    # int16: uint8 subtraction would wrap around.
    moved[:height, :width] = (np.abs(pixels.astype(np.int16) - key.astype(np.int16)) > CHANGE_LEVEL).any(axis=2)
    per_tile = moved.reshape(rows, TILE, cols, TILE).any(axis=(1, 3))
    return [int(t) for t in np.flatnonzero(per_tile)]


def pack_atlas(pixels: Pixels, delta_shape: Delta) -> bytes:
    """The delta's tiles copied out of pixels into one WebP (edge tiles padded with black)."""
    if not delta_shape.tiles:
        return b""
    count = len(delta_shape.tiles)
    columns = min(ATLAS_COLUMNS, count)
    atlas = np.zeros((-(-count // columns) * TILE, columns * TILE, 3), dtype=np.uint8)
    for slot, tile in enumerate(delta_shape.tiles):
        x0, y0, x1, y1 = delta_shape.tile_box(tile)
        ax, ay = (slot % columns) * TILE, (slot // columns) * TILE
        atlas[ay : ay + y1 - y0, ax : ax + x1 - x0] = pixels[y0:y1, x0:x1]
    return encode_picture(atlas)


def unpack_into(canvas: Pixels, delta: Delta) -> None:
    """Pastes the delta's tiles over canvas (a copy of its keyframe), in place."""
    if not delta.tiles:
        return
    atlas = decode_picture(delta.atlas)
    columns = min(ATLAS_COLUMNS, len(delta.tiles))
    for slot, tile in enumerate(delta.tiles):
        x0, y0, x1, y1 = delta.tile_box(tile)
        ax, ay = (slot % columns) * TILE, (slot // columns) * TILE
        canvas[y0:y1, x0:x1] = atlas[ay : ay + y1 - y0, ax : ax + x1 - x0]


def encode_picture(pixels: Pixels) -> bytes:
    image = Image.fromarray(pixels)
    lossless = _webp(image, LOSSLESS)
    if len(lossless) <= LOSSY_ABOVE_BYTES_PER_PIXEL * image.width * image.height:
        return lossless
    lossy = _webp(image, LOSSY)
    return lossy if len(lossy) < len(lossless) else lossless


def decode_picture(data: bytes) -> Pixels:
    with Image.open(io.BytesIO(data), formats=["WEBP"]) as image:
        return np.asarray(image.convert("RGB"))


def _webp(image: Image.Image, options: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", **options)
    return buffer.getvalue()


def flat_fill(pixels: Pixels, boxes: Sequence[Box], scale: tuple[float, float] = (1.0, 1.0)) -> None:
    """Covers each box (frame pixels, scaled) with its mean colour, in place: a blur can be read back."""
    height, width = pixels.shape[:2]
    for x0, y0, x1, y1 in boxes:
        left, top = max(0, int(x0 * scale[0]) - 2), max(0, int(y0 * scale[1]) - 2)
        right, bottom = min(width, int(x1 * scale[0] + 0.999) + 2), min(height, int(y1 * scale[1] + 0.999) + 2)
        if right > left and bottom > top:
            region = pixels[top:bottom, left:right]
            region[:] = region.reshape(-1, 3).mean(axis=0).astype(np.uint8)
