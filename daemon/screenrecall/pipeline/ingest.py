"""One-shot backfill (`screenrecall ingest`): files through the daemon's own pipeline, none dropped."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from screenrecall.config import Config
from screenrecall.errors import ScreenrecallError
from screenrecall.pipeline.assembly import Pipeline
from screenrecall.pipeline.messages import FileJob, Record

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    stored: int = 0
    already_known: int = 0
    rejected: int = 0  # not an image, unreadable, too large, or the encoder refused it

    @property
    def done(self) -> int:
        return self.stored + self.already_known + self.rejected


def collect_jobs(roots: Iterable[Path], extensions: Sequence[str]) -> list[FileJob]:
    """Image files under roots (files taken as given), each real file once, symlinks not followed."""
    wanted = {"." + e.lower().lstrip(".") for e in extensions}
    seen: set[tuple[int, int]] = set()
    jobs: list[FileJob] = []
    for root in roots:
        candidates = [root] if root.is_file() else _walk(root)
        for path in candidates:
            if path.suffix.lower() not in wanted or path.is_symlink():
                continue
            try:
                info = path.stat()
            except OSError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            jobs.append(FileJob(str(path.resolve()), info.st_size, info.st_mtime_ns))
    return sorted(jobs, key=lambda job: job.path)


def _walk(root: Path) -> Iterable[Path]:
    for folder, _dirs, files in os.walk(root, followlinks=False):
        for name in sorted(files):
            yield Path(folder) / name


def ingest(
    config: Config,
    jobs: Sequence[FileJob],
    progress: Callable[[int], None],
) -> IngestResult:
    """Stores every job not stored yet; returns once each one is stored (with its OCR text, when
    OCR is on: a file's record is written only once its text is known) or reported unusable."""
    result = IngestResult()
    lock = threading.Lock()

    def on_stored(record: Record, is_new: bool) -> None:
        if record.source == "folder" and is_new:
            with lock:
                result.stored += 1
            progress(1)

    def on_skipped(path: str, reason: str) -> None:
        with lock:
            result.rejected += 1
        progress(1)

    pipeline = Pipeline.build(config, on_stored=on_stored, on_skipped=on_skipped)
    try:
        known = pipeline.store.known_file_keys()
        todo = [job for job in jobs if job.key not in known]
        result.already_known = len(jobs) - len(todo)
        progress(result.already_known)
        pipeline.start()
        for job in todo:
            # Waits while the encoder is behind (files are never dropped), watching for a dead stage.
            while not pipeline.inbox.put_file(job, timeout=1.0):
                _check_alive(pipeline)
        _wait_for(pipeline, result, len(jobs))
    finally:
        pipeline.stop()
    return result


# With nothing stored or skipped for this long while work is left, the store is refusing writes.
STALL_S = 120.0


def _check_alive(pipeline: Pipeline) -> None:
    dead = pipeline.dead_stage()
    if dead:
        raise ScreenrecallError(f"ingest stopped: the {dead} stage died (see the log above)")


def _wait_for(pipeline: Pipeline, result: IngestResult, total: int) -> None:
    last_done, last_change = result.done, time.monotonic()
    while result.done < total:
        _check_alive(pipeline)
        if result.done != last_done:
            last_done, last_change = result.done, time.monotonic()
        elif time.monotonic() - last_change > STALL_S:
            failures = pipeline.writer.stats.write_failures
            raise ScreenrecallError(f"ingest stalled: nothing stored for {STALL_S:.0f} s ({failures} failed writes)")
        time.sleep(0.05)
