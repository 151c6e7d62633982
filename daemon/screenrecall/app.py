"""Composition root: builds the stages in pipeline order, starts them, stops them in reverse.

capture (sampler | folder watcher) -> inbox -> embedder (OpenVINO) -> writer (dedup, Chroma)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from screenrecall import paths
from screenrecall import status as status_file
from screenrecall.capture.folder import FolderWatcher
from screenrecall.capture.screen import ScreenGrabber, check_session
from screenrecall.capture.window import WindowProbe
from screenrecall.config import Config
from screenrecall.embedder import Embedder, SkipHandler
from screenrecall.encode.runtime import ModelRuntime, load_runtime
from screenrecall.frames import FileJob, Frame
from screenrecall.gate import ChangeGate
from screenrecall.housekeeping import Housekeeper
from screenrecall.images import load_image, pillow_formats
from screenrecall.inbox import EncodeInbox
from screenrecall.lock import ProcessLock
from screenrecall.notify import Notifier
from screenrecall.privacy import ExclusionFilter, PauseSwitch
from screenrecall.rejects import RejectLedger
from screenrecall.sampler import ScreenSampler
from screenrecall.status import Status
from screenrecall.store import Store
from screenrecall.thumbnails import ThumbnailStore
from screenrecall.writer import StoredHandler, Writer

logger = logging.getLogger(__name__)

# Paths waiting for the encoder; a path costs ~100 bytes, so a deep backlog is cheap, and the
# watcher simply waits when it is full.
MAX_FILES_WAITING = 1024
STATUS_EVERY_S = 2.0
# A stage whose loop has not come round for this long is wedged: stop feeding the watchdog.
STALL_S = 30.0


def lock_path(config: Config) -> Path:
    store = config.store_dir()
    return store.with_name(store.name + ".lock")


def pause_switch() -> PauseSwitch:
    return PauseSwitch(paths.runtime_dir() / "pause.json")


def reject_ledger() -> RejectLedger:
    return RejectLedger(paths.ensure_private_dir(paths.data_dir()) / "rejected-files.txt")


def file_reader(config: Config) -> Callable[[FileJob], Frame]:
    formats = pillow_formats(config.watch.extensions)

    def read(job: FileJob) -> Frame:
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
    known_keys: set[str] = field(default_factory=set)

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
        lock = ProcessLock(lock_path(config))
        paths.ensure_private_dir(lock_path(config).parent)
        lock.acquire()
        try:
            store = Store.open(config.store_dir(), config.store.url)
        except BaseException:
            lock.release()
            raise
        thumbnails = ThumbnailStore(
            paths.ensure_private_dir(paths.data_dir() / "thumbnails"), config.thumbnails.quality
        )
        inbox = EncodeInbox(config.capture.max_queue_frames, MAX_FILES_WAITING)
        rejects = reject_ledger()
        writer = Writer(
            store,
            thumbnails if config.thumbnails.enabled else None,
            dedup_cosine=config.dedup.cosine,
            batch_size=config.store.batch_size,
            flush_interval_s=config.store.flush_interval_s,
            on_stored=on_stored,
            host=config.store.host_name(),
        )
        embedder = Embedder(
            inbox,
            runtime,
            writer,
            file_reader(config),
            thumbnail_px=config.thumbnails.max_px,
            on_skipped=on_skipped,
            on_rejected=lambda job: rejects.add(job.key),
        )
        housekeeper = Housekeeper(store, thumbnails, config.retention, paths.data_dir())
        return cls(config, runtime, lock, store, thumbnails, inbox, writer, embedder, housekeeper)

    def start(self) -> None:
        self.writer.start()
        self.embedder.start()

    def stop(self) -> None:
        """Drains in order: the embedder empties the inbox and waits for inference, then the writer flushes."""
        self.embedder.stop()
        self.embedder.join()
        self.writer.stop()
        self.writer.join()
        self.store.close()
        self.lock.release()

    def dead_stage(self) -> str:
        for name, stage in (("embedder", self.embedder), ("writer", self.writer)):
            if not stage.is_alive():
                return name
        return ""

    def stalled(self) -> bool:
        now = time.monotonic()
        return any(now - stage.alive_at > STALL_S for stage in (self.embedder, self.writer))


class App:
    """The daemon: a pipeline plus its sources, scheduler, status and systemd notifications."""

    def __init__(self, config: Config, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.stop_event = threading.Event()
        self.notifier = Notifier(self.environ)
        self.pause = pause_switch()
        self.pipeline: Pipeline | None = None
        self.sampler: ScreenSampler | None = None
        self.watcher: FolderWatcher | None = None
        self.scheduler: BackgroundScheduler | None = None

    def build(self) -> None:
        if self.config.capture.enabled:
            check_session(self.environ)  # no display / Wayland-only: a clear start-up error
        self.notifier.status("loading the model and opening the store")
        self.pipeline = pipeline = Pipeline.build(self.config)
        pipeline.known_keys = pipeline.store.known_file_keys() | reject_ledger().load()
        if self.config.capture.enabled:
            self.sampler = ScreenSampler(
                ScreenGrabber(self.config.capture.monitors, WindowProbe()),
                ChangeGate(self.config.gate.threshold, self.config.capture.heartbeat_s),
                ExclusionFilter(self.config.privacy.exclude_apps, self.config.privacy.exclude_titles),
                self.pause,
                pipeline.inbox,
                capture_allowed=pipeline.housekeeper.capture_allowed,
            )
        if self.config.watch.folders:
            self.watcher = FolderWatcher(
                [Path(f) for f in self.config.watch.folders],
                recursive=self.config.watch.recursive,
                extensions=self.config.watch.extensions,
                settle_s=self.config.watch.settle_s,
                outbox=pipeline.inbox,
                stop=self.stop_event,
                is_known=pipeline.known_keys.__contains__,
            )

    def start(self) -> None:
        pipeline = self._pipeline()
        pipeline.start()
        pipeline.housekeeper.check_free_disk()  # before the first grab, not at the first housekeeping run
        if self.watcher is not None:
            self.watcher.start()
        self.scheduler = self._schedule()
        self.scheduler.start()
        self.notifier.ready()
        self.publish_status()
        logger.info("screenrecall running (device %s)", pipeline.runtime.executing_on)

    def _schedule(self) -> BackgroundScheduler:
        # One thread for capture (mss must stay on the thread that opened it), one for the rest.
        scheduler = BackgroundScheduler(
            executors={"capture": ThreadPoolExecutor(1), "default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )
        if self.sampler is not None:
            interval = self.config.capture.interval_s
            scheduler.add_job(self.sampler.tick, "interval", seconds=interval, executor="capture", id="capture")
        housekeeper = self._pipeline().housekeeper
        every = self.config.retention.check_interval_s
        scheduler.add_job(housekeeper.run, "interval", seconds=every, id="housekeeping", next_run_time=datetime.now())
        scheduler.add_job(self.publish_status, "interval", seconds=STATUS_EVERY_S, id="status")
        if self.watcher is not None:
            # Inotify can overflow and lose events silently; a periodic walk picks those files up.
            scheduler.add_job(self.watcher.catch_up, "interval", seconds=every, id="folder-catch-up")
        return scheduler

    def wait(self) -> int:
        """Blocks until asked to stop (0) or until a stage dies unasked (1)."""
        pipeline = self._pipeline()
        while not self.stop_event.wait(1.0):
            dead = pipeline.dead_stage() or (self.watcher is not None and not self.watcher.is_alive() and "watcher")
            if dead:
                logger.error("the %s stage died; exiting so the service manager restarts us", dead)
                return 1
        return 0

    def stop(self) -> None:
        """Sources first, then the pipeline drains; the store closes last."""
        self.stop_event.set()
        self.notifier.stopping()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher.join()
        if self.sampler is not None:
            self.sampler.close()
        if self.pipeline is not None:
            self.pipeline.stop()
        status_file.status_path().unlink(missing_ok=True)
        logger.info("screenrecall stopped")

    def publish_status(self) -> None:
        snapshot = self.snapshot()
        status_file.write(snapshot)
        self.notifier.status(snapshot.summary())
        # Fed only while every stage loop is coming round: a wedged pipeline gets restarted.
        if not self._pipeline().stalled():
            self.notifier.watchdog()

    def snapshot(self) -> Status:
        pipeline = self._pipeline()
        inbox = pipeline.inbox.stats()
        sampler = self.sampler.stats if self.sampler else None
        return Status(
            running=True,
            pid=os.getpid(),
            updated_ms=int(time.time() * 1000),
            device=pipeline.runtime.executing_on,
            records=pipeline.store.count(),
            last_frame_ms=pipeline.embedder.stats.last_frame_ms,
            paused=self.pause.state().paused,
            disk_low=pipeline.housekeeper.stats.disk_low,
            display_error=sampler.display_error if sampler else "",
            disk_bytes=pipeline.housekeeper.stats.disk_bytes,
            free_bytes=pipeline.housekeeper.stats.free_bytes,
            queues={
                "frames_waiting": inbox.frames_waiting,
                "files_waiting": inbox.files_waiting,
                "in_flight": pipeline.embedder.in_flight,
                "to_write": pipeline.writer.waiting,
            },
            counters={
                "frames_grabbed": sampler.grabbed if sampler else 0,
                "frames_unchanged": sampler.unchanged if sampler else 0,
                "frames_excluded": sampler.excluded if sampler else 0,
                "frames_dropped": inbox.frames_dropped,
                "encoded": pipeline.embedder.stats.encoded,
                "encode_errors": pipeline.embedder.stats.encode_errors,
                "files_rejected": pipeline.embedder.stats.files_rejected,
                "records_added": pipeline.writer.stats.added,
                "records_extended": pipeline.writer.stats.extended,
                "write_failures": pipeline.writer.stats.write_failures,
            },
        )

    def _pipeline(self) -> Pipeline:
        if self.pipeline is None:
            raise RuntimeError("App.build() first")
        return self.pipeline
