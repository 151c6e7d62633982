"""Keeps the memory within bounds: retention by age, a disk budget, and a free-disk floor."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from screenrecall.config import RetentionConfig
from screenrecall.frames import Record
from screenrecall.store import Store
from screenrecall.thumbnails import ThumbnailStore

logger = logging.getLogger(__name__)

GB = 1024**3


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
    ) -> None:
        self._store = store
        self._thumbnails = thumbnails
        self._retention = retention
        self._data_dir = data_dir
        self._free_bytes = free_bytes
        self._clock = clock
        self.stats = HousekeepingStats()
        self._used_at_last_trim = 0

    def capture_allowed(self) -> bool:
        return not self.stats.disk_low

    def run(self) -> None:
        self.expire_old()
        self.trim_to_budget()
        self.check_free_disk()

    def expire_old(self) -> None:
        if self._retention.days <= 0:
            return
        cutoff_ms = int((self._clock() - self._retention.days * 86400) * 1000)
        removed = self._store.delete_before(cutoff_ms)
        self._drop_thumbnails(removed)
        if removed:
            self.stats.expired += len(removed)
            logger.info("retention: removed %d records older than %g days", len(removed), self._retention.days)

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
            self._store.delete([r.id for r in oldest])
            self._drop_thumbnails(oldest)
            self.stats.trimmed += len(oldest)
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
        self.stats.disk_bytes = self._store.disk_bytes() + self._thumbnails.disk_bytes()
        return self.stats.disk_bytes

    def _drop_thumbnails(self, records: list[Record]) -> None:
        for record in records:
            self._thumbnails.remove(record.thumbnail)
