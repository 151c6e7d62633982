"""Composition root: builds the stages in pipeline order, starts them, stops them in reverse.

capture (sampler | folder watcher) -> inbox -> embedder (OpenVINO) -> writer (dedup, Chroma)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from screenrecall import status as status_file
from screenrecall.api.routes import Services
from screenrecall.api.server import ApiServer
from screenrecall.api.stream import Broadcaster
from screenrecall.capture.folder import FolderWatcher
from screenrecall.capture.screen import ScreenGrabber, check_session
from screenrecall.capture.window import WindowProbe
from screenrecall.config import Config
from screenrecall.frames import Record
from screenrecall.gate import ChangeGate
from screenrecall.notify import Notifier
from screenrecall.pipeline import Pipeline, pause_switch, reject_ledger
from screenrecall.privacy import ExclusionFilter
from screenrecall.sampler import ScreenSampler
from screenrecall.search import Searcher
from screenrecall.status import Status

logger = logging.getLogger(__name__)

STATUS_EVERY_S = 5.0  # status file, STATUS= line and watchdog ping (WatchdogSec=60)


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
        self.broadcaster = Broadcaster(config.api.stream_buffer)
        self.searcher: Searcher | None = None
        self.api: ApiServer | None = None

    def build(self) -> None:
        if self.config.capture.enabled:
            check_session(self.environ)  # no display / Wayland-only: a clear start-up error
        self.notifier.status("loading the model and opening the store")
        self.pipeline = pipeline = Pipeline.build(
            self.config, on_stored=self._on_stored, on_text=self.broadcaster.publish_text
        )
        pipeline.known_keys = pipeline.store.known_file_keys() | reject_ledger().load()
        self.searcher = Searcher(pipeline.store, pipeline.runtime)
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

    def _on_stored(self, record: Record, is_new: bool) -> None:
        # The writer's thread: both calls return at once.
        self.broadcaster.publish(record, is_new)
        if self.searcher is not None:
            self.searcher.note_app(record.window.app)

    def start(self) -> None:
        pipeline = self._pipeline()
        pipeline.start()
        if self.config.api.enabled and self.searcher is not None:
            services = Services(
                searcher=self.searcher,
                store=pipeline.store,
                pause=self.pause,
                forget=pipeline.writer.forget,
                status=self.snapshot,
                broadcaster=self.broadcaster,
                max_image_pixels=self.config.watch.max_image_pixels,
            )
            self.api = ApiServer(services, self.config.api, self.config.socket_path())
            self.api.start()
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
            dead = (
                pipeline.dead_stage()
                or (self.watcher is not None and not self.watcher.is_alive() and "watcher")
                or (self.api is not None and not self.api.is_alive() and "api")
            )
            if dead:
                logger.error("the %s stage died; exiting so the service manager restarts us", dead)
                return 1
        return 0

    def stop(self) -> None:
        """Sources first, then the pipeline drains; the store closes last."""
        self.stop_event.set()
        self.notifier.stopping()
        if self.api is not None:
            self.api.stop()
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
                "ocr_waiting": pipeline.ocr.waiting if pipeline.ocr else 0,
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
                "ocr_read": pipeline.ocr.stats.read if pipeline.ocr else 0,
                "ocr_skipped": pipeline.ocr.stats.dropped if pipeline.ocr else 0,
                "ocr_failed": pipeline.ocr.stats.failed if pipeline.ocr else 0,
                "redactions": pipeline.ocr.stats.redactions if pipeline.ocr else 0,
            },
        )

    def _pipeline(self) -> Pipeline:
        if self.pipeline is None:
            raise RuntimeError("App.build() first")
        return self.pipeline
