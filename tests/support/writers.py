"""What the writer specs share: small unit embeddings, the clock, and stopping a writer cleanly."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from screenrecall.pipeline.messages import Embedding
from screenrecall.pipeline.writer import Writer

DIM = 16  # small embeddings: the writer and store care about cosines, not about CLIP's 512
MakeWriter = Callable[..., Writer]


def unit(seed: int, dim: int = DIM) -> Embedding:
    """A random unit vector, the same for the same seed (unrelated seeds are far apart)."""
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def now_ms() -> int:
    return int(time.time() * 1000)


def finish(writer: Writer) -> None:
    """Stops the writer (it writes everything put so far first) and checks its thread ended."""
    writer.stop()
    writer.join(10)
    assert not writer.is_alive()
