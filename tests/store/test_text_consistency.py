"""The text index stays consistent with Chroma: written and deleted with each record, repaired at open."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_screen
from screenrecall.store.text_fold import query_terms
from screenrecall.store.text_index import TextFilters, TextIndex
from screenrecall.store.text_sync import index_path, rebuild
from tests.conftest import REPO, run_cli
from tests.store.test_chroma import screen
from tests.support.chroma_server import ChromaServer

T0 = 1_800_000_000_000


class CrashError(Exception):
    """Stands for the process dying between the Chroma write and the index write."""


def found(store: Store, query: str) -> list[str]:
    return [hit.id for hit in store.text_index.search(query_terms(query), TextFilters(), 50)]


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(store_dir: Path) -> Iterator[Store]:
    with Store.open(store_dir) as opened:
        yield opened


def test_each_delete_path_removes_the_index_rows(store: Store) -> None:
    records = [screen(1, T0 + i * 1000, text=f"receipt number{i}") for i in range(6)]
    store.add(records)
    store.set_text(records[0].id, "receipt amended", records[0].embedding)
    assert len(found(store, "receipt")) == 6
    store.delete_range(T0, T0 + 1000)  # forget
    store.delete_before(T0 + 3000)  # retention
    store.delete([records[3].id])  # disk budget
    assert sorted(found(store, "receipt")) == sorted(r.id for r in records[4:])
    assert store.text_index.count() == store.count() == 2


def test_a_crash_after_the_chroma_write_is_repaired_at_the_next_open(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(store_dir) as store:
        kept, gone = screen(1, T0, text="kept invoice"), screen(2, T0, text="gone invoice")
        store.add([kept, gone])
        with monkeypatch.context() as patch:
            patch.setattr(TextIndex, "upsert", _crash)
            with pytest.raises(CrashError):
                store.add([screen(1, T0 + 1000, text="written invoice")])
            patch.setattr(TextIndex, "delete", _crash)
            with pytest.raises(CrashError):
                store.delete([gone.id])
            patch.setattr(TextIndex, "set_text", _crash)
            with pytest.raises(CrashError):
                store.set_text(kept.id, "kept receipt", kept.embedding)
        assert sorted(store.text_index.pending()) == sorted([gone.id, kept.id, screen(1, T0 + 1000).id])
    with Store.open(store_dir) as reopened:
        assert reopened.text_index.pending() == []
        assert sorted(found(reopened, "invoice")) == [screen(1, T0 + 1000).id]
        assert found(reopened, "receipt") == [kept.id]


def test_rows_lost_without_a_trace_are_found_by_comparing_counts(store_dir: Path) -> None:
    with Store.open(store_dir) as store:
        store.add([screen(1, T0 + i, text="budget") for i in range(3)])
    with sqlite3.connect(index_path(store_dir, "")) as db:  # a power cut that lost the last commit
        last = db.execute("SELECT max(rowid) FROM docs").fetchone()
        db.execute("DELETE FROM docs WHERE rowid = ?", last)
        db.execute("DELETE FROM fts WHERE rowid = ?", last)
    with Store.open(store_dir) as reopened:
        assert len(found(reopened, "budget")) == 3


def test_a_missing_index_is_built_at_open_and_a_rebuild_reports_progress(store_dir: Path) -> None:
    with Store.open(store_dir) as store:
        store.add([screen(1, T0 + i, text=f"page {i} agenda") for i in range(5)])
    index_path(store_dir, "").unlink()
    with Store.open(store_dir) as reopened:
        assert len(found(reopened, "agenda")) == 5
        seen: list[int] = []
        assert rebuild(reopened, seen.append) == 5
        assert sum(seen) == 5 and reopened.text_index.state == "ok"


@pytest.mark.slow
def test_a_shared_server_s_records_from_every_host_are_found(tmp_path: Path) -> None:
    server = ChromaServer(tmp_path / "chroma")
    try:
        with Store.open(tmp_path / "desk", server.url) as desk, Store.open(tmp_path / "laptop", server.url) as laptop:
            desk_record = screen(1, T0, text="desk roadmap", host="desk", id=record_id_for_screen(1, T0, "desk"))
            laptop_id = record_id_for_screen(1, T0, "laptop")
            laptop_record = screen(1, T0, text="laptop roadmap", host="laptop", id=laptop_id)
            desk.add([desk_record])
            laptop.add([laptop_record])
            assert laptop.text_sync is not None
            laptop.text_sync.sync()
            assert sorted(found(laptop, "roadmap")) == sorted([desk_record.id, laptop_record.id])
            desk.set_text(desk_record.id, "desk roadmap v2 approved", desk_record.embedding)
            laptop.text_sync.sync()
            assert found(laptop, "approved") == [desk_record.id]
            desk.delete([desk_record.id])
            laptop.text_sync.sync()
            assert found(laptop, "roadmap") == [laptop_record.id]
    finally:
        server.stop()


def _crash(*_: object, **__: object) -> None:
    raise CrashError


def test_index_rebuild_command_builds_the_index_with_a_progress_bar(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store_dir = data / "screenrecall" / "store"
    with Store.open(store_dir) as store:
        store.add([screen(1, T0 + i, text=f"line {i} quarterly") for i in range(7)])
    index_path(store_dir, "").unlink()
    env = {**os.environ, "XDG_DATA_HOME": str(data), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = run_cli("index", "rebuild", env=env)
    assert done.returncode == 0, done.stderr
    assert "text index: 7 record(s)" in done.stdout
    assert "record" in done.stderr  # tqdm's bar
    with Store.open(store_dir) as reopened:
        assert len(found(reopened, "quarterly")) == 7


KILLED_BETWEEN_WRITES = """
import os, signal, sys
from pathlib import Path
import numpy as np
from screenrecall.pipeline.messages import Record, Window
from screenrecall.store.chroma import Store
from screenrecall.store.text_index import TextIndex
store = Store.open(Path(sys.argv[1]))
def die(*_args, **_kwargs):  # Chroma has committed; the index write never happens
    os.kill(os.getpid(), signal.SIGKILL)
TextIndex.upsert = die
store.add([Record(id="killed", embedding=np.ones(16, np.float32) / 4, captured_at_ms=1, last_seen_ms=1,
                  source="screen", monitor=1, path="", window=Window(), width=8, height=8, text="survivor")])
"""


def test_a_process_killed_between_the_chroma_and_index_writes_is_repaired_at_open(store_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "daemon")}
    child = subprocess.run(
        [sys.executable, "-c", KILLED_BETWEEN_WRITES, str(store_dir)], env=env, timeout=120, check=False
    )
    assert child.returncode == -signal.SIGKILL
    with Store.open(store_dir) as reopened:
        assert reopened.get("killed") is not None
        assert found(reopened, "survivor") == ["killed"]
        assert reopened.text_index.pending() == []
