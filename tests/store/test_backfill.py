"""Records from before `ingested_at` existed get it once, so retention can expire them: a real store
written the way the old version wrote it (no such key), then the real housekeeping runs."""

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
from screenrecall.store.backfill import backfill_ingested_at, marker
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_file, record_id_for_screen, to_metadata

DAY_MS = 86_400_000
NOW_MS = 1_790_000_000_000
SCREENS, FILES = 900, 300


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def old_style(store: Store, records: list[Record]) -> None:
    """Writes records as the version before ingested_at did: every other key, not that one."""
    metadatas = []
    for record in records:
        metadata = dict(to_metadata(record))
        del metadata["ingested_at"]
        metadatas.append(metadata)
    store._col.upsert(
        ids=[r.id for r in records],
        embeddings=np.stack([r.embedding for r in records]),
        metadatas=metadatas,  # type: ignore[arg-type]
        documents=[""] * len(records),
    )
    store.text_index.upsert(records)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store") as opened:
        vectors = np.random.default_rng(0).standard_normal((SCREENS + FILES, 8)).astype(np.float32)
        old = NOW_MS - 100 * DAY_MS  # captured (or the file last modified) long before retention's 30 days
        screens = [
            Record(record_id_for_screen(1, old + i), vectors[i], old + i, old + i, "screen", 1, "", Window(), 8, 8)
            for i in range(SCREENS)
        ]
        files = []
        for i in range(FILES):
            key = f"/p/{i}.png|1|{old + i}"
            files.append(
                Record(record_id_for_file(key), vectors[SCREENS + i], old + i, old + i, "folder", 0, f"/p/{i}.png",
                       Window(), 8, 8, file_key=key)
            )  # fmt: skip
        old_style(opened, screens + files)
        yield opened


def keeper(store: Store, tmp_path: Path, clock: Clock) -> Housekeeper:
    return Housekeeper(
        store,
        ThumbnailStore(tmp_path / "thumbnails", quality=70),
        RetentionConfig(days=30, max_gb=0, min_free_gb=0),
        tmp_path,
        free_bytes=lambda _path: 100 * GB,
        clock=clock,
        boot=lambda: clock.ms / 1000,  # the wall and boot clocks move together: no jump
        chunks=Chunks(threading.Event(), records=250, rest_s=0),
    )


def test_retention_expires_records_from_before_ingested_at_after_the_backfill(store: Store, tmp_path: Path) -> None:
    clock = Clock(NOW_MS)
    housekeeper = keeper(store, tmp_path, clock)

    housekeeper.run()

    # Screens were ingested when captured: 100 days ago, so they go now. Files' ingest time is not
    # known: they are kept one retention period from the backfill, then go too.
    assert {r.source for r in store.records()} == {"folder"} and store.count() == FILES
    clock.ms += 31 * DAY_MS
    housekeeper.run()
    assert store.count() == 0


def test_the_backfill_runs_once_in_chunks_and_touches_only_records_without_the_key(store: Store) -> None:
    stop = threading.Event()
    chunks = Chunks(stop, records=250, rest_s=0)
    assert backfill_ingested_at(store, chunks, NOW_MS) == SCREENS + FILES
    assert chunks.rests == (SCREENS + FILES) // 250 + 1
    assert marker(store).exists()
    marker(store).unlink()
    assert backfill_ingested_at(store, chunks, NOW_MS) == 0  # every record has it now
    assert backfill_ingested_at(store, chunks, NOW_MS) == 0  # and the marker skips the reading
