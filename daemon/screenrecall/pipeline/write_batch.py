"""The writer's batch: records to add (or replace) and last_seen extensions, written together.

While the store refuses writes (a full disk) the batch is kept for the next attempt, up to
MAX_UNWRITTEN records; beyond that the oldest screen records are given up and counted.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from screenrecall.pipeline.messages import Record
from screenrecall.store.chroma import Store

logger = logging.getLogger(__name__)

# Records kept for retry while the store refuses writes; bounds memory (a record with a 512-d
# embedding and its text is a few KB).
MAX_UNWRITTEN = 2000


@dataclasses.dataclass
class Written:
    added: list[Record]
    extended: dict[str, int]


class WriteBatch:
    """Writer-thread only."""

    def __init__(self, on_given_up: Callable[[Record], None]) -> None:
        self._adds: dict[str, Record] = {}
        self._extends: dict[str, int] = {}
        self._on_given_up = on_given_up  # e.g. removes the record's thumbnail
        self.given_up = 0

    def __len__(self) -> int:
        return len(self._adds)

    def put(self, record: Record) -> None:
        """Adds a record, or replaces the pending version of it (the last version wins)."""
        self._adds[record.id] = record
        self._extends.pop(record.id, None)

    def pending(self, record_id: str) -> Record | None:
        return self._adds.get(record_id)

    def extend(self, record_id: str, seen_ms: int) -> None:
        pending = self._adds.get(record_id)
        if pending is not None:
            self._adds[record_id] = dataclasses.replace(pending, last_seen_ms=max(pending.last_seen_ms, seen_ms))
        else:
            self._extends[record_id] = max(self._extends.get(record_id, 0), seen_ms)

    def flush(self, store: Store) -> Written | None:
        """Writes everything; returns what was written, or None when there was nothing (or it failed: raises)."""
        if not self._adds and not self._extends:
            return None
        adds, extends = list(self._adds.values()), dict(self._extends)
        store.add(adds)
        store.extend(extends)
        self._adds.clear()
        self._extends.clear()
        return Written(adds, extends)

    def trim(self) -> None:
        """After a failed write: keeps at most MAX_UNWRITTEN records, giving up screen records first."""
        excess = len(self._adds) - MAX_UNWRITTEN
        if excess <= 0:
            return
        # Screen records go first: a folder file not written is caught up again at the next start.
        victims = sorted(self._adds.values(), key=lambda r: (r.source != "screen", r.captured_at_ms))[:excess]
        for record in victims:
            del self._adds[record.id]
            self._on_given_up(record)
        self.given_up += len(victims)
        logger.error("gave up %d unwritten records (store still refusing writes)", len(victims))

    def clear(self) -> None:
        self._adds.clear()
        self._extends.clear()
