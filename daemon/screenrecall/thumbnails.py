"""Small private WebP pictures of stored frames, so a search result can be shown."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from screenrecall import paths
from screenrecall.frames import Pixels

logger = logging.getLogger(__name__)


def shrink(pixels: Pixels, max_px: int) -> Pixels:
    """A copy whose longest side is at most max_px (cheap: integer box-reduce, then bilinear)."""
    height, width = pixels.shape[:2]
    scale = max_px / max(width, height)
    if scale >= 1:
        return pixels.copy()
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image)


class ThumbnailStore:
    """Writes thumbnails under one private directory: dirs 0700, files 0600."""

    def __init__(self, root: Path, quality: int) -> None:
        self.root = root
        self._quality = quality

    def write(self, record_id: str, pixels: Pixels) -> str:
        """Saves the picture; returns its path, or "" when it could not be written (logged)."""
        folder = paths.ensure_private_dir(self.root / record_id[:2])
        target = folder / f"{record_id}.webp"
        partial = folder / f".{record_id}.webp.part"
        try:
            # Create 0600 before any byte is written, then rename: never a readable or torn file.
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                Image.fromarray(pixels).save(handle, format="WEBP", quality=self._quality, method=2)
            partial.replace(target)
        except OSError as exc:
            logger.warning("thumbnail not written (%s); the record is kept without one", exc.strerror or exc)
            partial.unlink(missing_ok=True)
            return ""
        return str(target)

    def remove(self, path: str) -> None:
        if not path:
            return
        target = Path(path)
        # Only ever delete inside our own directory, whatever a record's metadata says.
        if target.resolve().parent.parent != self.root.resolve():
            logger.warning("refusing to delete a thumbnail outside %s", self.root)
            return
        target.unlink(missing_ok=True)

    def disk_bytes(self) -> int:
        if not self.root.exists():
            return 0
        return sum(entry.stat().st_blocks * 512 for entry in self.root.rglob("*") if entry.is_file())
