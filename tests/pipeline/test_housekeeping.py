"""Housekeeping on a real store and real thumbnails: retention by age, the disk budget, the free-disk floor."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from screenrecall.config import RetentionConfig
from screenrecall.pipeline.housekeeping import GB, Housekeeper
from screenrecall.pipeline.messages import Record, Window
from screenrecall.pipeline.thumbnails import ThumbnailStore
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_screen

DIM = 16
NOW_S = 1_750_000_000.0  # the injected clock
NOW_MS = int(NOW_S * 1000)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store") as opened:
        yield opened


@pytest.fixture
def thumbnails(tmp_path: Path) -> ThumbnailStore:
    return ThumbnailStore(tmp_path / "thumbnails", quality=70)


def keeper(
    store: Store, thumbnails: ThumbnailStore, tmp_path: Path, free: list[int] | None = None, **retention: float
) -> Housekeeper:
    settings = {"days": 0.0, "max_gb": 0.0, "min_free_gb": 0.0, **retention}
    free_now = free if free is not None else [100 * GB]
    return Housekeeper(
        store,
        thumbnails,
        RetentionConfig(**settings),
        tmp_path,
        free_bytes=lambda _path: free_now[0],
        clock=lambda: NOW_S,
    )


def record(captured_ms: int, last_seen_ms: int | None = None, *, thumbnail: str = "", seed: int = 0) -> Record:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return Record(
        id=record_id_for_screen(1, captured_ms),
        embedding=vector / np.linalg.norm(vector),
        captured_at_ms=captured_ms,
        last_seen_ms=captured_ms if last_seen_ms is None else last_seen_ms,
        source="screen",
        monitor=1,
        path="",
        window=Window(),
        width=1920,
        height=1080,
        thumbnail=thumbnail,
    )


def with_thumbnail(thumbnails: ThumbnailStore, captured_ms: int, last_seen_ms: int | None = None) -> Record:
    pixels = np.full((18, 32, 3), captured_ms % 256, dtype=np.uint8)
    path = thumbnails.write(record_id_for_screen(1, captured_ms), pixels)
    assert path
    return record(captured_ms, last_seen_ms, thumbnail=path)


def test_records_older_than_retention_days_are_removed_with_their_thumbnails(
    store: Store, thumbnails: ThumbnailStore, tmp_path: Path
) -> None:
    old = with_thumbnail(thumbnails, NOW_MS - 2 * DAY_MS)
    recent = with_thumbnail(thumbnails, NOW_MS - 23 * HOUR_MS)
    still_seen = with_thumbnail(thumbnails, NOW_MS - 3 * DAY_MS, last_seen_ms=NOW_MS - HOUR_MS)
    store.add([old, recent, still_seen])

    housekeeper = keeper(store, thumbnails, tmp_path, days=1)
    housekeeper.expire_old()

    assert {r.id for r in store.records()} == {recent.id, still_seen.id}
    assert not Path(old.thumbnail).exists()
    assert Path(recent.thumbnail).exists() and Path(still_seen.thumbnail).exists()
    assert housekeeper.stats.expired == 1


def test_retention_follows_the_injected_clock(store: Store, thumbnails: ThumbnailStore, tmp_path: Path) -> None:
    store.add([record(NOW_MS - 10 * DAY_MS)])
    keeper(store, thumbnails, tmp_path, days=30).expire_old()
    assert store.count() == 1
    keeper(store, thumbnails, tmp_path, days=9.5).expire_old()
    assert store.count() == 0


def test_zero_retention_days_keeps_everything(store: Store, thumbnails: ThumbnailStore, tmp_path: Path) -> None:
    store.add([record(NOW_MS - 3650 * DAY_MS)])
    housekeeper = keeper(store, thumbnails, tmp_path, days=0)
    housekeeper.run()
    assert store.count() == 1 and housekeeper.stats.expired == 0


def _webp_bytes() -> bytes:
    # Noise compresses badly: each thumbnail costs tens of KB, which dwarfs what Chroma gains or frees.
    pixels = np.random.default_rng(0).integers(0, 256, (180, 320, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="WEBP", quality=70)
    return buffer.getvalue()


STORE_SIZE = 600  # records in the budget tests: big enough that Chroma's files dominate


def test_over_the_disk_budget_the_oldest_records_are_removed_first(
    store: Store, thumbnails: ThumbnailStore, tmp_path: Path
) -> None:
    total, keep = STORE_SIZE, 100
    data = _webp_bytes()
    records = []
    for index in range(total):
        captured = NOW_MS - (total - index) * 60_000
        target = thumbnails.root / "shots" / f"{record_id_for_screen(1, captured)}.webp"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        records.append(record(captured, thumbnail=str(target), seed=index))
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)  # storage order must not be what decides
    store.add(shuffled)
    per_thumbnail = thumbnails.disk_bytes() // total
    # Room for the store as it is now, the newest `keep` thumbnails, and some slack for Chroma's own growth.
    budget = store.disk_bytes() + keep * per_thumbnail + 2 * 1024 * 1024
    assert store.disk_bytes() + thumbnails.disk_bytes() > budget

    housekeeper = keeper(store, thumbnails, tmp_path, max_gb=budget / GB)
    housekeeper.trim_to_budget()

    kept = {r.id for r in store.records()}
    assert len(kept) >= keep
    # Whatever survives is exactly the newest records: no newer record went before an older one.
    newest = records[-len(kept) :]
    assert kept == {r.id for r in newest}
    assert all(Path(r.thumbnail).exists() for r in newest)
    assert not any(Path(r.thumbnail).exists() for r in records[: -len(kept)])
    assert housekeeper.stats.trimmed == total - len(kept)
    assert housekeeper.disk_bytes() <= budget


def test_within_the_budget_or_without_one_nothing_is_removed(
    store: Store, thumbnails: ThumbnailStore, tmp_path: Path
) -> None:
    store.add([with_thumbnail(thumbnails, NOW_MS - index * 1000) for index in range(5)])
    keeper(store, thumbnails, tmp_path, max_gb=1.0).trim_to_budget()
    keeper(store, thumbnails, tmp_path, max_gb=0).trim_to_budget()  # 0 = no budget
    assert store.count() == 5


def test_free_disk_below_the_floor_stops_capture_and_back_above_allows_it(
    store: Store, thumbnails: ThumbnailStore, tmp_path: Path
) -> None:
    free = [int(0.5 * GB)]
    asked: list[Path] = []

    def free_bytes(path: Path) -> int:
        asked.append(path)
        return free[0]

    housekeeper = Housekeeper(
        store,
        thumbnails,
        RetentionConfig(days=0, max_gb=0, min_free_gb=1),
        tmp_path,
        free_bytes=free_bytes,
        clock=lambda: NOW_S,
    )
    assert housekeeper.capture_allowed()  # nothing measured yet

    housekeeper.check_free_disk()
    assert not housekeeper.capture_allowed()
    assert housekeeper.stats.disk_low and housekeeper.stats.free_bytes == free[0]
    assert asked == [tmp_path]  # measured where the data lives

    free[0] = 2 * GB
    housekeeper.run()
    assert housekeeper.capture_allowed() and not housekeeper.stats.disk_low

    free[0] = GB - 1
    housekeeper.run()
    assert not housekeeper.capture_allowed()


def test_the_full_run_expires_trims_and_measures(store: Store, thumbnails: ThumbnailStore, tmp_path: Path) -> None:
    old = with_thumbnail(thumbnails, NOW_MS - 40 * DAY_MS)
    store.add([old, with_thumbnail(thumbnails, NOW_MS - DAY_MS)])
    housekeeper = keeper(store, thumbnails, tmp_path, free=[5 * GB], days=30, max_gb=1.0, min_free_gb=1)

    housekeeper.run()

    assert store.count() == 1 and not Path(old.thumbnail).exists()
    stats = housekeeper.stats
    assert stats.expired == 1 and stats.trimmed == 0
    assert stats.disk_bytes > thumbnails.disk_bytes() > 0  # the store and the thumbnails
    assert stats.free_bytes == 5 * GB and housekeeper.capture_allowed()


def test_deletions_that_free_no_disk_do_not_empty_the_store(
    store: Store, thumbnails: ThumbnailStore, tmp_path: Path
) -> None:
    # No thumbnails (thumbnails.enabled = false): the store's files are all the disk use, and Chroma
    # frees deleted space lazily, so deleting records does not bring the measured use down at once.
    total = STORE_SIZE
    store.add([record(NOW_MS - (total - index) * 60_000, seed=index) for index in range(total)])
    budget = int(store.disk_bytes() * 0.9)  # 10% over
    housekeeper = keeper(store, thumbnails, tmp_path, max_gb=budget / GB)

    for _ in range(3):  # three housekeeping rounds (every check_interval_s)
        housekeeper.run()

    assert store.count() >= total // 2, f"{store.count()} of {total} records left for a store 10% over budget"


def test_retention_and_the_budget_remove_readable_frames_with_their_records(
    store: Store, thumbnails: ThumbnailStore, tmp_path: Path
) -> None:
    from screenrecall.pipeline.frame_archive import FrameArchive

    frames = FrameArchive(tmp_path / "frames")
    old, young = record(NOW_MS - 10 * DAY_MS, seed=1), record(NOW_MS - HOUR_MS, seed=2)
    store.add([old, young])
    pixels = np.zeros((64, 128, 3), np.uint8)
    for item in (old, young):
        pixels = pixels.copy()
        pixels[:, : 64 if item is old else 128] = 200
        frames.write(item.id, pixels, (), (128, 64), stream="screen:1")
    housekeeper = Housekeeper(
        store,
        thumbnails,
        RetentionConfig(days=5.0, max_gb=0.0, min_free_gb=0.0),
        tmp_path,
        free_bytes=lambda _path: 100 * GB,
        clock=lambda: NOW_S,
        frames=frames,
    )
    before = housekeeper.disk_bytes()
    housekeeper.expire_old()
    assert frames.read(old.id) is None and frames.read(young.id) is not None
    assert housekeeper.disk_bytes() < before  # the frames count towards the disk budget


def test_a_forward_clock_jump_past_the_retention_does_not_expire_everything_until_it_holds(
    store: Store, thumbnails: ThumbnailStore, tmp_path: Path
) -> None:
    wall, boot = [NOW_S], [1000.0]
    store.add([record(NOW_MS - i * HOUR_MS, seed=i) for i in range(5)])
    keeper_ = Housekeeper(
        store,
        thumbnails,
        RetentionConfig(days=7, max_gb=0, min_free_gb=0),
        tmp_path,
        free_bytes=lambda _path: 100 * GB,
        clock=lambda: wall[0],
        boot=lambda: boot[0],
    )
    keeper_.expire_old()
    assert store.count() == 5
    wall[0] += 400 * 86400  # the wall clock leaps a year ahead; only a minute really passed
    boot[0] += 60
    keeper_.expire_old()
    assert store.count() == 5, "a clock jump expired the records"
    boot[0] += 1800  # half an hour later (both clocks move together now): still held
    wall[0] += 1800
    keeper_.expire_old()
    assert store.count() == 5
    boot[0] += 1900  # the new time has held for over an hour: it is believed
    wall[0] += 1900
    keeper_.expire_old()
    assert store.count() == 0


def test_suspend_is_not_a_clock_jump(store: Store, thumbnails: ThumbnailStore, tmp_path: Path) -> None:
    wall, boot = [NOW_S], [1000.0]
    store.add([record(NOW_MS - 10 * DAY_MS, seed=1), record(NOW_MS - 5 * DAY_MS, seed=2), record(NOW_MS, seed=3)])
    keeper_ = Housekeeper(
        store,
        thumbnails,
        RetentionConfig(days=7, max_gb=0, min_free_gb=0),
        tmp_path,
        free_bytes=lambda _path: 100 * GB,
        clock=lambda: wall[0],
        boot=lambda: boot[0],
    )
    keeper_.expire_old()
    assert store.count() == 2
    wall[0] += 3 * 86400  # three days asleep: the boot clock counts suspend too
    boot[0] += 3 * 86400
    keeper_.expire_old()
    assert store.count() == 1  # the 5-day-old record is now 8 days old: expired, not held
