"""Remembers folder files that are not usable images, so a restart's catch-up does not retry them."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

logger = logging.getLogger(__name__)


class RejectLedger:
    """One file key per line in a private file (keys hold paths: 0600 in the 0700 data dir).

    A file fixed in place gets a new size or mtime, hence a new key, and is tried again.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

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
        except OSError as exc:
            logger.warning("could not record a rejected file (%s)", exc.strerror or exc)
