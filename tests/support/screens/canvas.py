"""Drawing text screens: a canvas that remembers what it drew, window chrome, and whole app frames."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from tests.support.screens.fonts import face, width_of

FRAME = (1920, 1080)  # width, height
Colour = tuple[int, int, int]
Style = tuple[str, int, Colour]  # font family, size in px, colour
Pixels = NDArray[np.uint8]


def terminal(lines: Sequence[str], size: tuple[int, int] = (1280, 720), font_size: int = 16) -> Pixels:
    """Light text on a dark background, one line every 1.5 font sizes, like a bare terminal (no chrome)."""
    image = Image.new("RGB", size, (24, 24, 24))
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((12, 10 + int(font_size * 1.5) * index), line, fill=(225, 225, 225), font=face("mono", font_size))
    return np.asarray(image).copy()


def words(text: str) -> set[str]:
    """Lower-case alphanumeric words of 3+ characters: what a word search can find."""
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 3}


@dataclass
class Canvas:
    """A 1080p frame being drawn, remembering every string drawn on it (the ground truth for OCR)."""

    background: Colour
    image: Image.Image = field(init=False)
    draw: ImageDraw.ImageDraw = field(init=False)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.image = Image.new("RGB", FRAME, self.background)
        self.draw = ImageDraw.Draw(self.image)

    def text(self, x: int, y: int, s: str, style: Style) -> int:
        """Draws s at (x, y) in style (family, px, colour); returns the x just after it."""
        family, size, fill = style
        self.draw.text((x, y), s, font=face(family, size), fill=fill)
        self.texts.append(s)
        return x + width_of(s, family, size)

    def box(self, xy: tuple[int, int, int, int], fill: Colour | None, outline: Colour | None = None) -> None:
        self.draw.rectangle(xy, fill=fill, outline=outline)

    def pixels(self) -> Pixels:
        return np.asarray(self.image).copy()


def chrome(canvas: Canvas, title: str, dark: bool) -> None:
    """A top panel with a clock, and the window's title bar (y 28..60)."""
    canvas.box((0, 0, FRAME[0], 28), (36, 36, 40))
    canvas.text(8, 6, "Activities", ("sans", 13, (230, 230, 230)))
    canvas.text(900, 6, "Tue 14:32", ("bold", 13, (230, 230, 230)))
    canvas.box((0, 28, FRAME[0], 60), (60, 60, 64) if dark else (222, 222, 226))
    canvas.text(16, 36, title, ("sans", 14, (220, 220, 220) if dark else (40, 40, 40)))


# --- app frames: content in, pixels out (shared by the corpus and the scripted sequences) ----------------


def terminal_frame(lines: Sequence[str], size: int) -> Canvas:
    canvas = Canvas((20, 22, 26))
    chrome(canvas, "user@workstation: ~/projects/billing", True)
    for i, line in enumerate(lines):
        ink = (120, 220, 120) if line.startswith("$") else (210, 215, 210)
        canvas.text(12, 68 + i * int(size * 1.45), line, ("mono", size, ink))
    return canvas


def document_frame(title: str, lines: Sequence[tuple[int, str]], family: str, size: int) -> Canvas:
    """lines: (y, text) on a white page."""
    canvas = Canvas((238, 238, 240))
    chrome(canvas, f"{title}.odt - LibreOffice Writer", False)
    canvas.box((380, 70, 1540, FRAME[1]), (255, 255, 255), (200, 200, 200))
    canvas.text(440, 100, title, ("bold", 26, (20, 20, 20)))
    for y, line in lines:
        canvas.text(440, y, line, (family, size, (30, 30, 30)))
    return canvas


def chat_frame(messages: Sequence[tuple[str, str, str]], size: int) -> Canvas:
    """messages: (name, time, text), oldest first, in bubbles under a channel list."""
    canvas = Canvas((250, 250, 252))
    chrome(canvas, "#billing-ops | Team Chat", False)
    canvas.box((0, 60, 300, FRAME[1]), (63, 14, 64))
    for i, channel in enumerate(["# general", "# billing-ops", "# random", "# deploys", "# design"]):
        canvas.text(24, 90 + 34 * i, channel, ("sans", 15, (225, 210, 225)))
    for i, (name, time, text) in enumerate(messages):
        y = 80 + i * chat_pitch(size)
        x = canvas.text(340, y, name, ("bold", size, (30, 30, 30)))
        canvas.text(x + 12, y + 2, time, ("sans", 11, (120, 120, 120)))
        canvas.box((336, y + size + 8, 360 + width_of(text, "sans", size), y + 2 * size + 22), (232, 236, 244))
        canvas.text(348, y + size + 12, text, ("sans", size, (20, 20, 20)))
    return canvas


def chat_pitch(size: int) -> int:
    return 2 * size + 40
