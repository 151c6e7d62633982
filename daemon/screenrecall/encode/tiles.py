"""Tiles: a frame cut into a grid, each embedded besides the whole frame, so small regions count.

A frame's visual score becomes the best of its whole-frame and tile scores (see search.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from screenrecall.pipeline.messages import Embedding, Pixels


def tile_views(pixels: Pixels, grid: int) -> list[Pixels]:
    """grid x grid views (not copies) of the frame, row by row; edges absorb the remainder."""
    height, width = pixels.shape[:2]
    rows = [round(height * i / grid) for i in range(grid + 1)]
    cols = [round(width * j / grid) for j in range(grid + 1)]
    return [pixels[rows[i] : rows[i + 1], cols[j] : cols[j + 1]] for i in range(grid) for j in range(grid)]


@dataclass
class Gathering:
    """The embeddings of one frame's parts (0 = the whole frame, 1.. = tiles), as they come back.

    Results arrive on OpenVINO's threads in any order; the last one to arrive completes it.
    """

    parts: int
    embeddings: dict[int, Embedding] = field(default_factory=dict)
    arrived: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, index: int, embedding: Embedding | None) -> bool:
        """Records one part (None: it failed); True when this was the last part to arrive."""
        with self._lock:
            if embedding is not None:
                self.embeddings[index] = embedding
            self.arrived += 1
            return self.arrived == self.parts

    @property
    def whole(self) -> Embedding | None:
        return self.embeddings.get(0)

    @property
    def tiles(self) -> tuple[Embedding, ...]:
        """Only when every tile succeeded: a partial grid would misplace tiles."""
        if all(i in self.embeddings for i in range(1, self.parts)):
            return tuple(self.embeddings[i] for i in range(1, self.parts))
        return ()
