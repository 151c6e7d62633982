"""Forget and retention leave no readable trace: the store's files are grepped for a forgotten word."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from screenrecall.pipeline.messages import Record, Window
from screenrecall.store import erase
from screenrecall.store.chroma import Store
from tests.store.test_chroma import screen, unit

SECRET = b"ZEBRASECRET42"
SECRET_TITLE = b"TITLESECRETXY"


def files_containing(root: Path, word: bytes) -> list[str]:
    """Every file under root whose raw bytes hold the word (what `grep -r` on the data dir finds)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and word in p.read_bytes())


def secret_record(at_ms: int) -> Record:
    return screen(
        1,
        at_ms,
        seed=at_ms,
        text=f"mysql> select * from users; -- {SECRET.decode()} row {at_ms}",
        window=Window(title=f"{SECRET_TITLE.decode()} - Terminal", app="XTerm"),
    )


def kept_record(at_ms: int) -> Record:
    return replace(screen(1, at_ms, seed=at_ms), text=f"keepsake line {at_ms}", window=Window("keepsake", "XTerm"))


def fill(store: Store) -> None:
    store.add([kept_record(1_000 + i) for i in range(5)])
    store.add([secret_record(2_000 + i) for i in range(5)])
    store.add([kept_record(3_000 + i) for i in range(5)])


def test_forgetting_a_range_leaves_no_readable_trace_in_the_store_files(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    fill(store)
    assert files_containing(tmp_path, SECRET) == ["store/chroma.sqlite3"]  # the word is really on disk

    forgotten = store.delete_range(2_000, 2_999)
    store.close()

    assert len(forgotten) == 5
    assert files_containing(tmp_path, SECRET) == []
    assert files_containing(tmp_path, SECRET_TITLE) == []
    assert files_containing(tmp_path, b"keepsake line 3004") == ["store/chroma.sqlite3"]


def test_the_store_still_works_after_its_traces_were_erased(tmp_path: Path) -> None:
    with Store.open(tmp_path / "store") as store:
        fill(store)
        store.delete_range(2_000, 2_999)
        store.add([kept_record(4_000)])
    with Store.open(tmp_path / "store") as store:  # the vector index replays the scrubbed log
        assert store.count() == 11
        assert [record_id for record_id, _ in store.nearest(unit(3_002), 1)] == [kept_record(3_002).id]
        assert [r.text for r in store.text_search(["keepsake line 4000"], None, 5)] == ["keepsake line 4000"]


def test_retention_takes_the_text_out_of_the_log_at_once_and_compacts_when_due(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    fill(store)
    store.compact()  # nothing deleted yet: nothing to do
    store.delete_before(2_999)
    database = tmp_path / "store" / erase.CHROMA_DB
    log = erase._connect(database).execute("SELECT COUNT(*) FROM embeddings_queue WHERE metadata LIKE ?", ("%ZEBRA%",))
    assert log.fetchone()[0] == 0

    store.compact(min_interval_s=3600)  # the first compaction is due at once
    store.close()
    assert files_containing(tmp_path, SECRET) == []


def test_vacuum_of_our_own_sqlite_file_removes_deleted_rows_bytes(tmp_path: Path) -> None:
    database = tmp_path / "own.sqlite3"
    connection = erase._connect(database)
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    connection.executemany("INSERT INTO t (body) VALUES (?)", [(f"{SECRET.decode()} {i}",) for i in range(50)])
    connection.execute("PRAGMA secure_delete=OFF")  # as a library connection that deletes would be
    connection.execute("DELETE FROM t")
    assert SECRET in database.read_bytes()
    erase.vacuum(connection)
    connection.close()
    assert SECRET not in database.read_bytes()
