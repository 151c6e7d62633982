"""known_file_keys at a few thousand records: every key comes back, without Chroma's offset paging
(which rescans everything it skips, so a store of n records cost n²/page row reads at start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chromadb.api.models.Collection import Collection

from screenrecall.pipeline.messages import Record, Window
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_file, record_id_for_screen

FILES = 3_000
SCREENS = 300


class Recording:
    """The real collection, with every get()'s keyword arguments noted."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection
        self.gets: list[dict[str, Any]] = []

    def get(self, **kwargs: Any) -> Any:
        self.gets.append(kwargs)
        return self._collection.get(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


def record(record_id: str, source: str, at: int, key: str, vector: np.ndarray[Any, Any]) -> Record:
    path = key.split("|", maxsplit=1)[0]
    return Record(record_id, vector, at, at, source, 0 if key else 1, path, Window(), 64, 36, file_key=key)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store") as opened:
        vectors = np.random.default_rng(0).standard_normal((FILES + SCREENS, 8)).astype(np.float32)
        keys = [f"/pictures/{n:05}.png|{n}|{n * 1000}" for n in range(FILES)]
        files = [record(record_id_for_file(k), "folder", 1_000 + n, k, vectors[n]) for n, k in enumerate(keys)]
        screens = [record(record_id_for_screen(1, at), "screen", at, "", vectors[FILES + at]) for at in range(SCREENS)]
        opened.add(files + screens)
        yield opened


def test_every_file_key_comes_back_without_offset_paging(store: Store) -> None:
    store.max_batch = 400  # several pages
    recording = Recording(store._col)
    store._collection = recording  # type: ignore[assignment]

    keys = store.known_file_keys()

    assert keys == {f"/pictures/{n:05}.png|{n}|{n * 1000}" for n in range(FILES)}
    assert recording.gets and not any(get.get("offset") for get in recording.gets)
    assert all(len(get["ids"]) <= 400 for get in recording.gets)


def test_with_the_text_index_out_of_step_every_key_still_comes_back(store: Store) -> None:
    store.text_index.delete([record_id_for_file(f"/pictures/{n:05}.png|{n}|{n * 1000}") for n in range(10)])

    assert len(store.known_file_keys()) == FILES
