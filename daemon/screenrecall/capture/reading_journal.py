"""Notes which folder files are being decoded right now, so one that killed the process is not retried.

A file that makes the decoder crash or the OOM killer strike would otherwise be read again by the
catch-up walk at every start: a crash loop. Each read leaves a small note (one file per key, in a
private directory) that is removed when the read ends, however it ends. A note still there at
start-up names a file whose read never ended: it goes to the reject ledger instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from screenrecall import paths
from screenrecall.capture.rejects import RejectLedger

logger = logging.getLogger(__name__)


class ReadingJournal:
    def __init__(self, directory: Path) -> None:
        self._dir = directory

    @classmethod
    def default(cls) -> ReadingJournal:
        return cls(paths.data_dir() / "reading")

    @contextmanager
    def reading(self, key: str) -> Iterator[None]:
        """Around one decode. The note survives a crash or SIGKILL of this process: the page cache
        outlives it (a power cut may lose it, which costs only a retry)."""
        note = self._note(key)
        try:
            paths.ensure_private_dir(self._dir)
            fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(key)
        except OSError as exc:
            logger.warning("could not note a file being read (%s)", exc.strerror or exc)
        try:
            yield
        finally:
            note.unlink(missing_ok=True)

    def reject_leftovers(self, ledger: RejectLedger) -> list[str]:
        """At start-up, before any reading: files whose read never ended are rejected for good."""
        if not self._dir.is_dir():
            return []
        keys = []
        for note in self._dir.iterdir():
            with suppress(OSError, UnicodeDecodeError):
                keys.append(note.read_text(encoding="utf-8"))
            note.unlink(missing_ok=True)
        for key in keys:
            ledger.add(key)
        if keys:
            # No path at INFO or above: the README promises paths are not logged.
            logger.warning("%d file(s) were being read when the daemon last died; not reading them again", len(keys))
        return keys

    def _note(self, key: str) -> Path:
        return self._dir / hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
