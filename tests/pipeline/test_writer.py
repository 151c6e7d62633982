"""The writer against a real Chroma store: dedup per monitor, batching, restart, store failures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from screenrecall.pipeline.messages import Embedded, Frame, Record
from screenrecall.pipeline.thumbnails import ThumbnailStore
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_file, record_id_for_screen
from tests.support.daemon import wait_until
from tests.support.writers import MakeWriter, finish, now_ms, unit

DEDUP = 0.98


def screen(monitor: int, at_ms: int, seed: int) -> Embedded:
    pixels = np.full((18, 32, 3), seed % 256, dtype=np.uint8)
    return Embedded(Frame(pixels, at_ms, "screen", monitor=monitor), 1920, 1080, unit(seed))


def folder(name: str, seed: int, at_ms: int = 1_000) -> Embedded:
    path = f"/pictures/{name}.png"
    key = f"{path}|1234|{at_ms * 1_000_000}"
    pixels = np.full((18, 32, 3), 128, dtype=np.uint8)
    return Embedded(Frame(pixels, at_ms, "folder", path=path, file_key=key), 640, 360, unit(seed))


def only(records: list[Record]) -> Record:
    assert len(records) == 1, records
    return records[0]


def test_a_repeated_embedding_for_the_same_monitor_extends_last_seen(make_writer: MakeWriter, store: Store) -> None:
    start = now_ms()
    writer = make_writer()
    writer.put(screen(1, start, seed=1))
    writer.put(screen(1, start + 2_000, seed=1))
    writer.put(screen(1, start + 4_000, seed=1))
    finish(writer)

    record = only(list(store.records()))
    assert record.id == record_id_for_screen(1, start)
    assert (record.captured_at_ms, record.last_seen_ms) == (start, start + 4_000)


def test_a_repeat_after_the_record_was_written_extends_the_stored_record(make_writer: MakeWriter, store: Store) -> None:
    start = now_ms()
    writer = make_writer()
    writer.put(screen(1, start, seed=1))
    wait_until(lambda: writer.stats.added == 1, 5, "the first write")
    writer.put(screen(1, start + 2_000, seed=1))
    finish(writer)

    record = only(list(store.records()))
    assert (record.captured_at_ms, record.last_seen_ms) == (start, start + 2_000)
    assert writer.stats.extended == 1


def test_a_different_embedding_adds_a_record(make_writer: MakeWriter, store: Store) -> None:
    start = now_ms()
    writer = make_writer()
    writer.put(screen(1, start, seed=1))
    writer.put(screen(1, start + 2_000, seed=2))
    finish(writer)

    records = sorted(store.records(), key=lambda r: r.captured_at_ms)
    assert [r.captured_at_ms for r in records] == [start, start + 2_000]
    assert [r.last_seen_ms for r in records] == [start, start + 2_000]
    assert writer.stats.added == 2


def test_a_frame_is_compared_with_its_monitors_last_record_only(make_writer: MakeWriter, store: Store) -> None:
    start = now_ms()
    writer = make_writer()
    writer.put(screen(1, start, seed=1))
    writer.put(screen(2, start, seed=1))  # the same picture on another monitor is a record of its own
    writer.put(screen(2, start + 1_000, seed=2))  # monitor 2 changes...
    writer.put(screen(1, start + 2_000, seed=1))  # ...which does not break monitor 1's run
    writer.put(screen(2, start + 3_000, seed=1))  # back to what monitor 2 showed before: new, not the old one
    finish(writer)

    by_monitor: dict[int, list[Record]] = {}
    for record in store.records():
        by_monitor.setdefault(record.monitor, []).append(record)
    (first,) = by_monitor[1]
    assert (first.captured_at_ms, first.last_seen_ms) == (start, start + 2_000)
    assert sorted(r.captured_at_ms for r in by_monitor[2]) == [start, start + 1_000, start + 3_000]


def test_folder_frames_are_never_deduplicated(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer()
    one, two = folder("one", seed=5), folder("two", seed=5)  # identical pictures, two files
    writer.put(one)
    writer.put(two)
    finish(writer)

    records = sorted(store.records(), key=lambda r: r.path)
    assert [r.id for r in records] == [record_id_for_file(one.frame.file_key), record_id_for_file(two.frame.file_key)]
    assert [(r.source, r.path, r.file_key) for r in records] == [
        ("folder", "/pictures/one.png", one.frame.file_key),
        ("folder", "/pictures/two.png", two.frame.file_key),
    ]


def test_folder_frames_do_not_break_a_monitors_run(make_writer: MakeWriter, store: Store) -> None:
    start = now_ms()
    writer = make_writer()
    writer.put(screen(1, start, seed=1))
    writer.put(folder("between", seed=9))
    writer.put(screen(1, start + 1_000, seed=1))
    finish(writer)

    screens = [r for r in store.records() if r.source == "screen"]
    assert [(r.captured_at_ms, r.last_seen_ms) for r in screens] == [(start, start + 1_000)]


def test_batches_flush_at_batch_size(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer(batch_size=3, flush_interval_s=60)
    for index in range(5):
        writer.put(folder(f"f{index}", seed=index))
    wait_until(lambda: writer.stats.added == 3, 5, "a full batch to be written")
    time.sleep(0.3)
    assert writer.stats.added == 3 and store.count() == 3  # the other two wait for a full batch...
    finish(writer)
    assert store.count() == 5  # ...or for stop


def test_a_partial_batch_is_written_after_flush_interval(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer(batch_size=1000, flush_interval_s=0.2)
    put_at = time.monotonic()
    writer.put(folder("alone", seed=1))
    wait_until(lambda: writer.stats.added == 1, 3, "the interval flush")
    assert time.monotonic() - put_at < 1.5
    assert store.count() == 1
    assert writer.stats.last_write_ms > 0


def test_stop_writes_everything_already_put(make_writer: MakeWriter, store: Store) -> None:
    start = now_ms()
    writer = make_writer(batch_size=1000, flush_interval_s=60)
    for index in range(40):
        writer.put(folder(f"f{index}", seed=index))
    for index in range(10):
        writer.put(screen(1, start + index * 1_000, seed=100 + index))
    finish(writer)

    assert store.count() == 50
    assert writer.stats.added == 50


def test_after_a_restart_a_repeated_frame_extends_the_record_found_in_the_store(
    make_writer: MakeWriter, store: Store
) -> None:
    start = now_ms()
    first = make_writer()
    first.put(screen(1, start, seed=1))
    finish(first)

    second = make_writer()  # a new writer on the same store knows nothing of the first one's records
    second.put(screen(1, start + 5_000, seed=1))
    finish(second)

    record = only(list(store.records()))
    assert record.id == record_id_for_screen(1, start)
    assert (record.captured_at_ms, record.last_seen_ms) == (start, start + 5_000)
    assert second.stats.extended == 1 and second.stats.added == 0


def test_after_a_restart_a_different_frame_adds_a_record(make_writer: MakeWriter, store: Store) -> None:
    start = now_ms()
    first = make_writer()
    first.put(screen(1, start, seed=1))
    finish(first)

    second = make_writer()
    second.put(screen(1, start + 5_000, seed=2))
    finish(second)

    assert sorted(r.captured_at_ms for r in store.records()) == [start, start + 5_000]


def test_after_a_restart_the_store_is_reopened_and_still_deduplicates(
    tmp_path: Path, thumbnails: ThumbnailStore, make_writer: MakeWriter
) -> None:
    start = now_ms()
    store_dir = tmp_path / "reopened"
    with Store.open(store_dir) as before:
        writer = make_writer(store=before)
        writer.put(screen(2, start, seed=3))
        finish(writer)
    with Store.open(store_dir) as after:
        writer = make_writer(store=after)
        writer.put(screen(2, start + 3_000, seed=3))
        finish(writer)
        record = only(list(after.records()))
    assert (record.monitor, record.captured_at_ms, record.last_seen_ms) == (2, start, start + 3_000)


def test_a_failing_store_is_counted_and_the_writer_keeps_running(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer()
    writer.put(folder("written", seed=1))
    wait_until(lambda: writer.stats.added == 1, 5, "the first write")

    store.close()  # every write now fails
    writer.put(folder("refused", seed=2))
    wait_until(lambda: writer.stats.write_failures >= 1, 5, "a counted write failure")
    time.sleep(0.3)  # more flush rounds, each one failing

    assert writer.is_alive()
    assert writer.stats.added == 1
    writer.put(folder("also refused", seed=3))
    wait_until(lambda: writer.waiting == 0, 5, "the writer to take the next item")
    assert writer.is_alive()
    finish(writer)


def test_a_store_failing_when_a_monitor_first_appears_does_not_kill_the_writer(
    make_writer: MakeWriter, store: Store
) -> None:
    # The first frame of a monitor makes the writer look up that monitor's last record in the store.
    writer = make_writer()
    store.close()
    writer.put(screen(1, now_ms(), seed=1))
    time.sleep(0.5)

    assert writer.is_alive()
    finish(writer)
    assert writer.stats.write_failures >= 1


def test_on_stored_reports_new_and_extended_records(make_writer: MakeWriter, store: Store) -> None:
    start = now_ms()
    seen: list[tuple[str, bool, int, str]] = []
    writer = make_writer(on_stored=lambda r, is_new: seen.append((r.id, is_new, r.last_seen_ms, r.source)))
    writer.put(screen(1, start, seed=1))
    writer.put(folder("photo", seed=2))
    wait_until(lambda: len(seen) == 2, 5, "two new records reported")
    writer.put(screen(1, start + 2_000, seed=1))
    wait_until(lambda: len(seen) == 3, 5, "the extension reported")
    finish(writer)

    screen_id = record_id_for_screen(1, start)
    assert sorted(seen[:2]) == sorted([(screen_id, True, start, "screen"), (seen[1][0], True, 1_000, "folder")])
    assert seen[2] == (screen_id, False, start + 2_000, "screen")  # the stored record, as extended


def test_a_failing_on_stored_handler_does_not_stop_the_writer(make_writer: MakeWriter, store: Store) -> None:
    def broken(record: Record, is_new: bool) -> None:
        raise ValueError("a subscriber's bug")

    writer = make_writer(on_stored=broken)
    writer.put(folder("one", seed=1))
    wait_until(lambda: writer.stats.added == 1, 5, "the first write")
    writer.put(folder("two", seed=2))
    finish(writer)
    assert store.count() == 2


def test_new_records_get_a_thumbnail_and_carry_the_host(
    make_writer: MakeWriter, store: Store, thumbnails: ThumbnailStore
) -> None:
    start = now_ms()
    writer = make_writer(host="desk")
    writer.put(screen(1, start, seed=1))
    finish(writer)

    record = only(list(store.records()))
    assert record.id == record_id_for_screen(1, start, "desk") and record.host == "desk"
    assert (record.width, record.height) == (1920, 1080)  # of the original frame, not the thumbnail
    thumbnail = Path(record.thumbnail)
    assert thumbnail.is_file() and thumbnail.is_relative_to(thumbnails.root)


def test_without_a_thumbnail_store_records_have_no_thumbnail(make_writer: MakeWriter, store: Store) -> None:
    writer = make_writer(thumbnails=None)
    writer.put(folder("plain", seed=1))
    finish(writer)
    assert only(list(store.records())).thumbnail == ""
