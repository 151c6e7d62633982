"""The writer with OCR: records wait for their text, pictures are written masked, every word stays findable."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from screenrecall.pipeline.messages import Box, Embedded, Embedding, Frame, Record, TextFound
from screenrecall.pipeline.thumbnails import ThumbnailStore
from screenrecall.pipeline.writer import Writer
from screenrecall.store.chroma import Store
from tests.support.daemon import wait_until
from tests.support.writers import DIM, MakeWriter, finish, now_ms, unit

LOOK = np.eye(DIM, dtype=np.float32)[0]


def screen(at_ms: int, embedding: Embedding = LOOK, value: int = 200) -> Embedded:
    pixels = np.full((90, 160, 3), value, dtype=np.uint8)
    return Embedded(Frame(pixels, at_ms, "screen", monitor=1), 1600, 900, embedding, (), True)


def folder(index: int, mtime_ms: int = 1_000) -> Embedded:
    path = f"/pictures/shot-{index}.png"
    key = f"{path}|1234|{mtime_ms * 1_000_000}"
    pixels = np.full((90, 160, 3), 90, dtype=np.uint8)
    return Embedded(Frame(pixels, mtime_ms, "folder", path=path, file_key=key), 1600, 900, unit(index), (), True)


def text_for(item: Embedded, words: str, status: str = "read", boxes: tuple[Box, ...] = ()) -> TextFound:
    f = item.frame
    return TextFound(f.source, f.monitor, f.captured_at_ms, f.file_key, words, boxes, (1600, 900), status)  # type: ignore[arg-type]


@pytest.fixture
def make_writer(make_writer: MakeWriter, tmp_path: Path) -> MakeWriter:
    """Writers whose pictures are kept at quality 90, masked the way the test asks (mask by default)."""

    def make(redacted: str = "mask", **options: Any) -> Writer:
        thumbnails = ThumbnailStore(tmp_path / "thumbnails", quality=90, redacted=redacted)
        return make_writer(thumbnails=thumbnails, **options)

    return make


def by_time(store: Store) -> list[Record]:
    return sorted(store.records(with_text=True), key=lambda r: r.captured_at_ms)


def test_a_frame_is_stored_only_once_its_text_arrives(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer()
    frame = screen(now_ms())
    writer.put(frame)
    time.sleep(0.3)
    assert store.count() == 0

    writer.put(text_for(frame, "Invoice 4471 overdue"))
    finish(writer)

    (record,) = by_time(store)
    assert record.text == "Invoice 4471 overdue"
    assert record.thumbnail and Path(record.thumbnail).exists()


def test_the_picture_is_written_with_its_secrets_already_masked(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer()
    frame = screen(now_ms(), value=0)
    frame.frame.pixels[40:50, 40:120:3] = 255  # striped "text" where the secret is
    writer.put(text_for(frame, "password: [redacted:password]", boxes=((400, 400, 1200, 500),)))
    writer.put(frame)
    finish(writer)

    (record,) = by_time(store)
    with Image.open(record.thumbnail) as picture:
        pixels = np.asarray(picture.convert("RGB"))
    masked = pixels[41:49, 42:118]
    assert masked.std() < 2, "the secret's region is one flat colour"


def test_drop_mode_writes_no_picture_of_a_frame_with_a_secret(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer(redacted="drop")
    frame = screen(now_ms())
    writer.put(frame)
    writer.put(text_for(frame, "[redacted:token]", boxes=((0, 0, 10, 10),)))
    finish(writer)

    (record,) = by_time(store)
    assert record.thumbnail == ""
    assert not list((Path(store.path).parent / "thumbnails").rglob("*.webp"))


def test_a_frame_whose_ocr_failed_is_stored_without_text_or_picture(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer()
    frame = screen(now_ms())
    writer.put(frame)
    writer.put(text_for(frame, "", status="failed"))
    finish(writer)

    (record,) = by_time(store)
    assert (record.text, record.thumbnail) == ("", "")
    assert writer.stats.without_text == 1


def test_a_skipped_live_frame_is_not_stored_and_is_counted(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer()
    start = now_ms()
    first, skipped, latest = screen(start), screen(start + 1_000, unit(7)), screen(start + 2_000, unit(8))
    for item, words in ((first, "alpha"), (latest, "alpha bravo charlie")):
        writer.put(item)
        writer.put(text_for(item, words))
    writer.put(skipped)
    writer.put(text_for(skipped, "", status="skipped"))
    finish(writer)

    assert [r.captured_at_ms for r in by_time(store)] == [start, start + 2_000]
    assert writer.stats.superseded == 1


def test_lines_printed_on_a_still_looking_screen_update_one_record_to_the_latest_frame(
    make_writer: MakeWriter, store: Store
) -> None:
    seen: list[tuple[str, bool]] = []
    writer = make_writer(on_stored=lambda record, is_new: seen.append((record.text, is_new)))
    start = now_ms()
    lines = ["$ make", "$ make\ncompiling zebrafjord", "$ make\ncompiling zebrafjord\nlinking quokkaplume"]
    for step, text in enumerate(lines):
        item = screen(start + step * 1_000)
        writer.put(item)
        writer.put(text_for(item, text))
        wait_until(lambda n=step: writer.stats.added + writer.stats.updated == n + 1, 5, "the frame to be placed")
        time.sleep(0.15)  # let each version be flushed: an update of a stored record, not only of the batch
    finish(writer)

    (record,) = by_time(store)
    assert record.text == lines[-1]
    assert (record.captured_at_ms, record.last_seen_ms) == (start, start + 2_000)
    assert writer.stats.updated == 2
    assert seen[0] == (lines[0], True)
    assert seen[-1] == (lines[-1], False)


def test_a_page_replaced_in_place_keeps_both_pages_findable(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer()
    start = now_ms()
    for step, text in enumerate(["chapter one the harbour", "chapter two the lighthouse"]):
        item = screen(start + step * 1_000)
        writer.put(item)
        writer.put(text_for(item, text))
    finish(writer)

    assert [r.text for r in by_time(store)] == ["chapter one the harbour", "chapter two the lighthouse"]


def test_a_bulk_ingest_keeps_every_files_text_whatever_the_order(make_writer: MakeWriter, store: Store) -> None:
    done: list[int] = []
    writer = make_writer(on_file_done=lambda: done.append(1), batch_size=50)
    files = [folder(i) for i in range(300)]
    for item in files:
        writer.put(item)
    for index, item in reversed(list(enumerate(files))):
        writer.put(text_for(item, f"screen number {index} word{index}x"))
    finish(writer)

    records = list(store.records(with_text=True))
    assert len(records) == 300
    assert sorted(r.text for r in records) == sorted(f"screen number {i} word{i}x" for i in range(300))
    assert len(done) == 300


def test_a_folder_record_is_kept_from_when_it_was_ingested(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer()
    last_year = now_ms() - 365 * 86_400_000
    item = folder(1, mtime_ms=last_year)
    writer.put(item)
    writer.put(text_for(item, "old screenshot"))
    finish(writer)

    (record,) = by_time(store)
    assert record.captured_at_ms == last_year  # when it was made, for display and filters
    assert record.ingested_at_ms >= now_ms() - 60_000
    assert store.delete_before(now_ms() - 30 * 86_400_000) == []  # a 30-day retention keeps it
    assert store.count() == 1


def test_at_stop_a_screen_frame_still_being_read_is_kept_without_text_or_picture(
    make_writer: MakeWriter, store: Store
) -> None:
    writer = make_writer()
    writer.put(screen(now_ms()))
    writer.put(folder(1))  # a file not read yet is left for the next start instead
    finish(writer)

    (record,) = by_time(store)
    assert (record.source, record.text, record.thumbnail) == ("screen", "", "")
