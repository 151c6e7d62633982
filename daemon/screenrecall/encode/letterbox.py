"""Fits a whole frame into the model's square input: aspect kept, padded, never centre-cropped.

CLIP's own preprocessing crops the centre square, which drops the left and right fifth of a 16:9
screen. Resizing here is done cheaply on the CPU (Pillow reduces by an integer factor first), so the
model keeps a static u8 224x224 input that every device, the NPU included, can run.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from screenrecall.pipeline.messages import Pixels

# CLIP's mean pixel: padding of this colour normalises to ~0, so it reads as "no content".
PAD_RGB = (123, 117, 104)


def fitted_size(width: int, height: int, side: int) -> tuple[int, int]:
    """The size of a width x height image scaled to fit a side x side square."""
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def letterbox(pixels: Pixels, side: int = 224) -> Pixels:
    """RGB HxWx3 uint8 -> side x side x 3 uint8, the image centred on CLIP-mean padding."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape[:2]
    new_w, new_h = fitted_size(width, height, side)
    out = np.empty((side, side, 3), dtype=np.uint8)
    out[...] = PAD_RGB
    top, left = (side - new_h) // 2, (side - new_w) // 2
    out[top : top + new_h, left : left + new_w] = downscale(pixels, (new_w, new_h))
    return out


def downscale(pixels: Pixels, size: tuple[int, int]) -> Pixels:
    """Resized to (width, height): an integer box-reduce first, then a small bilinear resize.

    ~2 ms for a 1080p frame, against ~3.2 ms for Pillow's resize(reducing_gap=2) and ~10 ms bicubic.
    """
    height, width = pixels.shape[:2]
    if (width, height) == size:
        return pixels
    image = Image.fromarray(pixels)
    factor = min(width // size[0], height // size[1])
    if factor >= 2:
        image = image.reduce(factor)
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR))
