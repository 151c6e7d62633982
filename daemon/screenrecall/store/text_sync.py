"""Keeps the text index consistent with Chroma: start-up reconciliation, rebuilds, and shared-server sync.

Writes go to both stores in one order (ids marked pending in the index, Chroma written, index written
and the marks cleared in one SQLite transaction), so after a crash the pending ids name every record
whose two copies may differ; each is re-read from Chroma. A count mismatch (a power cut that lost the
index's last commits, another host writing a shared server) triggers a full comparison of the ids.

With store.url the collection is shared by several hosts; each daemon's index mirrors all of it: the
records of other hosts arrive by a catch-up of what changed recently, run at most every SYNC_S
(new records, extended ones and text set since), plus the full id comparison whenever the counts
differ. A hit whose record was deleted elsewhere in between is dropped when its record is fetched.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from screenrecall.pipeline.messages import Record
from screenrecall.store.text_index import TextIndex

if TYPE_CHECKING:
    from screenrecall.store.chroma import Store

logger = logging.getLogger(__name__)

SYNC_S = 30.0  # a shared server's other hosts' records become searchable here within this long
CATCH_UP_MARGIN_MS = 10 * 60 * 1000  # OCR text lands this long after a record's last_seen, at most
BATCH = 2000

Progress = Callable[[int], None]  # called with the number of records just indexed


def index_path(store_dir: Path, url: str) -> Path:
    """Beside Chroma's files; a shared server gets one index file per server URL."""
    if not url:
        return store_dir / "text-index.sqlite3"
    return store_dir / f"text-index-{hashlib.sha256(url.encode()).hexdigest()[:12]}.sqlite3"


def reconcile(store: Store, progress: Progress | None = None) -> None:
    """At open: builds a missing or outdated index, re-reads pending ids, compares ids if counts differ."""
    index = store.text_index
    if index.state != "ok":
        count = store.count()
        log = logger.warning if count else logger.debug  # a new store has nothing to say
        log("text index %s is %s: building it from the store (%d records)", index.path, index.state, count)
        rebuild(store, progress)
        return
    pending = index.pending()
    if pending:
        logger.warning("text index: re-reading %d record(s) written during a crash", len(pending))
        _reread(index, store, pending)
    if index.count() != store.count():
        compare_ids(store)


def rebuild(store: Store, progress: Progress | None = None) -> int:
    """Indexes every record of the store from scratch; returns how many."""
    index = store.text_index
    index.clear()
    done = 0
    batch: list[Record] = []
    for record in store.records(with_text=True):
        batch.append(record)
        if len(batch) >= BATCH:
            done += _flush(index, batch, progress)
    done += _flush(index, batch, progress)
    index.mark_built()
    logger.info("text index %s built: %d records", index.path, done)
    return done


def _flush(index: TextIndex, batch: list[Record], progress: Progress | None) -> int:
    index.load(batch)  # after clear: nothing to replace
    count = len(batch)
    batch.clear()
    if progress is not None:
        progress(count)
    return count


def _reread(index: TextIndex, store: Store, ids: list[str]) -> None:
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        found = store.get_many(chunk)
        index.upsert(found)
        index.delete(set(chunk) - {record.id for record in found})


def compare_ids(store: Store) -> tuple[int, int]:
    """Indexes records the index lacks and drops rows Chroma lacks; returns (added, removed)."""
    index = store.text_index
    in_store = {record.id for record in store.records()}
    in_index = set(index.ids())
    missing, extra = sorted(in_store - in_index), sorted(in_index - in_store)
    for start in range(0, len(missing), BATCH):
        index.upsert(store.get_many(missing[start : start + BATCH]), clear_pending=False)
    index.delete(extra)
    if missing or extra:
        logger.info("text index: %d record(s) added, %d removed to match the store", len(missing), len(extra))
    return len(missing), len(extra)


class ServerSync:
    """For a shared server: brings other hosts' writes into this host's index, in the background."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._last_ms = int(clock() * 1000)
        self._due = time.monotonic() + SYNC_S
        self._running = threading.Lock()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """Starts a sync in the background when one is due and none runs; never waits."""
        if time.monotonic() < self._due or not self._running.acquire(blocking=False):
            return
        self._due = time.monotonic() + SYNC_S
        self._thread = threading.Thread(target=self._run, name="text-index-sync", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Waits for a running sync: the store it reads is about to close."""
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            self.sync()
        except Exception:  # a sync is retried at the next poke; searching must go on meanwhile
            logger.exception("text index: sync with the shared store failed")
        finally:
            self._running.release()

    def sync(self) -> None:
        now_ms = int(self._clock() * 1000)
        since = self._last_ms - CATCH_UP_MARGIN_MS
        changed = list(self._store.records({"last_seen": {"$gte": since}}, with_text=True))
        for start in range(0, len(changed), BATCH):
            self._store.text_index.upsert(changed[start : start + BATCH], clear_pending=False)
        self._last_ms = now_ms
        if self._store.text_index.count() != self._store.count():
            compare_ids(self._store)
