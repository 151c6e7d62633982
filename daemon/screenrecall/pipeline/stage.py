"""The shape every long-running pipeline stage shares: one named thread, started, joined, watched."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod


class Stage(ABC):
    """A stage owns one non-daemon thread running `_run`; `alive_at` is the last time its loop came
    round, which the composition root reads to tell a wedged stage from a busy one."""

    def __init__(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=name)
        self.alive_at = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.ident is not None:  # a start-up that failed half-way stops unstarted stages too
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _beat(self) -> None:
        self.alive_at = time.monotonic()

    @abstractmethod
    def _run(self) -> None:
        """The stage's loop; returns when the stage has stopped."""
