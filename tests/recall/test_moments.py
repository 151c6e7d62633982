"""Sketches: the records a search merges into moments, from the side table and the embeddings alone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from screenrecall.pipeline.messages import Record, Window
from screenrecall.recall.moments import MERGE_GAP_MS, merge_moments, sketches
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


def clustered(seed: int, count: int) -> list[Record]:
    """Records of 2 monitors and 2 hosts in bursts: runs of near-identical frames seconds apart,
    lone frames, and gaps around MERGE_GAP_MS, as a day of screen use makes."""
    rng = np.random.default_rng(seed)
    records, at = [], T0
    base = rng.standard_normal(16).astype(np.float32)
    for index in range(count):
        at += int(rng.choice([2_000, 40_000, MERGE_GAP_MS - 1_000, MERGE_GAP_MS + 1_000, 3_600_000]))
        if rng.random() < 0.3:
            base = rng.standard_normal(16).astype(np.float32)  # the screen changed
        vector = base + rng.normal(0, 0.05 if rng.random() < 0.8 else 1.0, 16).astype(np.float32)
        monitor, host = 1 + int(rng.integers(2)), str(rng.choice(["desk", "laptop"]))
        record = screen(index)
        records.append(
            replace(
                record,
                id=record_id_for_screen(monitor, at, host),
                embedding=vector / np.linalg.norm(vector),
                captured_at_ms=at,
                last_seen_ms=at + int(rng.choice([0, 30_000, 600_000])),
                monitor=monitor,
                host=host,
            )
        )
    return records


@pytest.mark.parametrize("lagging", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_moments_from_sketches_are_the_moments_of_the_whole_records(store: Store, seed: int, lagging: bool) -> None:
    records = clustered(seed, 120)
    store.add(records)
    rng = np.random.default_rng(seed)
    if lagging:  # a shared server's index that has not synced every record yet: those come whole
        store.text_index.delete([record.id for record in records if rng.random() < 0.3])
    hits = [(record, float(score)) for record, score in zip(records, rng.random(len(records)), strict=True)]
    sketched = sketches(store, [record.id for record, _ in hits])
    from_sketches = merge_moments([(sketched[record.id], score) for record, score in hits])
    from_records = merge_moments(hits)
    assert [m.record_ids for m in from_sketches] == [m.record_ids for m in from_records]
    assert len(from_records) < len(records)  # some did merge: the case is not vacuous


def test_only_hits_a_merge_could_join_have_their_embedding_read(store: Store) -> None:
    lone, first, second = screen(0), screen(2), screen(4)  # monitor 1; first and second 2 ms apart
    hour_ago = T0 - 3_600_000
    lone = replace(lone, id=record_id_for_screen(1, hour_ago, "desk"), captured_at_ms=hour_ago, last_seen_ms=hour_ago)
    other_monitor = screen(1)
    store.add([lone, first, second, other_monitor])
    sketched = sketches(store, [lone.id, first.id, second.id, other_monitor.id])
    assert sketched[lone.id].embedding.size == sketched[other_monitor.id].embedding.size == 0
    np.testing.assert_allclose(sketched[first.id].embedding, first.embedding, atol=1e-6)
    np.testing.assert_allclose(sketched[second.id].embedding, second.embedding, atol=1e-6)
