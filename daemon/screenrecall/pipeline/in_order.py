"""Hands on results in the order their work was submitted.

OpenVINO's AsyncInferQueue finishes jobs in whatever order its requests complete; the writer judges
each screen frame against the one before it on that monitor, so it must see them as captured.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)


class InOrder(Generic[T]):
    """Tickets are taken on one thread (the submitter); results may finish on any thread.

    Holds at most as many finished results as there are jobs in flight, since a result waits only
    for older jobs to finish.
    """

    def __init__(self, release: Callable[[T], None]) -> None:
        self._release = release
        self._lock = threading.Lock()
        self._issued = 0
        self._next = 0
        self._finished: dict[int, T | None] = {}

    def ticket(self) -> int:
        with self._lock:
            self._issued += 1
            return self._issued - 1

    def finish(self, ticket: int, result: T | None) -> None:
        """Records a job's result (None: the job produced nothing) and releases every result that is
        now next in line. Releasing under the lock is what keeps them in order."""
        with self._lock:
            if ticket < self._next or ticket in self._finished:
                return  # already finished (an error handler after a failed release)
            self._finished[ticket] = result
            while self._next in self._finished:
                ready = self._finished.pop(self._next)
                self._next += 1
                if ready is None:
                    continue
                try:
                    self._release(ready)
                except Exception:  # one failed hand-over must not hold back every later result
                    logger.exception("could not hand on a result")

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._finished)
