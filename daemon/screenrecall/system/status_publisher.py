"""Keeps the status file (and systemd's STATUS= line) fresh: rewritten within a moment of a change
that matters (pause or resume, a write to the store, the display or disk state), and every few
seconds otherwise, on a thread of its own and the monotonic clock.

It was a scheduled job every 5 s, sharing a thread with housekeeping: `screenrecall status` and
anything reading the file could see a state up to 5 s old (or far older while a housekeeping run
held the thread, or the wall clock went back). Comparing a few counters four times a second costs
nothing; a snapshot (it counts the store) is taken only when one moved.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

logger = logging.getLogger(__name__)

EVERY_S = 5.0  # a full rewrite at least this often: queues and counters that are not marks move too
POLL_S = 0.25  # how soon a change is in the file; also the least time between two rewrites


class StatusPublisher:
    def __init__(
        self,
        publish: Callable[[], None],
        marks: Callable[[], Hashable],
        stop: threading.Event,
        every_s: float = EVERY_S,
        poll_s: float = POLL_S,
    ) -> None:
        self._publish = publish  # takes a snapshot and writes it (the file carries when: updated_ms)
        self._marks = marks  # what, when it changes, is worth a rewrite at once
        self._stop = stop
        self._every_s = every_s
        self._poll_s = poll_s
        self._thread = threading.Thread(target=self._run, name="status", daemon=True)
        self.published = 0

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """After the stop event is set; no rewrite follows this (the file can then be removed)."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        last: Hashable = None
        due = time.monotonic() + self._every_s
        while not self._stop.wait(self._poll_s):
            try:
                marks = self._marks()
                if marks != last or time.monotonic() >= due:
                    self._publish()
                    self.published += 1
                    last, due = marks, time.monotonic() + self._every_s
            except Exception:  # a failed snapshot or write is retried at the next poll; never fatal
                logger.exception("could not publish the status")
                due = time.monotonic() + self._every_s
