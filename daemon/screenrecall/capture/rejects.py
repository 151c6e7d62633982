"""Remembers folder files that are not usable images, so a restart's catch-up does not retry them."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from screenrecall import paths

logger = logging.getLogger(__name__)

# A folder full of junk must not grow the ledger (and every start's read of it) without end.
MAX_KEYS = 20_000
CHECK_EVERY = 500


class RejectLedger:
    """One file key per line in a private file (keys hold paths: 0600 in the 0700 data dir).

    A file fixed in place gets a new size or mtime, hence a new key, and is tried again.
    """

    def __init__(self, path: Path, max_keys: int = MAX_KEYS) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._added = 0

    @classmethod
    def default(cls) -> RejectLedger:
        return cls(paths.ensure_private_dir(paths.data_dir()) / "rejected-files.txt")

    def load(self) -> set[str]:
        try:
            return {line for line in self._path.read_text(encoding="utf-8").splitlines() if line}
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError) as exc:
            logger.warning("reject ledger unreadable (%s); bad files will be retried once", exc)
            return set()

    def add(self, key: str) -> None:
        if "\n" in key:
            return  # a path with a newline cannot be one line; it is simply retried next start
        try:
            with self._lock:
                fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as handle:
                    handle.write(key + "\n")
                self._added += 1
                if self._added % CHECK_EVERY == 0:
                    self._bound()
        except OSError as exc:
            logger.warning("could not record a rejected file (%s)", exc.strerror or exc)

    def bound(self) -> None:
        """Keeps the newest max_keys keys (at start-up, and every CHECK_EVERY additions)."""
        with self._lock:
            try:
                self._bound()
            except OSError as exc:
                logger.warning("could not trim the reject ledger (%s)", exc.strerror or exc)

    def _bound(self) -> None:
        # The lock is held. A dropped old key only means that file is tried (and refused) once more.
        try:
            keys = self._path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return
        if len(keys) <= self._max_keys:
            return
        staging = self._path.with_name(self._path.name + ".part")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(keys[-self._max_keys :]) + "\n")
        staging.replace(self._path)
