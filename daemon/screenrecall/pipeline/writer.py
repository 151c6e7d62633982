"""Last stage, the store's only writer: pairs each frame with its text, decides what it adds to the
memory (screen_moments), writes its picture only once redaction ran on it, and batches the writes.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from screenrecall.pipeline.frame_archive import FrameArchive
from screenrecall.pipeline.messages import Embedded, Frame, Record, TextFound
from screenrecall.pipeline.record_pictures import RecordPictures
from screenrecall.pipeline.screen_ids import ScreenIds
from screenrecall.pipeline.screen_moments import Current, Verdict, judge
from screenrecall.pipeline.stage import Stage
from screenrecall.pipeline.text_pairing import Pair, TextPairing
from screenrecall.pipeline.thumbnails import ThumbnailStore
from screenrecall.pipeline.write_batch import WriteBatch, Written
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_file

logger = logging.getLogger(__name__)

# Results waiting to be written. The encoder's callback blocks when this is full, which in turn
# holds back the encoder: backpressure, never loss. 256 is a few seconds of encoder output.
INBOX_SIZE = 256
# How far back the writer looks for a monitor's last record after a restart.
RESUME_WINDOW_MS = 15 * 60 * 1000
_STOP = object()

StoredHandler = Callable[[Record, bool], None]  # (record, is_new)


@dataclass
class _Forget:
    """A forget request, run on the writer's thread so nothing pending can resurrect what it deletes."""

    since_ms: int
    until_ms: int
    done: threading.Event
    all_hosts: bool = False
    forgotten: int = 0
    error: str = ""


@dataclass
class WriterStats:
    added: int = 0
    updated: int = 0  # records replaced in place by a later frame showing more text
    extended: int = 0
    superseded: int = 0  # live frames whose OCR was skipped while it was behind: not stored
    without_text: int = 0  # frames stored without text (OCR failed or never answered): no picture either
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
        max_gap_s: float | None = None,
        on_file_done: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        admit: Callable[[Frame], bool] | None = None,
        frames: FrameArchive | None = None,
    ) -> None:
        self._store = store
        self._host = host
        self._pictures = RecordPictures(thumbnails, frames)
        self._dedup = dedup_cosine
        self._batch_size = batch_size
        self._flush_interval = flush_interval_s
        self._on_stored = on_stored
        self._on_file_done = on_file_done  # a folder file left the pipeline: the inbox may let another in
        self._clock = clock
        self._max_gap_ms = None if max_gap_s is None else int(max_gap_s * 1000)
        self._admit = admit  # privacy hook: the forget ledger (store/forget_ledger.py)
        self._inbox: queue.Queue[object] = queue.Queue(INBOX_SIZE)
        self._pairing = TextPairing()
        self._batch = WriteBatch(self._pictures.remove_all)
        self._current: dict[int, Current | None] = {}
        self._new_ids: set[str] = set()  # ids in the batch written for the first time (not updates)
        self._watched_ms: dict[int, int] = {}  # per monitor: the last frame that came through, placed or not
        self._screen_ids = ScreenIds(host, self._id_taken)
        self.stats = WriterStats()
        super().__init__("writer")

    def put(self, item: Embedded | TextFound) -> None:
        self._inbox.put(item)

    def forget(self, since_ms: int, until_ms: int, all_hosts: bool = False, timeout: float = 60.0) -> int:
        """Deletes every record visible in [since_ms, until_ms] with its thumbnail; returns how many.
        On a shared server only this host's records, unless all_hosts.

        Runs on the writer's thread, after everything already put: pending writes in the range are
        written and then deleted, never written after the delete.
        """
        request = _Forget(since_ms, until_ms, threading.Event(), all_hosts)
        self._inbox.put(request, timeout=timeout)
        if not request.done.wait(timeout):
            raise TimeoutError("the writer did not answer the forget request in time")
        if request.error:
            raise RuntimeError(request.error)
        return request.forgotten

    def stop(self) -> None:
        """Writes everything already put, then ends the thread (call after upstream has stopped)."""
        self._inbox.put(_STOP)

    @property
    def waiting(self) -> int:
        return self._inbox.qsize() + self._pairing.waiting

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
                self._handle(item)
            except Exception:  # one bad item must not end the only writer; it is logged and skipped
                self.stats.write_failures += 1
                logger.exception("could not handle a pipeline result")
            if len(self._batch) >= self._batch_size or time.monotonic() >= next_flush:
                self._flush()
                next_flush = time.monotonic() + self._flush_interval
        self._store_unread()
        self._flush()

    def _store_unread(self) -> None:
        """At stop, screen frames OCR had not read yet are kept without text (and without a picture:
        redaction did not run); the next frame of that screen adds the text. Files are left out: not
        stored, they are read again at the next start."""
        unread = [pair for pair in self._pairing.drain() if pair.item.frame.source == "screen"]
        for pair in unread:
            self._take(pair)
        if unread:
            logger.info("stopping: %d screen frames stored before their text was read", len(unread))

    def _handle(self, item: object) -> None:
        if isinstance(item, Embedded):
            self._take(self._pairing.embedded(item))
        elif isinstance(item, TextFound):
            self._take(self._pairing.text(item))
        elif isinstance(item, _Forget):
            self._forget(item)
        for pair in self._pairing.expired():
            logger.warning("OCR never answered for a %s frame; storing it without text", pair.item.frame.source)
            self._take(pair)

    def _take(self, pair: Pair | None) -> None:
        if pair is None:
            return
        try:
            if self._admit is not None and not self._admit(pair.item.frame):
                return  # captured in a forgotten range, or a forgotten file: in flight during the forget
            if pair.text is not None and pair.text.status == "skipped":
                self.stats.superseded += 1  # only live frames are skipped; a newer one of that screen follows
                self._note_watched(pair)
            elif pair.item.frame.source == "screen":
                self._take_screen(pair)
            else:
                self._add(self._new_record(pair, record_id_for_file(pair.item.frame.file_key)), new=True)
        finally:
            if pair.item.frame.source == "folder" and self._on_file_done is not None:
                self._on_file_done()

    def _take_screen(self, pair: Pair) -> None:
        frame = pair.item.frame
        current = self._current_of(frame.monitor)
        text = pair.text.text if pair.text is not None and pair.text.status == "read" else None
        verdict = judge(
            current,
            pair.item.embedding,
            text,
            frame.captured_at_ms,
            dedup_cosine=self._dedup,
            max_gap_ms=self._max_gap_ms,
            watched_ms=self._watched_ms.get(frame.monitor, 0),
        )
        self._note_watched(pair)
        if verdict is Verdict.EXTEND and current is not None:
            current.record = dataclasses.replace(
                current.record, last_seen_ms=max(current.record.last_seen_ms, frame.captured_at_ms)
            )
            self._batch.extend(current.record.id, frame.captured_at_ms)
            self.stats.extended += 1
            return
        if verdict is Verdict.UPDATE and current is not None:
            record = dataclasses.replace(
                self._new_record(pair, current.record.id),
                captured_at_ms=current.record.captured_at_ms,
                ingested_at_ms=current.record.kept_since_ms,
            )
            self.stats.updated += 1
        else:
            record = self._new_record(pair, self._screen_ids.new(frame.monitor, frame.captured_at_ms))
        self._current[frame.monitor] = Current.of(record)
        self._add(record, new=verdict is Verdict.NEW)

    def _id_taken(self, record_id: str) -> bool:
        return self._batch.pending(record_id) is not None or self._store.get(record_id) is not None

    def _note_watched(self, pair: Pair) -> None:
        # A skipped frame was still a look at the screen: no gap in watching, only in reading.
        frame = pair.item.frame
        if frame.source == "screen":
            self._watched_ms[frame.monitor] = max(self._watched_ms.get(frame.monitor, 0), frame.captured_at_ms)

    def _new_record(self, pair: Pair, record_id: str) -> Record:
        item, found = pair.item, pair.text
        frame = item.frame
        read = found is not None and found.status == "read"
        if item.text_expected and not read:
            self.stats.without_text += 1
        return Record(
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
            thumbnail=self._pictures.write(record_id, pair),
            file_key=frame.file_key,
            host=self._host,
            text=found.text if found is not None and read else "",
            tiles=item.tiles,
            geometry=frame.geometry,
            ingested_at_ms=int(self._clock() * 1000) if frame.source == "folder" else 0,
        )

    def _add(self, record: Record, *, new: bool) -> None:
        replaced = self._batch.pending(record.id)
        if replaced is not None and replaced.thumbnail and replaced.thumbnail != record.thumbnail:
            self._pictures.remove_thumbnail(replaced)
        if new:
            self._new_ids.add(record.id)
        self._batch.put(record)

    def _current_of(self, monitor: int) -> Current | None:
        if monitor not in self._current:
            # After a restart, carry on from the monitor's recent record instead of duplicating it.
            since = int(self._clock() * 1000) - RESUME_WINDOW_MS
            try:
                found = self._store.latest(monitor, since)
            except Exception as exc:  # the store is failing: dedup against nothing, ask again next frame
                logger.warning("could not read monitor %d's last record: %s", monitor, exc)
                return None
            usable = found is not None and found.embedding.size > 0
            self._current[monitor] = Current.of(found) if usable and found is not None else None
        return self._current[monitor]

    def _forget(self, request: _Forget) -> None:
        try:
            self._flush()
            removed = self._store.delete_range(request.since_ms, request.until_ms, request.all_hosts)
            for record in removed:
                self._pictures.remove_all(record)
            # A forgotten record must not be extended: the next frame of each monitor starts afresh.
            self._current.clear()
            request.forgotten = len(removed)
            logger.info("forgot %d records", len(removed))
        except Exception as exc:  # reported to the caller, who asked; the writer carries on
            logger.exception("forget failed")
            request.error = str(exc)
        finally:
            request.done.set()

    def _flush(self) -> None:
        try:
            written = self._batch.flush(self._store)
        except Exception as exc:  # Chroma raises many types (sqlite, OSError, its own); all mean "not written"
            self.stats.write_failures += 1
            logger.error("store write failed, %d records kept for retry: %s", len(self._batch), exc)
            self._batch.trim()
            self.stats.given_up = self._batch.given_up
            return
        if written is None:
            return
        new_ids, self._new_ids = self._new_ids, set()
        self.stats.added += sum(1 for r in written.added if r.id in new_ids)
        self.stats.last_write_ms = int(time.time() * 1000)
        try:
            self._report(written, new_ids)
        except Exception:  # written already; only the notification is lost
            logger.exception("could not report stored records")

    def _report(self, written: Written, new_ids: set[str]) -> None:
        handler = self._on_stored
        if handler is None:
            return
        for record in written.added:
            self._safe(handler, record, record.id in new_ids)
        for record_id in written.extended:
            extended = self._store.get(record_id)
            if extended is not None:
                self._safe(handler, extended, False)

    @staticmethod
    def _safe(handler: Callable[..., None], *args: object) -> None:
        try:
            handler(*args)
        except Exception:  # a subscriber's bug must not stop the writer
            logger.exception("%s failed", getattr(handler, "__name__", "a handler"))
