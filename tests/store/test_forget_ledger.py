"""Forgotten things stay forgotten: frames in flight during a forget, and folder files at the next start."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from screenrecall.pipeline.messages import Record
from screenrecall.pipeline.thumbnails import ThumbnailStore
from screenrecall.pipeline.writer import Writer
from screenrecall.store.chroma import Store
from screenrecall.store.forget_ledger import ForgetLedger
from tests.pipeline.test_writer import DEDUP, finish, folder, now_ms, screen


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store") as opened:
        opened.ledger = ForgetLedger(tmp_path / "forgotten.json")
        yield opened


def start_writer(store: Store, tmp_path: Path) -> Writer:
    assert store.ledger is not None
    writer = Writer(
        store,
        ThumbnailStore(tmp_path / "thumbnails", quality=70),
        dedup_cosine=DEDUP,
        batch_size=64,
        flush_interval_s=0.05,
        admit=store.ledger.admits,
        clock=lambda: 5.0,  # a folder file is ingested 5 s after the epoch: before delete_before's cutoff below
    )
    writer.start()
    return writer


def stored(store: Store) -> list[Record]:
    return list(store.records())


def test_a_frame_still_in_flight_when_its_time_is_forgotten_is_not_written(store: Store, tmp_path: Path) -> None:
    writer = start_writer(store, tmp_path)
    taken = now_ms() - 5_000
    writer.put(screen(1, taken - 1_000, seed=1))
    # The user forgets the last minute while a frame taken in it is still in the encoder / OCR.
    assert writer.forget(taken - 60_000, now_ms()) == 1
    writer.put(screen(1, taken, seed=2))  # it comes out of inference only now
    writer.put(screen(1, now_ms() + 1_000, seed=3))  # taken after the forget: kept
    finish(writer)

    assert [r.captured_at_ms > taken for r in stored(store)] == [True]


def test_a_forgotten_folder_file_is_not_ingested_again_after_a_restart(store: Store, tmp_path: Path) -> None:
    writer = start_writer(store, tmp_path)
    writer.put(folder("holiday", seed=4, at_ms=1_000))
    writer.put(folder("receipt", seed=5, at_ms=9_000_000))
    finish(writer)
    writer = start_writer(store, tmp_path)
    assert writer.forget(500, 1_500) == 1
    finish(writer)

    # A restart: a new ledger read from its file; the watcher finds the file again.
    store.ledger = ForgetLedger(tmp_path / "forgotten.json")
    assert store.ledger.knows_key(folder("holiday", seed=4, at_ms=1_000).frame.file_key)
    assert not store.ledger.knows_key(folder("receipt", seed=5, at_ms=9_000_000).frame.file_key)
    writer = start_writer(store, tmp_path)
    writer.put(folder("holiday", seed=4, at_ms=1_000))
    finish(writer)
    assert [r.path for r in stored(store)] == ["/pictures/receipt.png"]


def test_an_expired_folder_file_is_remembered_and_screens_are_not(store: Store, tmp_path: Path) -> None:
    writer = start_writer(store, tmp_path)
    writer.put(folder("old", seed=6, at_ms=1_000))
    writer.put(screen(1, 2_000, seed=7))
    finish(writer)

    assert len(store.delete_before(10_000)) == 2

    ledger = ForgetLedger(tmp_path / "forgotten.json")
    assert ledger.knows_key(folder("old", seed=6, at_ms=1_000).frame.file_key)
    assert ledger.admits(screen(1, 2_000, seed=7).frame)  # retention is no tombstone for time


def test_a_range_reaching_into_the_future_does_not_block_what_is_captured_later(tmp_path: Path) -> None:
    ledger = ForgetLedger(tmp_path / "forgotten.json", clock=lambda: 100.0)
    ledger.forgot_range(50_000, 10_000_000, [])
    assert not ledger.admits(screen(1, 99_000, seed=1).frame)
    assert ledger.admits(screen(1, 100_001, seed=1).frame)


def test_the_ledger_file_is_private_and_names_no_file(tmp_path: Path) -> None:
    ledger = ForgetLedger(tmp_path / "data" / "forgotten.json")
    item = folder("secret-plans", seed=8)
    ledger.forgot_records(
        [Record("x", item.embedding, 1, 1, "folder", 0, item.frame.path, item.frame.window, 1, 1, file_key="k")]
    )
    text = (tmp_path / "data" / "forgotten.json").read_text()
    assert "secret-plans" not in text and "x" in text
    assert stat.S_IMODE((tmp_path / "data" / "forgotten.json").stat().st_mode) == 0o600
