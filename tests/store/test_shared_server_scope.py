"""Two machines on one real `chroma run` server: forget, retention and the budget touch this host's records only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from screenrecall.pipeline.messages import Record, Window
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_screen
from tests.support.chroma_server import ChromaServer

T0 = 1_790_000_000_000


def shown(host: str, at_ms: int) -> Record:
    vector = np.random.default_rng(at_ms % 1000 + len(host)).standard_normal(16).astype(np.float32)
    return Record(
        id=record_id_for_screen(1, at_ms, host),
        embedding=vector / np.linalg.norm(vector),
        captured_at_ms=at_ms,
        last_seen_ms=at_ms,
        source="screen",
        monitor=1,
        path="",
        window=Window("t", "a"),
        width=10,
        height=10,
        host=host,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    started = ChromaServer(tmp_path / "chroma")
    yield started
    started.stop()


def hosts(store: Store) -> list[str]:
    return sorted(record.host for record in store.oldest(store.count()))


def test_each_host_deletes_only_its_own_records_on_a_shared_server(server: ChromaServer, tmp_path: Path) -> None:
    with Store.open(tmp_path / "desk", server.url) as desk, Store.open(tmp_path / "laptop", server.url) as laptop:
        desk.scope_host, laptop.scope_host = "desk", "laptop"
        desk.add([shown("desk", T0 + i) for i in range(3)])
        laptop.add([shown("laptop", T0 + i) for i in range(3)])
        assert len(desk.delete_range(T0, T0 + 10)) == 3  # forget
        assert hosts(laptop) == ["laptop"] * 3
        desk.add([shown("desk", T0 + 100 + i) for i in range(3)])
        assert len(desk.delete_before(T0 + 1_000)) == 3  # retention
        assert hosts(laptop) == ["laptop"] * 3
        desk.add([shown("desk", T0 + 200 + i) for i in range(3)])
        oldest = desk.oldest(2)  # the disk budget trims the oldest of its own
        assert [r.host for r in oldest] == ["desk", "desk"]
        assert laptop.count() == 6  # the whole server: 3 of each
        laptop.add([shown("laptop", T0 + 300)])
        newest = desk.latest(1, since_ms=0)  # where a restarted writer carries on: its own moment
        assert newest is not None and newest.host == "desk"
        laptop.scope_host = None  # unscoped (a local store): every record is its own
        assert len(laptop.delete_before(T0 + 1_000)) == 7
