"""Synthetic screens with known text, rendered with a real font (for OCR tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype"))


def font(size: int = 16, mono: bool = True) -> ImageFont.FreeTypeFont:
    name = "DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        for path in folder.rglob(name):
            return ImageFont.truetype(str(path), size)
    raise FileNotFoundError(f"{name} not found: install fonts-dejavu-core")


def terminal(lines: Sequence[str], size: tuple[int, int] = (1280, 720), font_size: int = 16) -> NDArray[np.uint8]:
    """Light text on a dark background, one line every 1.5 font sizes, like a terminal."""
    image = Image.new("RGB", size, (24, 24, 24))
    draw = ImageDraw.Draw(image)
    face = font(font_size)
    for index, line in enumerate(lines):
        draw.text((12, 10 + int(font_size * 1.5) * index), line, fill=(225, 225, 225), font=face)
    return np.asarray(image).copy()


def words(text: str) -> set[str]:
    """Lower-case alphanumeric words of 3+ characters: what a word search can find."""
    import re

    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 3}
