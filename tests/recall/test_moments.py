"""Sketches: the records a search merges into moments, from the side table and the embeddings alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from screenrecall.pipeline.messages import Record, Window
from screenrecall.recall.moments import sketches
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_screen

T0 = 1_790_000_000_000


def screen(index: int) -> Record:
    vector = np.random.default_rng(index).standard_normal(16).astype(np.float32)
    return Record(
        id=record_id_for_screen(1 + index % 2, T0 + index, "desk"),
        embedding=vector / np.linalg.norm(vector),
        captured_at_ms=T0 + index,
        last_seen_ms=T0 + index + 500,
        source="screen",
        monitor=1 + index % 2,
        path="",
        window=Window(title=f"title {index}", app=f"app{index}"),
        width=1920,
        height=1080,
        host="desk",
        text=f"words {index}",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store") as opened:
        yield opened


def test_a_sketch_has_what_merging_needs_and_agrees_with_the_whole_record(store: Store) -> None:
    records = [screen(i) for i in range(4)]
    store.add(records)
    sketched = sketches(store, [r.id for r in records])
    for record in records:
        sketch = sketched[record.id]
        np.testing.assert_allclose(sketch.embedding, record.embedding, atol=1e-6)
        got = (sketch.captured_at_ms, sketch.last_seen_ms, sketch.source, sketch.monitor, sketch.host)
        assert got == (record.captured_at_ms, record.last_seen_ms, record.source, record.monitor, record.host)
        assert sketch.window.app == record.window.app


def test_a_record_the_side_table_lacks_comes_whole_and_one_chroma_lacks_is_left_out(store: Store) -> None:
    kept, unindexed = screen(1), screen(2)
    store.add([kept, unindexed])
    store.text_index.delete([unindexed.id])  # as on a shared server whose index has not synced it yet
    sketched = sketches(store, [kept.id, unindexed.id, "deleted-meanwhile"])
    assert set(sketched) == {kept.id, unindexed.id}
    assert sketched[unindexed.id].window.title == "title 2"  # the whole record, from Chroma
