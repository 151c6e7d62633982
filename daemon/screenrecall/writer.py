"""Last stage: embedding-level dedup, thumbnails, and batched writes to the store (its only writer)."""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from screenrecall.frames import Embedded, Embedding, Record, TextFound
from screenrecall.schema import record_id_for_file, record_id_for_screen
from screenrecall.stage import Stage
from screenrecall.store import Store
from screenrecall.text_match import Decision, TextMatcher, frame_key
from screenrecall.thumbnails import ThumbnailStore

logger = logging.getLogger(__name__)

# Results waiting to be written. The encoder's callback blocks when this is full, which in turn
# holds back the encoder: backpressure, never loss. 256 is a few seconds of encoder output.
INBOX_SIZE = 256
# Records kept for retry while the store refuses writes (e.g. a full disk); beyond that the
# oldest screen records are given up and counted, so memory stays bounded.
MAX_UNWRITTEN = 2000
# How far back the writer looks for a monitor's last record after a restart.
RESUME_WINDOW_MS = 15 * 60 * 1000
_STOP = object()


@dataclass
class _Forget:
    """A forget request, run on the writer's thread so nothing pending can resurrect what it deletes."""

    since_ms: int
    until_ms: int
    done: threading.Event
    forgotten: int = 0
    error: str = ""


StoredHandler = Callable[[Record, bool], None]  # (record, is_new)


@dataclass
class _Last:
    record_id: str
    embedding: Embedding
    last_seen_ms: int
    has_text: bool = False


@dataclass
class WriterStats:
    added: int = 0
    extended: int = 0
    write_failures: int = 0
    given_up: int = 0
    last_write_ms: int = 0


class Writer(Stage):
    """Owns every write to the store. One thread; `put` is safe from any thread."""

    def __init__(
        self,
        store: Store,
        thumbnails: ThumbnailStore | None,
        *,
        dedup_cosine: float,
        batch_size: int,
        flush_interval_s: float,
        on_stored: StoredHandler | None = None,
        host: str = "",
        on_text: Callable[[Record], None] | None = None,
        max_gap_s: float | None = None,
    ) -> None:
        self._store = store
        self._host = host
        self._thumbnails = thumbnails
        self._dedup = dedup_cosine
        self._batch_size = batch_size
        self._flush_interval = flush_interval_s
        self._on_stored = on_stored
        self._on_text = on_text  # a stored record got its OCR text (new records carry it already)
        self._texts = TextMatcher()
        self._max_gap_ms = None if max_gap_s is None else int(max_gap_s * 1000)
        self._inbox: queue.Queue[object] = queue.Queue(INBOX_SIZE)
        self._adds: dict[str, Record] = {}
        self._extends: dict[str, int] = {}
        self._last: dict[int, _Last | None] = {}
        self.stats = WriterStats()
        super().__init__("writer")

    def put(self, item: Embedded | TextFound) -> None:
        self._inbox.put(item)

    def forget(self, since_ms: int, until_ms: int, timeout: float = 60.0) -> int:
        """Deletes every record visible in [since_ms, until_ms] with its thumbnail; returns how many.

        Runs on the writer's thread, after everything already put: pending writes in the range are
        written and then deleted, never written after the delete.
        """
        request = _Forget(since_ms, until_ms, threading.Event())
        self._inbox.put(request, timeout=timeout)
        if not request.done.wait(timeout):
            raise TimeoutError("the writer did not answer the forget request in time")
        if request.error:
            raise RuntimeError(request.error)
        return request.forgotten

    def _forget(self, request: _Forget) -> None:
        try:
            self._flush()
            removed = self._store.delete_range(request.since_ms, request.until_ms)
            for record in removed:
                if self._thumbnails is not None:
                    self._thumbnails.remove(record.thumbnail)
            # A forgotten record must not be extended: the next frame of each monitor starts afresh.
            self._last.clear()
            self._texts.forget_all()
            request.forgotten = len(removed)
            logger.info("forgot %d records", len(removed))
        except Exception as exc:  # reported to the caller, who asked; the writer carries on
            logger.exception("forget failed")
            request.error = str(exc)
        finally:
            request.done.set()

    def stop(self) -> None:
        """Writes everything already put, then ends the thread (call after upstream has stopped)."""
        self._inbox.put(_STOP)

    @property
    def waiting(self) -> int:
        return self._inbox.qsize()

    def _run(self) -> None:
        next_flush = time.monotonic() + self._flush_interval
        while True:
            self._beat()
            try:
                item = self._inbox.get(timeout=max(0.0, next_flush - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            try:
                if isinstance(item, Embedded):
                    self._take(item)
                elif isinstance(item, TextFound):
                    self._take_text(item)
                elif isinstance(item, _Forget):
                    self._forget(item)
            except Exception:  # one bad item must not end the only writer; it is logged and skipped
                self.stats.write_failures += 1
                logger.exception("could not handle a pipeline result")
            if len(self._adds) >= self._batch_size or time.monotonic() >= next_flush:
                self._flush()
                next_flush = time.monotonic() + self._flush_interval
        self._flush()

    def _take(self, item: Embedded) -> None:
        frame = item.frame
        if frame.source == "screen":
            last = self._last_of(frame.monitor)
            if last is not None and self._same_moment(last, item):
                last.last_seen_ms = max(last.last_seen_ms, frame.captured_at_ms)
                self._extend(last.record_id, frame.captured_at_ms)
                decision = Decision(last.record_id, last.embedding, needs_text=not last.has_text)
                early = self._texts.decided(frame_key(item), decision)
                if early is not None:
                    self._attach(early, decision)
                return
            record_id = record_id_for_screen(frame.monitor, frame.captured_at_ms, self._host)
            self._last[frame.monitor] = _Last(record_id, item.embedding, frame.captured_at_ms)
        else:
            record_id = record_id_for_file(frame.file_key)
        thumbnail = self._thumbnails.write(record_id, frame.pixels) if self._thumbnails else ""
        self._adds[record_id] = Record(
            id=record_id,
            embedding=item.embedding,
            captured_at_ms=frame.captured_at_ms,
            last_seen_ms=frame.captured_at_ms,
            source=frame.source,
            monitor=frame.monitor,
            path=frame.path,
            window=frame.window,
            width=item.width,
            height=item.height,
            thumbnail=thumbnail,
            file_key=frame.file_key,
            host=self._host,
            tiles=item.tiles,
        )
        early = self._texts.decided(frame_key(item), Decision(record_id, item.embedding, needs_text=True))
        if early is not None:
            self._attach(early, Decision(record_id, item.embedding, needs_text=True))

    def _take_text(self, found: TextFound) -> None:
        decision = self._texts.arrived(found)
        if decision is not None:
            self._attach(found, decision)

    def _attach(self, found: TextFound, decision: Decision) -> None:
        """Gives a new record its OCR text and blurs redacted boxes in its thumbnail."""
        if not decision.needs_text:
            return  # the frame only extended a record that has its text already
        if not found.text and decision.record_id not in self._adds:
            return  # nothing read: no reason to touch a stored record
        pending = self._adds.get(decision.record_id)
        thumbnail = pending.thumbnail if pending is not None else ""
        if pending is not None:
            self._adds[decision.record_id] = dataclasses.replace(pending, text=found.text)
        else:
            try:
                self._store.set_text(decision.record_id, found.text, decision.embedding)
            except Exception as exc:  # the record may have been forgotten meanwhile; the text is best effort
                logger.warning("OCR text not stored: %s", exc)
                return
            stored = self._store.get(decision.record_id)
            thumbnail = stored.thumbnail if stored is not None else ""
            if stored is not None and self._on_text is not None:
                self._safe(self._on_text, stored)
        last = self._last.get(found.monitor) if found.source == "screen" else None
        if last is not None and last.record_id == decision.record_id:
            last.has_text = bool(found.text)
        if found.redacted_boxes and thumbnail and self._thumbnails is not None:
            self._thumbnails.hide(thumbnail, found.redacted_boxes, found.frame_size)

    def _same_moment(self, last: _Last, item: Embedded) -> bool:
        # A gap (a pause, the daemon stopped) ends a moment even when the screen looks the same:
        # the record must not claim the screen was seen while nobody was looking.
        gap = item.frame.captured_at_ms - last.last_seen_ms
        if self._max_gap_ms is not None and gap > self._max_gap_ms:
            return False
        return float(item.embedding @ last.embedding) >= self._dedup

    def _last_of(self, monitor: int) -> _Last | None:
        if monitor not in self._last:
            # After a restart, carry on from the monitor's recent record instead of duplicating it.
            since = int(time.time() * 1000) - RESUME_WINDOW_MS
            try:
                found = self._store.latest(monitor, since)
            except Exception as exc:  # the store is failing: dedup against nothing, ask again next frame
                logger.warning("could not read monitor %d's last record: %s", monitor, exc)
                return None
            usable = found is not None and found.embedding.size > 0
            self._last[monitor] = (
                _Last(found.id, found.embedding, found.last_seen_ms, bool(found.text)) if usable and found else None
            )
        return self._last[monitor]

    def _extend(self, record_id: str, seen_ms: int) -> None:
        pending = self._adds.get(record_id)
        if pending is not None:
            self._adds[record_id] = dataclasses.replace(pending, last_seen_ms=max(pending.last_seen_ms, seen_ms))
        else:
            self._extends[record_id] = max(self._extends.get(record_id, 0), seen_ms)

    def _flush(self) -> None:
        if not self._adds and not self._extends:
            return
        adds, extends = list(self._adds.values()), dict(self._extends)
        try:
            self._store.add(adds)
            self._store.extend(extends)
        except Exception as exc:  # Chroma raises many types (sqlite, OSError, its own); all mean "not written"
            self.stats.write_failures += 1
            logger.error("store write failed, %d records kept for retry: %s", len(adds), exc)
            self._trim_unwritten()
            return
        self._adds.clear()
        self._extends.clear()
        self.stats.added += len(adds)
        self.stats.extended += len(extends)
        self.stats.last_write_ms = int(time.time() * 1000)
        try:
            self._report(adds, extends)
        except Exception:  # written already; only the notification is lost
            logger.exception("could not report stored records")

    def _trim_unwritten(self) -> None:
        excess = len(self._adds) - MAX_UNWRITTEN
        if excess <= 0:
            return
        # Screen records go first: a folder file not written is caught up again at the next start.
        victims = sorted(self._adds.values(), key=lambda r: (r.source != "screen", r.captured_at_ms))[:excess]
        for record in victims:
            del self._adds[record.id]
            if self._thumbnails:
                self._thumbnails.remove(record.thumbnail)
        self.stats.given_up += len(victims)
        logger.error("gave up %d unwritten records (store still refusing writes)", len(victims))

    def _report(self, adds: list[Record], extends: dict[str, int]) -> None:
        handler = self._on_stored
        if handler is None:
            return
        extended = (self._store.get(record_id) for record_id in extends)
        for record, is_new in [*((r, True) for r in adds), *((r, False) for r in extended if r is not None)]:
            self._safe(handler, record, is_new)

    @staticmethod
    def _safe(handler: Callable[..., None], *args: object) -> None:
        try:
            handler(*args)
        except Exception:  # a subscriber's bug must not stop the writer
            logger.exception("%s failed", getattr(handler, "__name__", "a handler"))
