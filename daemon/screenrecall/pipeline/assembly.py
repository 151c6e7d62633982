"""The pipeline proper, without its sources: model, lock, store, inbox, embedder, writer, housekeeper.

Shared by the daemon (app.py) and one-shot ingest (ingest.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from screenrecall import paths
from screenrecall.capture.reading_journal import ReadingJournal
from screenrecall.capture.rejects import RejectLedger
from screenrecall.capture.untrusted_image import load_image, pillow_formats
from screenrecall.config import Config
from screenrecall.encode.runtime import ModelRuntime, load_runtime
from screenrecall.ocr.stage import OcrStage
from screenrecall.pipeline.embedder import Embedder, SkipHandler
from screenrecall.pipeline.frame_archive import FrameArchive, FullFrameBudget
from screenrecall.pipeline.housekeeping import Housekeeper
from screenrecall.pipeline.inbox import EncodeInbox
from screenrecall.pipeline.messages import FileJob, Frame
from screenrecall.pipeline.stage import Stage
from screenrecall.pipeline.thumbnails import ThumbnailStore
from screenrecall.pipeline.writer import StoredHandler, Writer
from screenrecall.store.chroma import Store
from screenrecall.store.forget_ledger import ForgetLedger
from screenrecall.store.lock import ProcessLock

logger = logging.getLogger(__name__)

# Paths waiting for the encoder; a path costs ~100 bytes, so a deep backlog is cheap, and the
# watcher simply waits when it is full.
MAX_FILES_WAITING = 1024
# Files past the encoder waiting for OCR, each holding a thumbnail (~300 KB) until its text is read:
# OCR is ~100x slower than the encoder, so this is plenty to keep it busy.
MAX_FILES_IN_FLIGHT = 32
# A stage whose loop has not come round for this long is wedged: stop feeding the watchdog.
STALL_S = 30.0


def file_reader(config: Config) -> Callable[[FileJob], Frame]:
    formats = pillow_formats(config.watch.extensions)

    journal = ReadingJournal.default()

    def read(job: FileJob) -> Frame:
        with journal.reading(job.key):
            pixels = load_image(Path(job.path), max_pixels=config.watch.max_image_pixels, formats=formats)
        return Frame(pixels, job.mtime_ns // 1_000_000, "folder", path=job.path, file_key=job.key)

    return read


@dataclass
class Pipeline:
    """Everything between the sources and the store, built and owned by one App."""

    config: Config
    runtime: ModelRuntime
    lock: ProcessLock
    store: Store
    thumbnails: ThumbnailStore
    inbox: EncodeInbox
    writer: Writer
    embedder: Embedder
    housekeeper: Housekeeper
    ocr: OcrStage | None = None
    known_keys: set[str] = field(default_factory=set)
    frames: FrameArchive | None = None

    @classmethod
    def build(
        cls,
        config: Config,
        *,
        on_stored: StoredHandler | None = None,
        on_skipped: SkipHandler | None = None,
        runtime: ModelRuntime | None = None,
    ) -> Pipeline:
        """Opens model, lock and store in that order; raises ScreenrecallError subclasses on failure."""
        runtime = runtime or load_runtime(config.model, config.model_dir())
        lock = ProcessLock(config.lock_path())
        paths.ensure_private_dir(config.lock_path().parent)
        lock.acquire()
        try:
            store = Store.open(config.store_dir(), config.store.url)
            if config.store.url:  # a shared server: forget, retention and the budget act on our records only
                store.scope_host = config.store.host_name()
        except BaseException:
            lock.release()
            raise
        store.ledger = ledger = ForgetLedger.default()
        thumbnails = ThumbnailStore(
            paths.ensure_private_dir(paths.data_dir() / "thumbnails"),
            config.thumbnails.quality,
            redacted=config.redaction.thumbnails,
        )
        inbox = EncodeInbox(config.capture.max_queue_frames, MAX_FILES_WAITING, MAX_FILES_IN_FLIGHT)
        frames = FrameArchive(paths.ensure_private_dir(paths.data_dir() / "frames")) if config.frames.enabled else None
        rejects = RejectLedger.default()
        writer = Writer(
            store,
            thumbnails if config.thumbnails.enabled else None,
            dedup_cosine=config.dedup.cosine,
            batch_size=config.store.batch_size,
            flush_interval_s=config.store.flush_interval_s,
            on_stored=on_stored,
            host=config.store.host_name(),
            on_file_done=inbox.file_done,
            # Two missed heartbeats and a tick: longer than that, the screen went unwatched.
            max_gap_s=2 * config.capture.heartbeat_s + config.capture.interval_s,
            admit=ledger.admits,
            frames=frames,
        )
        ocr = _ocr_stage(config, writer) if config.ocr.enabled else None
        embedder = Embedder(
            inbox,
            runtime,
            writer,
            file_reader(config),
            thumbnail_px=config.thumbnails.max_px,
            on_skipped=on_skipped,
            on_rejected=lambda job: rejects.add(job.key),
            text_reader=ocr,
            tile_grid=config.tiles.grid,
            full_frames=FullFrameBudget(config.frames.max_live_full) if frames is not None else None,
        )
        housekeeper = Housekeeper(store, thumbnails, config.retention, paths.data_dir(), frames=frames)
        return cls(config, runtime, lock, store, thumbnails, inbox, writer, embedder, housekeeper, ocr, frames=frames)

    def start(self) -> None:
        self.writer.start()
        if self.ocr is not None:
            self.ocr.start()
        self.embedder.start()

    def stop(self) -> None:
        """Drains in order: the embedder empties the inbox and waits for inference, OCR ends its
        current read, then the writer flushes."""
        self.embedder.stop()
        self.embedder.join()
        if self.ocr is not None:
            self.ocr.stop()
            self.ocr.join()
        self.writer.stop()
        self.writer.join()
        self.store.close()
        self.lock.release()

    def _stages(self) -> list[tuple[str, Stage]]:
        stages: list[tuple[str, Stage]] = [("embedder", self.embedder), ("writer", self.writer)]
        return stages + ([("ocr", self.ocr)] if self.ocr is not None else [])

    def dead_stage(self) -> str:
        return next((name for name, stage in self._stages() if not stage.is_alive()), "")

    def stalled(self) -> bool:
        # OCR is left out: one slow read (seconds) of a dense screen is not a wedged pipeline.
        now = time.monotonic()
        return any(now - stage.alive_at > STALL_S for stage in (self.embedder, self.writer))


def _ocr_stage(config: Config, writer: Writer) -> OcrStage:
    from screenrecall.ocr.engine import OcrEngine
    from screenrecall.ocr.redact import Redactor

    redactor = Redactor(config.redaction.kinds) if config.redaction.kinds else None
    return OcrStage(
        lambda: OcrEngine(min_score=config.ocr.min_score, threads=config.ocr.threads),
        writer.put,
        redactor,
        file_reader(config),
        max_waiting=config.ocr.max_waiting_frames,
        changed_regions_only=config.ocr.changed_regions,
    )
