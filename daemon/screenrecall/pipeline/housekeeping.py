"""Keeps the memory within bounds: retention by age, a disk budget, and a free-disk floor."""

from __future__ import annotations

import logging
import math
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from screenrecall.config import RetentionConfig
from screenrecall.pipeline.chunks import Chunks, StoppedError
from screenrecall.pipeline.frame_archive import FrameArchive
from screenrecall.pipeline.messages import Record
from screenrecall.pipeline.thumbnails import ThumbnailStore
from screenrecall.store.backfill import backfill_ingested_at
from screenrecall.store.chroma import Store

logger = logging.getLogger(__name__)

GB = 1024**3
# Retention rewrites the store file (VACUUM) at most this often: a rewrite costs a write of the whole
# store, and deleted text has left the log already (store/erase.py). A forget rewrites at once.
COMPACT_EVERY_S = 24 * 3600.0

# The wall clock running this much further than the boot clock between two runs is a jump, not
# drift (NTP slews far less): age-based expiry then waits until the new time has held this long.
CLOCK_JUMP_S = 600.0
CLOCK_CONFIRM_S = 3600.0


def boot_clock() -> float:
    """Seconds since boot, suspend included (CLOCK_MONOTONIC stops while suspended, which would
    make every wake-up look like a forward jump of the wall clock)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass
class HousekeepingStats:
    expired: int = 0
    trimmed: int = 0
    disk_bytes: int = 0
    free_bytes: int = 0
    disk_low: bool = False


class Housekeeper:
    """Run by the scheduler; `capture_allowed` is read by the sampler before every grab."""

    def __init__(
        self,
        store: Store,
        thumbnails: ThumbnailStore,
        retention: RetentionConfig,
        data_dir: Path,
        *,
        free_bytes: Callable[[Path], int] = lambda p: shutil.disk_usage(p).free,
        clock: Callable[[], float] = time.time,
        frames: FrameArchive | None = None,
        boot: Callable[[], float] = boot_clock,
        chunks: Chunks | None = None,
    ) -> None:
        self._store = store
        self._thumbnails = thumbnails
        self._frames = frames
        self._retention = retention
        self._data_dir = data_dir
        self._free_bytes = free_bytes
        self._clock = clock
        self.stats = HousekeepingStats()
        self._used_at_last_trim = 0
        self._boot = boot
        self._anchor: tuple[float, float] | None = None  # (wall, boot) at the last expiry check
        self._expiry_held_until = float("-inf")  # boot clock
        self._chunks = chunks if chunks is not None else Chunks(threading.Event())
        self._backfilled = False

    def halt(self) -> None:
        """Ends a run in progress at its next chunk (call before waiting for the scheduler)."""
        self._chunks.stop.set()

    def capture_allowed(self) -> bool:
        return not self.stats.disk_low

    def run(self) -> None:
        try:
            if not self._backfilled:  # records from before ingested_at existed: see store/backfill.py
                backfill_ingested_at(self._store, self._chunks, int(self._clock() * 1000))
                self._backfilled = True
            self.expire_old()
            self.trim_to_budget()
            self._chunks.check()
            # Expired text already left Chroma's log; the file rewrite that clears the rest is rationed.
            self._store.compact(min_interval_s=COMPACT_EVERY_S)
        except StoppedError:
            logger.info("housekeeping stopped between chunks; the rest waits for the next run")
            return
        self.check_free_disk()

    def expire_old(self) -> None:
        if self._retention.days <= 0 or not self._wall_clock_trusted():
            return
        cutoff_ms = int((self._clock() - self._retention.days * 86400) * 1000)
        expired = 0
        try:
            while True:  # a chunk at a time, resting between: see chunks.py
                removed = self._store.delete_before(cutoff_ms, limit=self._chunks.records)
                self._drop_thumbnails(removed)
                expired += len(removed)
                self.stats.expired += len(removed)
                if len(removed) < self._chunks.records:
                    break
                self._chunks.rest()
        finally:
            if expired:
                logger.info("retention: removed %d records older than %g days", expired, self._retention.days)

    def _wall_clock_trusted(self) -> bool:
        """False for an hour after the wall clock jumped forward: a clock set years ahead (a dead
        RTC battery, a bad NTP answer) would otherwise expire every record at once. A backward jump
        only makes expiry keep more, so it needs no hold."""
        wall, boot = self._clock(), self._boot()
        if self._anchor is not None:
            jump = (wall - self._anchor[0]) - (boot - self._anchor[1])
            if jump > CLOCK_JUMP_S:
                self._expiry_held_until = boot + CLOCK_CONFIRM_S
                logger.warning(
                    "the wall clock jumped %.0f s ahead; expiry by age waits %.0f min for it to hold",
                    jump,
                    CLOCK_CONFIRM_S / 60,
                )
        self._anchor = (wall, boot)
        return boot >= self._expiry_held_until

    def trim_to_budget(self) -> None:
        """Deletes the oldest records in proportion to the excess over the budget.

        Chroma frees deleted space lazily (it reuses pages before the files shrink), so measured use
        may not drop after a delete. Deleting "until it drops" would empty the store; instead each
        run removes the excess's share of the records once, and trims again only after use has
        grown past what it was at the last trim.
        """
        budget = int(self._retention.max_gb * GB)
        used = self.disk_bytes()
        if budget <= 0 or used <= budget or used <= self._used_at_last_trim:
            return
        while used > budget:
            count = self._store.count()
            oldest = self._store.oldest(min(count, math.ceil(count * (used - budget) / used)))
            if not oldest:
                break
            for start in range(0, len(oldest), self._chunks.records):
                if start:
                    self._chunks.rest()
                chunk = oldest[start : start + self._chunks.records]
                self._store.delete([r.id for r in chunk])
                self._drop_thumbnails(chunk)
                self.stats.trimmed += len(chunk)
            logger.info("disk budget: removed the %d oldest records (%.2f GB used)", len(oldest), used / GB)
            previous, used = used, self.disk_bytes()
            if used >= previous:
                break  # what is left over is Chroma's lazily freed space: wait for it to be reused
        self._used_at_last_trim = used

    def check_free_disk(self) -> None:
        free = self._free_bytes(self._data_dir)
        self.stats.free_bytes = free
        low = free < self._retention.min_free_gb * GB
        if low != self.stats.disk_low:
            if low:
                logger.warning(
                    "free disk %.2f GB is below retention.min_free_gb = %g; capture paused",
                    free / GB,
                    self._retention.min_free_gb,
                )
            else:
                logger.info("free disk back above the floor; capture resumed")
        self.stats.disk_low = low

    def disk_bytes(self) -> int:
        # The picture trees hold a file per record: walked in chunks (chunks.py).
        frames = self._chunks.tree_bytes(self._frames.root) if self._frames is not None else 0
        thumbnails = self._chunks.tree_bytes(self._thumbnails.root)
        self.stats.disk_bytes = self._store.disk_bytes() + thumbnails + frames
        return self.stats.disk_bytes

    def _drop_thumbnails(self, records: list[Record]) -> None:
        for record in records:
            self._thumbnails.remove(record.thumbnail)
            if self._frames is not None:
                self._frames.remove(record.id)
