"""Composition root: builds the stages in pipeline order, starts them, stops them in reverse.

capture (sampler | folder watcher) -> inbox -> embedder (OpenVINO) -> writer (dedup, Chroma)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from screenrecall.api.routes import Services
from screenrecall.api.server import ApiServer
from screenrecall.api.stream import Broadcaster
from screenrecall.capture.backend import open_grabber
from screenrecall.capture.folder import FolderWatcher
from screenrecall.capture.gate import ChangeGate
from screenrecall.capture.privacy import ExclusionFilter, PauseSwitch, title_redactor
from screenrecall.capture.reading_journal import ReadingJournal
from screenrecall.capture.rejects import RejectLedger
from screenrecall.capture.sampler import ScreenSampler
from screenrecall.config import Config
from screenrecall.pipeline.assembly import Pipeline
from screenrecall.pipeline.messages import Record
from screenrecall.recall.search import Searcher
from screenrecall.system import status as status_file
from screenrecall.system.notify import Notifier
from screenrecall.system.resident import PeriodicTrim
from screenrecall.system.session_lock import SessionLock
from screenrecall.system.status import Status
from screenrecall.system.status_publisher import StatusPublisher

logger = logging.getLogger(__name__)

# The wall clock going back more than this (against the monotonic clock) reschedules the jobs:
# APScheduler's interval triggers are wall-clock times, and would wait out the whole jump.
CLOCK_BACK_S = 5.0


class App:
    """The daemon: a pipeline plus its sources, scheduler, status and systemd notifications."""

    def __init__(self, config: Config, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.stop_event = threading.Event()
        self.notifier = Notifier(self.environ)
        self.pause = PauseSwitch.default()
        self.session_lock = SessionLock(self.environ)
        self.pipeline: Pipeline | None = None
        self.sampler: ScreenSampler | None = None
        self.watcher: FolderWatcher | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.broadcaster = Broadcaster(config.api.stream_buffer)
        self.searcher: Searcher | None = None
        self.api: ApiServer | None = None
        self.status_publisher = StatusPublisher(self.publish_status, self._status_marks, self.stop_event)
        self.heap_trim = PeriodicTrim()
        self._stopped = False
        self._clock_anchor = (time.time(), time.monotonic())

    def build(self) -> None:
        # Chosen before the model loads: a session that cannot be captured is a clear start-up error.
        privacy = self.config.privacy
        exclusions = ExclusionFilter(privacy.exclude_apps, privacy.exclude_titles, defaults=privacy.default_exclusions)
        grabber = open_grabber(self.config, self.environ, exclusions.matches) if self.config.capture.enabled else None
        self.notifier.status("loading the model and opening the store")
        self.pipeline = pipeline = Pipeline.build(self.config, on_stored=self._on_stored)
        ReadingJournal.default().reject_leftovers(RejectLedger.default())  # a file that killed us: not again
        RejectLedger.default().bound()
        if self.config.thumbnails.enabled:
            pipeline.thumbnails.sweep(pipeline.store.ids())  # what a SIGKILL left between the two writes
        pipeline.known_keys = pipeline.store.known_file_keys() | RejectLedger.default().load()
        self.searcher = Searcher(pipeline.store, pipeline.runtime)
        if grabber is not None and exclusions is not None:
            self.sampler = ScreenSampler(
                grabber,
                ChangeGate(
                    self.config.capture.heartbeat_s,
                    settle_s=self.config.gate.settle_s,
                    tile_px=self.config.gate.tile_px,
                    min_changed_tiles=self.config.gate.min_changed_tiles,
                ),
                exclusions,
                self.pause,
                pipeline.inbox,
                capture_allowed=pipeline.housekeeper.capture_allowed,
                redact_title=title_redactor(self.config.redaction.kinds),
                session_locked=self.session_lock.locked,
            )
        if self.config.watch.folders:
            self.watcher = FolderWatcher(
                [Path(f) for f in self.config.watch.folders],
                recursive=self.config.watch.recursive,
                extensions=self.config.watch.extensions,
                settle_s=self.config.watch.settle_s,
                outbox=pipeline.inbox,
                stop=self.stop_event,
                is_known=lambda key: key in pipeline.known_keys or _forgotten(pipeline, key),
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
                frames=pipeline.frames,
                config=self.config,
                thumbnails=pipeline.thumbnails,
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
        self.status_publisher.start()
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
        if self.watcher is not None:
            # Inotify can overflow and lose events silently; a periodic walk picks those files up.
            scheduler.add_job(self.watcher.catch_up, "interval", seconds=every, id="folder-catch-up")
        return scheduler

    def wait(self) -> int:
        """Blocks until asked to stop (0) or until a stage dies unasked (1)."""
        pipeline = self._pipeline()
        while not self.stop_event.wait(1.0):
            # The watchdog is fed here, on the main thread's monotonic loop, while every stage keeps
            # coming round: not from a scheduled job, which a long housekeeping run (sharing its
            # thread) or a wall-clock jump (freezing its trigger) would starve into a restart loop.
            if not pipeline.stalled():
                self.notifier.watchdog()
            pipeline.runtime.release_idle_text()
            self.heap_trim.maybe()
            self.check_clock()
            dead = (
                pipeline.dead_stage()
                or (self.watcher is not None and not self.watcher.is_alive() and "watcher")
                or (self.api is not None and not self.api.is_alive() and "api")
            )
            if dead:
                logger.error("the %s stage died; exiting so the service manager restarts us", dead)
                return 1
        return 0

    def check_clock(self) -> bool:
        """After the wall clock went back (a manual change, a bad NTP step), every job is rescheduled
        from now; otherwise capture and housekeeping would stop for as long as the clock went back."""
        wall, mono = time.time(), time.monotonic()
        expected = self._clock_anchor[0] + (mono - self._clock_anchor[1])
        self._clock_anchor = (wall, mono)
        if wall > expected - CLOCK_BACK_S or self.scheduler is None or not self.scheduler.running:
            return False
        logger.warning("the wall clock went back %.0f s; rescheduling the periodic jobs from now", expected - wall)
        for job in self.scheduler.get_jobs():
            job.modify(next_run_time=datetime.now(job.next_run_time.tzinfo) if job.next_run_time else None)
        return True

    def stop(self) -> None:
        """Sources first, then the pipeline drains; the store closes last. A second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        self.stop_event.set()
        self.notifier.stopping()
        # The API closes on a thread of its own while the pipeline drains: a client that is slow to
        # let go must not eat into the time systemd gives us to write what is buffered.
        closing_api = threading.Thread(target=self.api.stop, name="api-stop") if self.api is not None else None
        if closing_api is not None:
            closing_api.start()
        if self.pipeline is not None:
            self.pipeline.housekeeper.halt()  # a long run ends at its next chunk, not after all of it
        scheduler = self.scheduler
        if scheduler is not None and scheduler.running:
            _timed("the periodic jobs", lambda: scheduler.shutdown(wait=True))
        self.status_publisher.join()
        if self.watcher is not None:
            _timed("the folder watcher", self._stop_watcher)
        if self.sampler is not None:
            _timed("screen capture", self.sampler.close)
        self.session_lock.close()  # after the capture thread that polls it has stopped
        if self.pipeline is not None:
            _timed("the pipeline", self.pipeline.stop)
        if closing_api is not None:
            _timed("the API", closing_api.join)
        status_file.status_path().unlink(missing_ok=True)
        logger.info("screenrecall stopped")

    def _stop_watcher(self) -> None:
        assert self.watcher is not None
        self.watcher.stop()
        self.watcher.join()

    def publish_status(self) -> None:
        snapshot = self.snapshot()
        status_file.write(snapshot)
        self.notifier.status(snapshot.summary())

    def _status_marks(self) -> tuple[object, ...]:
        """What makes the status file worth rewriting at once (system/status_publisher.py)."""
        pipeline, sampler = self._pipeline(), self.sampler.stats if self.sampler else None
        written = pipeline.writer.stats
        seen = (sampler.locked, sampler.display_error, sampler.excluded) if sampler else ()
        disk = pipeline.housekeeper.stats.disk_low
        return (self.pause.state().paused, disk, written.last_write_ms, pipeline.embedder.stats.files_rejected, *seen)

    def snapshot(self) -> Status:
        pipeline = self._pipeline()
        inbox = pipeline.inbox.stats()
        sampler = self.sampler.stats if self.sampler else None
        return Status(
            running=True,
            pid=os.getpid(),
            updated_ms=int(time.time() * 1000),
            device=pipeline.runtime.executing_on,
            records=pipeline.store.status_count(),
            last_frame_ms=pipeline.embedder.stats.last_frame_ms,
            paused=self.pause.state().paused,
            locked=sampler.locked if sampler else False,
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
                "records_updated": pipeline.writer.stats.updated,
                "records_extended": pipeline.writer.stats.extended,
                "frames_superseded": pipeline.writer.stats.superseded,
                "stored_without_text": pipeline.writer.stats.without_text,
                "write_failures": pipeline.writer.stats.write_failures,
                "records_given_up": pipeline.writer.stats.given_up,
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


def _forgotten(pipeline: Pipeline, file_key: str) -> bool:
    return pipeline.store.ledger is not None and pipeline.store.ledger.knows_key(file_key)


SLOW_STOP_S = 2.0


def _timed(what: str, step: Callable[[], object]) -> None:
    """Runs one shutdown step; a slow one is logged, so a stop that nears systemd's limit says why."""
    started = time.monotonic()
    step()
    took = time.monotonic() - started
    if took > SLOW_STOP_S:
        logger.info("stopping: %s took %.1f s", what, took)
