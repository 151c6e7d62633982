"""Housekeeping's pacing: long work (expiry, the budget trim, walks over picture files) done in
bounded chunks with a short rest between them, ending at once when the daemon stops.

One housekeeping run shares its thread with the status job, and deletes contend with the writer
for the store; a run over a year of records in one go held both for minutes and made stop wait for
it (systemd's stop timeout then kills the daemon before the pipeline drains).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

# Records deleted per chunk: a few hundred deletes take well under a second in Chroma, so the
# writer's batches interleave with them.
CHUNK_RECORDS = 500
# Files stat()ed per chunk of a walk: stat is cheap, a walk's cost is in the number of files.
CHUNK_FILES = 5000
# The rest between chunks: lets the writer and queries in, costs little when the work is large.
REST_S = 0.05


class StoppedError(Exception):
    """The daemon is stopping: the rest of this run's work waits for the next start."""


class Chunks:
    def __init__(
        self,
        stop: threading.Event,
        records: int = CHUNK_RECORDS,
        files: int = CHUNK_FILES,
        rest_s: float = REST_S,
    ) -> None:
        self.stop = stop
        self.records = records
        self.files = files
        self._rest_s = rest_s
        self.rests = 0  # how many times a run yielded between chunks (for status and tests)

    def rest(self) -> None:
        """Between two chunks: yields for a moment; raises StoppedError if the daemon is stopping."""
        self.rests += 1
        if self.stop.wait(self._rest_s):
            raise StoppedError

    def check(self) -> None:
        if self.stop.is_set():
            raise StoppedError

    def tree_bytes(self, root: Path) -> int:
        """Allocated bytes of every file under root, resting every `files` files."""
        total = seen = 0
        for directory, _dirs, names in os.walk(root):
            for name in names:
                try:
                    total += os.lstat(os.path.join(directory, name)).st_blocks * 512
                except FileNotFoundError:
                    continue  # removed while we walked (the writer replaced a picture)
                seen += 1
                if seen % self.files == 0:
                    self.rest()
        return total
