"""Tests for the Chroma store, against a real embedded Chroma in a temp dir."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from screenrecall.pipeline.messages import Embedding, Record, Window
from screenrecall.store.chroma import Store, StoreError
from screenrecall.store.layout import record_id_for_file, record_id_for_screen
from tests.support.chroma_server import ChromaServer, free_port

DIM = 16
DAEMON_DIR = Path(__file__).resolve().parents[2] / "daemon"


def unit(seed: int) -> Embedding:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def screen(monitor: int, at_ms: int, seed: int = 0, **changes: object) -> Record:
    record = Record(
        id=record_id_for_screen(monitor, at_ms),
        embedding=unit(seed),
        captured_at_ms=at_ms,
        last_seen_ms=at_ms,
        source="screen",
        monitor=monitor,
        path="",
        window=Window(title="", app=""),
        width=1920,
        height=1080,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def folder(file_key: str, at_ms: int, seed: int = 0) -> Record:
    return Record(
        id=record_id_for_file(file_key),
        embedding=unit(seed),
        captured_at_ms=at_ms,
        last_seen_ms=at_ms,
        source="folder",
        monitor=0,
        path=file_key.split("|", maxsplit=1)[0],
        window=Window(),
        width=640,
        height=480,
        file_key=file_key,
    )


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "store"


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data")
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, store_dir: Path) -> Iterator[Store]:
    """Every store test runs against the embedded store and a real `chroma run` server."""
    if request.param == "embedded":
        with Store.open(store_dir) as opened:
            yield opened
        return
    server: ChromaServer = request.getfixturevalue("chroma_server")
    server.clear()
    with Store.open(store_dir, server.url) as opened:
        yield opened


@pytest.fixture
def embedded_store(store_dir: Path) -> Iterator[Store]:
    with Store.open(store_dir) as opened:
        yield opened


def assert_same(got: Record | None, want: Record) -> None:
    assert got is not None
    for name in Record.__slots__:
        if name != "embedding":
            assert getattr(got, name) == getattr(want, name), name
    assert got.embedding.dtype == np.float32
    # Not bit-exact: a cosine collection keeps vectors normalised and scales them back on read.
    np.testing.assert_allclose(got.embedding, want.embedding, rtol=0, atol=1e-6)


def test_open_creates_a_private_dir(embedded_store: Store, store_dir: Path) -> None:
    store = embedded_store
    assert stat.S_IMODE(store_dir.stat().st_mode) == 0o700
    assert store.count() == 0


def test_round_trips_every_field(store: Store) -> None:
    record = screen(
        2,
        1_760_000_000_123,
        seed=1,
        last_seen_ms=1_760_000_009_999,
        path="",
        window=Window(title="Inbox — Mail", app="thunderbird"),
        thumbnail="thumbs/ab/abcd.webp",
    )
    record = dataclasses.replace(record, geometry="1920x1080+2560-120")
    file_record = folder("/home/u/Pictures/a.png|1234|1760000000000000000", 1_700_000_000_000, seed=2)
    store.add([record, file_record])
    assert_same(store.get(record.id), record)
    assert_same(store.get(file_record.id), file_record)


def test_empty_strings_survive_as_empty_strings(store: Store) -> None:
    record = screen(1, 1000, window=Window(title="", app=""), thumbnail="")
    store.add([record])
    got = store.get(record.id)
    assert got is not None
    assert (got.window.title, got.window.app, got.thumbnail, got.file_key, got.path) == ("", "", "", "", "")


def test_get_of_an_unknown_id_is_none(store: Store) -> None:
    assert store.get("0" * 24) is None


def test_ids_are_deterministic_short_hex_and_distinct_by_kind() -> None:
    assert record_id_for_screen(1, 5) == record_id_for_screen(1, 5)
    assert record_id_for_screen(1, 5) != record_id_for_screen(2, 5)
    assert record_id_for_file("a|1|2") == record_id_for_file("a|1|2")
    assert record_id_for_file("a|1|2") != record_id_for_file("a|1|3")
    assert len(record_id_for_file("x")) == 24
    int(record_id_for_file("x"), 16)


def test_adding_the_same_id_again_updates_the_one_row(store: Store) -> None:
    first = folder("/p/a.png|1|1", 1000, seed=1)
    store.add([first])
    again = replace(first, embedding=unit(9), thumbnail="t.webp")
    store.add([again])
    store.add([first, again])  # the same id twice in one call: the last one wins
    assert store.count() == 1
    assert_same(store.get(first.id), again)


def test_add_splits_into_batches_chroma_accepts(store: Store) -> None:
    assert store.max_batch > 1000  # what Chroma reports for the embedded SQLite backend
    store.max_batch = 7
    records = [screen(1, at, seed=at) for at in range(1, 31)]
    store.add(records)
    assert store.count() == 30


def test_extend_moves_last_seen_and_keeps_everything_else(store: Store) -> None:
    record = screen(1, 1000, seed=3, window=Window(title="t", app="a"), thumbnail="x.webp")
    store.add([record])
    store.extend({record.id: 5000, "f" * 24: 7000})
    assert_same(store.get(record.id), replace(record, last_seen_ms=5000))
    assert store.count() == 1  # the unknown id was not created


def test_latest_is_the_newest_screen_record_of_that_monitor(store: Store) -> None:
    store.max_batch = 2  # make latest page through several pages
    store.add(
        [
            screen(1, 100, seed=1),
            screen(1, 300, seed=2),
            screen(1, 200, seed=3),
            screen(2, 400, seed=4),
            folder("/p/x.png|1|1", 900),
        ]
    )
    newest = store.latest(1, since_ms=0)
    assert_same(newest, screen(1, 300, seed=2))
    assert store.latest(1, since_ms=300) is not None
    assert store.latest(1, since_ms=301) is None
    assert_same(store.latest(2, since_ms=0), screen(2, 400, seed=4))
    assert store.latest(3, since_ms=0) is None


def test_known_file_keys_lists_folder_records_only(store: Store) -> None:
    store.max_batch = 3
    keys = {f"/p/{n}.png|{n}|{n}" for n in range(10)}
    store.add([folder(key, 1000 + n) for n, key in enumerate(sorted(keys))])
    store.add([screen(1, at) for at in range(5)])
    assert store.known_file_keys() == keys


def test_nearest_gives_ids_nearest_first_with_cosine_similarity(store: Store) -> None:
    records = [screen(1, at, seed=at) for at in range(1, 11)]
    store.add(records)
    target = records[4]
    hits = store.nearest(target.embedding, k=4)
    assert hits[0][0] == target.id
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    similarities = [similarity for _, similarity in hits]
    assert similarities == sorted(similarities, reverse=True)
    want = sorted((float(r.embedding @ target.embedding) for r in records), reverse=True)[:4]
    assert similarities == pytest.approx(want, abs=1e-5)


def test_nearest_applies_the_filter_and_caps_k(store: Store) -> None:
    records = [screen(1, 100, seed=1), screen(2, 200, seed=2), folder("/p/a.png|1|1", 300, seed=3)]
    store.add(records)
    by_id = {record.id: record for record in records}
    hits = store.nearest(unit(1), k=10, where={"source": "screen"})
    assert {by_id[record_id].monitor for record_id, _ in hits} == {1, 2}
    ranged = store.nearest(unit(1), k=10, where={"captured_at": {"$gte": 150}})
    assert sorted(by_id[record_id].captured_at_ms for record_id, _ in ranged) == [200, 300]
    assert store.nearest(unit(1), k=0) == []


def test_nearest_among_given_ids_walks_only_those(store: Store) -> None:
    records = [screen(1, at, seed=at) for at in range(1, 21)]
    store.add(records)
    among = [record.id for record in records[::3]]
    hits = store.nearest(records[1].embedding, k=50, among=among)  # k above the ids: capped
    assert sorted(record_id for record_id, _ in hits) == sorted(among)
    want = sorted((float(r.embedding @ records[1].embedding) for r in records[::3]), reverse=True)
    assert [similarity for _, similarity in hits] == pytest.approx(want, abs=1e-5)
    assert store.nearest(records[1].embedding, k=5, among=[]) == []


def test_nearest_on_an_empty_store_is_empty(store: Store) -> None:
    assert store.nearest(unit(1), k=5) == []


def test_embeddings_are_fetched_by_id_alone_and_unknown_ids_are_left_out(store: Store) -> None:
    records = [screen(1, at, seed=at) for at in range(1, 4)]
    store.add(records)
    found = store.embeddings([records[0].id, "no-such-id", records[2].id])
    assert set(found) == {records[0].id, records[2].id}
    np.testing.assert_allclose(found[records[2].id], records[2].embedding, atol=1e-6)
    assert store.embeddings([]) == {}


def test_delete_before_goes_by_last_seen_and_returns_what_it_deleted(store: Store) -> None:
    store.max_batch = 2  # several delete rounds
    old = [screen(1, at) for at in range(100, 105)]
    extended = screen(2, 50)
    fresh = screen(1, 900)
    store.add([*old, extended, fresh])
    store.extend({extended.id: 1000})
    deleted = store.delete_before(500)
    assert sorted(record.id for record in deleted) == sorted(record.id for record in old)
    assert all(record.embedding.size == 0 for record in deleted)
    assert {record.captured_at_ms for record in deleted} == {100, 101, 102, 103, 104}
    assert store.count() == 2
    assert store.get(extended.id) is not None
    assert store.delete_before(500) == []


def test_the_status_count_follows_every_add_and_delete(store: Store) -> None:
    """The status's count comes from the text index locally (cheap), Chroma's on a server: both exact."""
    store.max_batch = 2
    assert store.status_count() == 0
    store.add([screen(1, at) for at in range(100, 107)] + [folder("/a.png|1|1", 300)])
    assert store.status_count() == store.count() == 8
    store.add([screen(1, 100)])  # the same record again: an upsert, not a new one
    assert store.status_count() == 8
    store.delete_before(104)
    store.delete([record_id_for_file("/a.png|1|1")])
    assert store.status_count() == store.count() == 3


def test_ids_are_every_record_id_from_the_index_or_from_chroma(store: Store) -> None:
    store.max_batch = 3  # several pages when read from Chroma
    records = [screen(1, at) for at in range(100, 110)] + [folder("/a.png|1|1", 300)]
    store.add(records)
    assert store.ids() == {record.id for record in records}  # the index mirrors the store
    store.text_index.delete([records[0].id])  # out of step (a crash between the two writes)
    assert store.ids() == {record.id for record in records}  # then Chroma's own


def test_whether_any_frame_has_tiles_follows_adds_and_deletes(store: Store) -> None:
    assert not store.tiles.any()
    store.add([screen(1, 100)])  # no tiles
    assert not store.tiles.any()
    tiled = screen(1, 200, tiles=(unit(1), unit(2)))
    store.add([tiled])
    assert store.tiles.any()
    store.delete([tiled.id])
    assert not store.tiles.any()


def test_oldest_orders_by_capture_time_and_delete_removes_them(store: Store) -> None:
    store.max_batch = 3
    times = [500, 100, 900, 300, 700, 200, 800]
    store.add([screen(1, at) for at in times])
    oldest = store.oldest(3)
    assert [record.captured_at_ms for record in oldest] == [100, 200, 300]
    assert [record.captured_at_ms for record in store.oldest(2)] == [100, 200]
    assert store.oldest(0) == []
    store.add([screen(1, 50)])  # stored last, captured first (a catch-up of an old file, say)
    assert [record.captured_at_ms for record in store.oldest(1)] == [50]
    store.delete([record_id_for_screen(1, 50)])
    store.delete([record.id for record in oldest])
    assert store.count() == 4
    assert [record.captured_at_ms for record in store.oldest(100)] == [500, 700, 800, 900]


def test_disk_bytes_counts_the_store_dir(embedded_store: Store) -> None:
    store = embedded_store
    empty = store.disk_bytes()
    assert empty > 0  # the SQLite file exists from the start
    store.add([screen(1, at, seed=at) for at in range(200)])
    assert store.disk_bytes() > empty


def test_reopening_after_close_keeps_the_data(store_dir: Path) -> None:
    record = folder("/p/a.png|1|1", 1000, seed=5)
    with Store.open(store_dir) as first:
        first.add([record])
    with pytest.raises(RuntimeError, match="closed"):
        first.count()
    first.close()  # idempotent
    with Store.open(store_dir) as second:
        assert second.count() == 1
        assert_same(second.get(record.id), record)
        assert second.nearest(record.embedding, k=1)[0][0] == record.id


def test_telemetry_is_off(store: Store) -> None:
    assert store.telemetry_enabled is False


# Runs in a child process: audit hooks cannot be removed, and a kill -9 needs a process to kill.
CHILD = """
import json, sys
from pathlib import Path
events = []
def audit(name, args):
    if name in ("socket.connect", "socket.getaddrinfo", "urllib.Request", "http.client.connect"):
        events.append(f"{name} {args[1:] if name == 'socket.connect' else args}")
sys.addaudithook(audit)
import numpy as np
from screenrecall.pipeline.messages import Record, Window
from screenrecall.store.layout import record_id_for_screen
from screenrecall.store.chroma import Store
store = Store.open(Path(sys.argv[1]))
count = int(sys.argv[2])
rng = np.random.default_rng(7)
vectors = rng.standard_normal((count, 16)).astype(np.float32)
vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
store.add([
    Record(id=record_id_for_screen(1, at), embedding=vectors[at], captured_at_ms=at, last_seen_ms=at,
           source="screen", monitor=1, path="", window=Window(), width=8, height=8)
    for at in range(count)
])
store.nearest(vectors[0], k=3)
print(json.dumps({"acked": count, "network": events}), flush=True)
sys.stdin.read()  # wait here until killed
"""


def run_child(store_dir: Path, count: int, home: Path) -> tuple[subprocess.Popen[str], dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": str(DAEMON_DIR), "HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store_dir), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        proc.communicate(timeout=10)
        pytest.fail("the child store process died before acknowledging its add")
    return proc, json.loads(line)


def kill9(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def test_opens_adds_and_queries_without_any_network_or_download(store_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "child-home"
    home.mkdir()
    proc, report = run_child(store_dir, 3, home)
    kill9(proc)
    assert report["network"] == []
    assert not (home / ".cache" / "chroma").exists()  # where the default ONNX model would land


def test_acknowledged_adds_survive_kill_9(store_dir: Path, tmp_path: Path) -> None:
    # More than the HNSW sync_threshold (1000), so both the persisted index and the log replay count.
    count = 1200
    proc, report = run_child(store_dir, count, tmp_path)
    assert report["acked"] == count
    kill9(proc)
    with Store.open(store_dir) as reopened:
        assert reopened.count() == count
        last = reopened.get(record_id_for_screen(1, count - 1))
        assert last is not None
        hits = reopened.nearest(last.embedding, k=1)
        assert hits[0][0] == last.id


def test_server_mode_keeps_only_its_text_index_locally_and_reports_its_size(
    chroma_server: ChromaServer, store_dir: Path
) -> None:
    chroma_server.clear()
    with Store.open(store_dir, chroma_server.url) as remote:
        remote.add([screen(1, 1000, host="laptop")])
        assert remote.disk_bytes() == remote.text_index.disk_bytes() > 0
        assert remote.get(record_id_for_screen(1, 1000)).host == "laptop"  # type: ignore[union-attr]
    assert {path.name.split("-")[0:2] == ["text", "index"] for path in store_dir.iterdir()} == {True}


def test_an_unreachable_server_is_a_clear_error(store_dir: Path) -> None:
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        Store.open(store_dir, f"http://127.0.0.1:{free_port()}")


def test_a_bad_store_url_is_refused(store_dir: Path) -> None:
    with pytest.raises(StoreError, match="expected http://HOST:PORT"):
        Store.open(store_dir, "ftp://example")


def test_host_filter_and_distinct_apps(store: Store) -> None:
    store.add(
        [
            screen(1, 1000, seed=1, host="laptop", window=Window("a", "Firefox")),
            screen(1, 2000, seed=2, host="desk", window=Window("b", "XTerm")),
        ]
    )
    hits = store.nearest(unit(1), 5, where={"host": "desk"})
    assert [r.host for r in store.get_many([record_id for record_id, _ in hits])] == ["desk"]
    assert store.distinct_apps() == {"Firefox", "XTerm"}


def test_delete_range_forgets_what_was_visible_in_the_range_only(store: Store) -> None:
    before = screen(1, 1000, seed=1, last_seen_ms=1500)
    spanning = screen(1, 1800, seed=2, last_seen_ms=3500)  # began before, still visible inside
    inside = screen(2, 2500, seed=3)
    after = screen(1, 4000, seed=4)
    store.add([before, spanning, inside, after])
    gone = store.delete_range(2000, 3000)
    assert sorted(r.id for r in gone) == sorted([spanning.id, inside.id])
    assert store.count() == 2
