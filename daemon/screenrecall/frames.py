"""The immutable messages that flow between pipeline stages: Frame in, Record out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Source = Literal["screen", "folder"]
Pixels = NDArray[np.uint8]  # H x W x 3, RGB
Embedding = NDArray[np.float32]  # 1-D, L2-normalised


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

    @property
    def size(self) -> tuple[int, int]:
        height, width = self.pixels.shape[:2]
        return width, height


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


@dataclass(frozen=True, slots=True)
class TextFound:
    """What OCR read on a frame (already redacted), on its way to that frame's record."""

    source: Source
    monitor: int
    captured_at_ms: int
    file_key: str
    text: str
    redacted_boxes: tuple[tuple[int, int, int, int], ...]  # frame pixels: blur these in the thumbnail
    frame_size: tuple[int, int]  # width, height

    @property
    def frame_key(self) -> tuple[str, int, int, str]:
        return (self.source, self.monitor, self.captured_at_ms, self.file_key)
