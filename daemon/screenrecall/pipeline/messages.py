"""The immutable messages that flow between pipeline stages: Frame in, Record out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Source = Literal["screen", "folder"]
Pixels = NDArray[np.uint8]  # H x W x 3, RGB
Embedding = NDArray[np.float32]  # 1-D, L2-normalised
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels
FrameKey = tuple[str, int, int, str]  # source, monitor, captured_at_ms, file_key: one frame


@dataclass(frozen=True, slots=True)
class Window:
    """The active window when a frame was taken; empty strings when unknown."""

    title: str = ""
    app: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One image to remember: a screen grab of a monitor, or an image file from a watched folder."""

    pixels: Pixels
    captured_at_ms: int
    source: Source
    monitor: int = 0  # 1-based mss monitor number; 0 for files
    path: str = ""  # the file, for folder frames
    window: Window = field(default_factory=Window)
    file_key: str = ""  # path|size|mtime of a folder file: makes re-ingest idempotent
    geometry: str = ""  # where the monitor sits on the desktop ("1920x1080+0+0"); "" for files, or unknown

    @property
    def size(self) -> tuple[int, int]:
        height, width = self.pixels.shape[:2]
        return width, height


def geometry_of(x: int, y: int, width: int, height: int) -> str:
    """A monitor's place on the desktop in X11 geometry notation, WIDTHxHEIGHT+X+Y (desktop pixels)."""
    return f"{width}x{height}{x:+d}{y:+d}"


@dataclass(frozen=True, slots=True, eq=False)
class Record:
    """A stored moment: one embedding with the metadata to find and show it again."""

    id: str
    embedding: Embedding
    captured_at_ms: int
    last_seen_ms: int
    source: Source
    monitor: int
    path: str
    window: Window
    width: int
    height: int
    thumbnail: str = ""
    file_key: str = ""  # the Frame's file_key for folder records; empty for screen records
    host: str = ""  # the machine that captured it (several machines may share one store)
    text: str = ""  # what OCR read on it, redacted (the Chroma document)
    tiles: tuple[Embedding, ...] = ()  # its grid tiles' embeddings (kept in the store's tiles collection)
    geometry: str = ""  # its monitor's place on the desktop, as the Frame's
    # When it entered the memory: retention counts from here. A folder file's captured_at is its
    # mtime (when it was made), which may be years before it was ingested. 0 = captured_at.
    ingested_at_ms: int = 0

    @property
    def kept_since_ms(self) -> int:
        return self.ingested_at_ms or self.captured_at_ms


@dataclass(frozen=True, slots=True)
class FileJob:
    """A complete image file waiting to be read: a path, not pixels, so a backlog stays small."""

    path: str
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        # Same path, size and mtime = same file: what makes catch-up and re-ingest idempotent.
        return f"{self.path}|{self.size}|{self.mtime_ns}"


@dataclass(frozen=True, slots=True, eq=False)
class Embedded:
    """A frame after the encoder: full pixels dropped, a thumbnail-sized copy kept for the writer."""

    frame: Frame  # pixels: the thumbnail-sized copy, not the full frame
    width: int  # of the original frame
    height: int
    embedding: Embedding
    tiles: tuple[Embedding, ...] = ()  # grid tiles' embeddings, row by row, when tiles are on
    text_expected: bool = False  # the frame went to OCR too: its record waits for the text
    # The full frame, for the readable-frame archive; None when the archive is off or its budget
    # of live full frames (pipeline.frame_archive.FullFrameBudget) is spent.
    full_pixels: Pixels | None = None

    @property
    def frame_key(self) -> FrameKey:
        frame = self.frame
        return (frame.source, frame.monitor, frame.captured_at_ms, frame.file_key)


TextStatus = Literal["read", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class TextFound:
    """OCR's answer for a frame it was offered (text already redacted), on its way to that frame's record.

    Every offered frame gets exactly one answer: "read", "skipped" (superseded by a newer frame of
    the same screen while waiting) or "failed"; the writer waits for it, so nothing is silently lost.
    """

    source: Source
    monitor: int
    captured_at_ms: int
    file_key: str
    text: str
    redacted_boxes: tuple[Box, ...]  # frame pixels: blur these in the thumbnail
    frame_size: tuple[int, int]  # width, height
    status: TextStatus = "read"

    @property
    def frame_key(self) -> FrameKey:
        return (self.source, self.monitor, self.captured_at_ms, self.file_key)
