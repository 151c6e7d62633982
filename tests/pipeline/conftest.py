"""Real stores for the pipeline specs: a temp Chroma store, a thumbnail dir, and writers on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from screenrecall.pipeline.thumbnails import ThumbnailStore
from screenrecall.pipeline.writer import Writer
from screenrecall.store.chroma import Store
from tests.support.writers import MakeWriter

DEDUP = 0.98


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store") as opened:
        yield opened


@pytest.fixture
def thumbnails(tmp_path: Path) -> ThumbnailStore:
    return ThumbnailStore(tmp_path / "thumbnails", quality=70)


@pytest.fixture
def make_writer(store: Store, thumbnails: ThumbnailStore) -> Iterator[MakeWriter]:
    """Starts writers (on the test's store and thumbnails unless given others, dedup 0.98, quick
    flushes) and always stops them."""
    started: list[Writer] = []

    def make(**options: Any) -> Writer:
        settings: dict[str, Any] = {
            "dedup_cosine": DEDUP,
            "batch_size": 64,
            "flush_interval_s": 0.05,
            "thumbnails": thumbnails,
            "store": store,
            **options,
        }
        writer = Writer(settings.pop("store"), settings.pop("thumbnails"), **settings)
        writer.start()
        started.append(writer)
        return writer

    yield make
    for writer in started:
        if writer.is_alive():
            writer.stop()
            writer.join(10)
