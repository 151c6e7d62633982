"""Image files for folder tests: distinct good ones, and every kind of bad one."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_bytes(seed: int, size: tuple[int, int] = (320, 200)) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def copy_in(folder: Path, name: str, data: bytes) -> Path:
    """Writes outside the folder, then renames in: how a finished file arrives (cp, a download)."""
    staging = folder.parent / f".staging-{name}"
    staging.write_bytes(data)
    target = folder / name
    staging.rename(target)
    return target


def write_distinct_pngs(folder: Path, count: int, start: int = 0) -> list[Path]:
    return [copy_in(folder, f"shot-{i:03d}.png", png_bytes(i)) for i in range(start, start + count)]


def png_declaring(width: int, height: int) -> bytes:
    """A tiny valid PNG header claiming huge dimensions: a decompression bomb that costs nothing."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def write_bad_files(folder: Path) -> list[Path]:
    """Files with image names that are not usable images (each must be rejected, none stored)."""
    good = png_bytes(7)
    bad = [
        copy_in(folder, "empty.png", b""),
        copy_in(folder, "truncated.png", good[: len(good) // 2]),
        copy_in(folder, "noise.png", os.urandom(4096)),
        copy_in(folder, "bomb.png", png_declaring(100_000, 100_000)),
    ]
    copy_in(folder, "notes.txt", b"not an image, and not an image name")
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    return bad
