"""Small private WebP pictures of stored frames, so a search result can be shown."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from screenrecall import paths
from screenrecall.encode.letterbox import downscale
from screenrecall.pipeline.messages import Box, Pixels

logger = logging.getLogger(__name__)


def shrink(pixels: Pixels, max_px: int) -> Pixels:
    """A copy whose longest side is at most max_px (cheap: integer box-reduce, then bilinear)."""
    height, width = pixels.shape[:2]
    scale = max_px / max(width, height)
    if scale >= 1:
        return pixels.copy()
    return downscale(pixels, (max(1, round(width * scale)), max(1, round(height * scale))))


class ThumbnailStore:
    """Writes thumbnails under one private directory: dirs 0700, files 0600."""

    def __init__(self, root: Path, quality: int, redacted: str = "mask") -> None:
        self.root = root
        self._quality = quality
        self._redacted = redacted  # "mask": flat-fill redacted regions; "drop": delete the thumbnail

    def path_for(self, record_id: str) -> Path | None:
        """Where the record's thumbnail lives, from its id and our own directory only (never from
        record metadata, which a shared store lets another machine write); None for a malformed id."""
        if not record_id.isascii() or not record_id.isalnum():
            return None
        return self.root / record_id[:2] / f"{record_id}.webp"

    def write(
        self, record_id: str, pixels: Pixels, hidden: Sequence[Box] = (), frame_size: tuple[int, int] = (0, 0)
    ) -> str:
        """Saves the picture with the redacted regions (boxes in frame_size pixels) hidden first;
        returns its path, or "" when there is none: not written (logged), or dropped for a secret."""
        if hidden:
            if self._redacted == "drop":
                return ""
            pixels = np.asarray(_masked(Image.fromarray(pixels), hidden, frame_size))
        try:
            target = paths.ensure_private_dir(self.root / record_id[:2]) / f"{record_id}.webp"
            self._save(target, pixels)
        except OSError as exc:
            logger.warning("thumbnail not written (%s); the record is kept without one", exc.strerror or exc)
            return ""
        return str(target)

    def _save(self, target: Path, pixels: Pixels) -> None:
        partial = target.with_name(f".{target.name}.part")
        try:
            # Create 0600 before any byte is written, then rename: never a readable or torn file.
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                # method 0: the fastest encoder (~1.3 ms for 320 px, method 2 ~2.1 ms); size barely differs.
                Image.fromarray(pixels).save(handle, format="WEBP", quality=self._quality, method=0)
            partial.replace(target)
        except OSError:
            partial.unlink(missing_ok=True)
            raise

    def hide(self, path: str, boxes: Sequence[Box], frame_size: tuple[int, int]) -> None:
        """Hides redacted regions (boxes in frame pixels): masks them in place, or drops the thumbnail."""
        target = Path(path)
        if not self._inside(target):
            return
        if self._redacted == "drop":
            target.unlink(missing_ok=True)
            return
        try:
            with Image.open(target) as opened:
                image = opened.convert("RGB")
            self._save(target, np.asarray(_masked(image, boxes, frame_size)))
        except OSError as exc:
            logger.warning("could not mask a thumbnail (%s); removing it instead", exc)
            target.unlink(missing_ok=True)

    def remove(self, path: str) -> None:
        if not path:
            return
        target = Path(path)
        if self._inside(target):
            target.unlink(missing_ok=True)

    def _inside(self, target: Path) -> bool:
        # Only ever touch files inside our own directory, whatever a record's metadata says.
        if target.resolve().parent.parent != self.root.resolve():
            logger.warning("refusing to touch a thumbnail outside %s", self.root)
            return False
        return True

    def sweep(self, record_ids: Collection[str]) -> int:
        """At start-up, before the writer runs: removes half-written `.part` files and thumbnails
        whose record was never stored (both are what a SIGKILL between the two writes leaves)."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in self.root.glob("*/*"):
            orphan = entry.suffix == ".webp" and entry.stem not in record_ids
            if (entry.name.endswith(".part") or orphan) and entry.is_file():
                entry.unlink(missing_ok=True)
                removed += 1
        if removed:
            logger.info("removed %d half-written or orphaned thumbnail(s)", removed)
        return removed

    def disk_bytes(self) -> int:
        if not self.root.exists():
            return 0
        return sum(entry.stat().st_blocks * 512 for entry in self.root.rglob("*") if entry.is_file())


def _masked(image: Image.Image, boxes: Sequence[Box], frame_size: tuple[int, int]) -> Image.Image:
    """The image with each box (in frame_size pixels, scaled to the image) flat-filled."""
    image = image.copy()
    scale_x, scale_y = image.width / max(1, frame_size[0]), image.height / max(1, frame_size[1])
    for x0, y0, x1, y1 in boxes:
        region = (
            max(0, int(x0 * scale_x) - 2),
            max(0, int(y0 * scale_y) - 2),
            min(image.width, int(x1 * scale_x + 0.999) + 2),
            min(image.height, int(y1 * scale_y + 0.999) + 2),
        )
        if region[2] > region[0] and region[3] > region[1]:
            # A flat fill, not a blur: a blurred secret can sometimes be read back.
            image.paste(image.crop(region).resize((1, 1)).resize(_size(region)), region[:2])
    return image


def _size(region: Box) -> tuple[int, int]:
    return region[2] - region[0], region[3] - region[1]
