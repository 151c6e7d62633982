"""Gives each new screen record an id that no other record has, even when the wall clock comes back.

A screen record's id is a hash of (host, monitor, capture millisecond), so re-deriving it is cheap and
stable. After a backward wall-clock jump (NTP correction, a manual change) the capture clock can
return to a millisecond a stored record already used; the same id would then upsert over that older
moment, its text and its picture. So whenever a capture time is not after the last one this writer
gave an id for on that monitor (or is the first since start, when that is unknown), the id is checked
and, if taken, salted until it is free. Normal ids, and so every existing record's id, are unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from screenrecall.store.layout import record_id_for_screen

logger = logging.getLogger(__name__)

# Salts tried before giving up the check: each is one id lookup, and more than a few records at one
# millisecond of one monitor means the clock went back more than a few times across the same instant.
MAX_SALTS = 1000


class ScreenIds:
    """Writer-thread only. taken(id) says whether a record (stored or pending) already has the id."""

    def __init__(self, host: str, taken: Callable[[str], bool]) -> None:
        self._host = host
        self._taken = taken
        self._latest_ms: dict[int, int] = {}  # per monitor: the newest capture time given an id
        self.salted = 0  # ids that had to be salted (a repeat after the clock went back)

    def new(self, monitor: int, captured_at_ms: int) -> str:
        record_id = record_id_for_screen(monitor, captured_at_ms, self._host)
        latest = self._latest_ms.get(monitor)
        self._latest_ms[monitor] = captured_at_ms if latest is None else max(latest, captured_at_ms)
        if latest is not None and captured_at_ms > latest:
            return record_id  # the normal case: time moved on, nobody can have this id yet
        salt = 0
        while self._is_taken(record_id):
            salt += 1
            if salt > MAX_SALTS:
                raise RuntimeError(f"no free id for monitor {monitor} at {captured_at_ms} ms")
            record_id = record_id_for_screen(monitor, captured_at_ms, self._host, salt)
        if salt:
            self.salted += 1
            logger.warning("the clock came back to a used instant on monitor %d: new record id salted", monitor)
        return record_id

    def _is_taken(self, record_id: str) -> bool:
        try:
            return self._taken(record_id)
        except Exception as exc:  # the store cannot say: assume taken, a salted id is unique either way
            logger.warning("could not check record id %s: %s", record_id, exc)
            return True
