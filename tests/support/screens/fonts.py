"""The DejaVu faces every synthetic screen is drawn with (fonts-dejavu-core: what OCR tests and benchmarks read)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PIL import ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FAMILIES = {
    "sans": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "mono": "DejaVuSansMono.ttf",
}


@cache
def face(family: str, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / FAMILIES[family]
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: install fonts-dejavu-core")
    return ImageFont.truetype(str(path), size)


def width_of(text: str, family: str, size: int) -> int:
    return int(face(family, size).getlength(text))
