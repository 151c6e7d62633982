"""Long housekeeping runs go in bounded chunks: they rest between chunks, end at once on stop, and
still finish the work. A real store with a few thousand records and real picture files."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from screenrecall.config import RetentionConfig
from screenrecall.pipeline.chunks import Chunks
from screenrecall.pipeline.housekeeping import GB, Housekeeper
from screenrecall.pipeline.messages import Record, Window
from screenrecall.pipeline.thumbnails import ThumbnailStore
from screenrecall.store.backfill import marker
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_screen

NOW_S = 1_750_000_000.0
NOW_MS = int(NOW_S * 1000)
DAY_MS = 86_400_000
COUNT = 2_000
CHUNK = 300


class CountingStop(threading.Event):
    """The stop event, counting the rests taken on it; set by itself after `stop_after` rests."""

    def __init__(self, stop_after: int = 0) -> None:
        super().__init__()
        self.waits = 0
        self._stop_after = stop_after

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        if self._stop_after and self.waits >= self._stop_after:
            self.set()
        return super().wait(0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store") as opened:
        yield opened


def fill(store: Store, thumbnails: ThumbnailStore, age_ms: int) -> list[Record]:
    records = []
    vectors = np.random.default_rng(0).standard_normal((COUNT, 8)).astype(np.float32)
    for index in range(COUNT):
        at = NOW_MS - age_ms - index * 1000
        record_id = record_id_for_screen(1, at)
        target = thumbnails.path_for(record_id)
        assert target is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x" * 100)
        records.append(
            Record(record_id, vectors[index], at, at, "screen", 1, "", Window(), 64, 36, thumbnail=str(target))
        )
    store.add(records)
    return records


def keeper(store: Store, tmp_path: Path, stop: threading.Event, **retention: float) -> Housekeeper:
    settings = {"days": 0.0, "max_gb": 0.0, "min_free_gb": 0.0, **retention}
    return Housekeeper(
        store,
        ThumbnailStore(tmp_path / "thumbnails", quality=70),
        RetentionConfig(**settings),
        tmp_path,
        free_bytes=lambda _path: 100 * GB,
        clock=lambda: NOW_S,
        chunks=Chunks(stop, records=CHUNK, files=CHUNK, rest_s=0),
    )


def test_expiry_of_thousands_of_records_rests_between_chunks_and_finishes(store: Store, tmp_path: Path) -> None:
    thumbnails = ThumbnailStore(tmp_path / "thumbnails", quality=70)
    records = fill(store, thumbnails, age_ms=40 * DAY_MS)
    stop = CountingStop()

    keeper(store, tmp_path, stop, days=30).run()

    assert store.count() == 0
    assert not any(Path(r.thumbnail).exists() for r in records)
    assert stop.waits >= COUNT // CHUNK  # one rest per chunk: never the whole store in one go


def test_stop_ends_an_expiry_run_at_the_next_chunk_and_the_next_run_finishes(store: Store, tmp_path: Path) -> None:
    thumbnails = ThumbnailStore(tmp_path / "thumbnails", quality=70)
    fill(store, thumbnails, age_ms=40 * DAY_MS)
    marker(store).touch()  # the one-off backfill (store/backfill.py) is not what this counts
    stop = CountingStop(stop_after=2)

    keeper(store, tmp_path, stop, days=30).run()  # returns instead of deleting everything

    assert store.count() == COUNT - 2 * CHUNK
    keeper(store, tmp_path, CountingStop(), days=30).run()  # the next start carries on
    assert store.count() == 0


def test_the_disk_budget_trim_deletes_in_chunks(store: Store, tmp_path: Path) -> None:
    thumbnails = ThumbnailStore(tmp_path / "thumbnails", quality=70)
    fill(store, thumbnails, age_ms=0)
    stop = CountingStop()
    housekeeper = keeper(store, tmp_path, stop, max_gb=1024 / GB)  # a budget nothing fits in

    housekeeper.trim_to_budget()

    assert housekeeper.stats.trimmed >= COUNT - CHUNK
    assert stop.waits >= housekeeper.stats.trimmed // CHUNK


def test_walking_the_picture_files_rests_every_chunk_and_counts_them_all(store: Store, tmp_path: Path) -> None:
    thumbnails = ThumbnailStore(tmp_path / "thumbnails", quality=70)
    fill(store, thumbnails, age_ms=0)
    stop = CountingStop()

    measured = keeper(store, tmp_path, stop).disk_bytes()

    assert measured == store.disk_bytes() + thumbnails.disk_bytes()
    assert stop.waits == COUNT // CHUNK
