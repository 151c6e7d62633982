"""Remembers what was forgotten, so it does not come back: forgotten time ranges, and the record ids
of forgotten or expired folder files.

Without it, a forgotten folder file is ingested again at the next start (known files come only from
the store), and a frame already in the encoder or OCR when the user forgot its time is written after
the delete. The writer asks `admits(frame)` before it adds anything; the folder watcher asks
`knows_key(key)` before it queues a file. Ids are hashes of path|size|mtime (store.layout), so the
ledger itself names no file. Kept in a 0600 JSON file beside the store.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from screenrecall import paths
from screenrecall.pipeline.messages import Frame, Record
from screenrecall.store.layout import record_id_for_file

logger = logging.getLogger(__name__)

FILE_NAME = "forgotten.json"


class ForgetLedger:
    """Thread-safe: the writer, the housekeeper and the folder watcher share one."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._ids: set[str] = set()
        self._ranges: list[tuple[int, int]] = []
        self._load()

    @classmethod
    def default(cls) -> ForgetLedger:
        return cls(paths.data_dir() / FILE_NAME)

    def forgot_range(self, since_ms: int, until_ms: int, removed: Iterable[Record]) -> None:
        """A forget: nothing captured in [since, until] may be written from now on (clamped to now, so
        a range reaching into the future does not block tomorrow's capture)."""
        until_ms = min(until_ms, int(self._clock() * 1000))
        with self._lock:
            if since_ms <= until_ms:
                self._ranges = _merged([*self._ranges, (since_ms, until_ms)])
            self._ids.update(r.id for r in removed if r.source == "folder")
            self._save()

    def forgot_records(self, removed: Iterable[Record]) -> None:
        """Retention: expired folder files must not be ingested again."""
        ids = {r.id for r in removed if r.source == "folder"}
        if not ids:
            return
        with self._lock:
            self._ids |= ids
            self._save()

    def admits(self, frame: Frame) -> bool:
        """False for a frame captured in a forgotten range, or a folder file that was forgotten."""
        with self._lock:
            if frame.source == "folder" and record_id_for_file(frame.file_key) in self._ids:
                return False
            return not any(since <= frame.captured_at_ms <= until for since, until in self._ranges)

    def knows_key(self, file_key: str) -> bool:
        with self._lock:
            return record_id_for_file(file_key) in self._ids

    def _load(self) -> None:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            self._ids = {str(i) for i in data.get("ids", [])}
            self._ranges = _merged((int(s), int(u)) for s, u in data.get("ranges", []))
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            # Unreadable: carry on with what we know rather than stop capturing; say so loudly.
            logger.error("forget ledger %s unreadable (%s); forgotten files may be ingested again", self._path, exc)

    def _save(self) -> None:
        paths.ensure_private_dir(self._path.parent)
        partial = self._path.with_name(self._path.name + ".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"ids": sorted(self._ids), "ranges": self._ranges}, handle)
        partial.replace(self._path)


def _merged(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for since, until in sorted(ranges):
        if out and since <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], until))
        else:
            out.append((since, until))
    return out
