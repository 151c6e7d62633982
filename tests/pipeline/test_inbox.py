"""The encode inbox: live frames drop the oldest when full, files block and are never dropped."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from screenrecall.pipeline.inbox import EncodeInbox
from screenrecall.pipeline.messages import FileJob, Frame


def frame(at_ms: int, monitor: int = 1) -> Frame:
    return Frame(np.zeros((4, 4, 3), dtype=np.uint8), at_ms, "screen", monitor=monitor)


def job(name: str) -> FileJob:
    return FileJob(f"/pictures/{name}.png", 100, 1)


def drain(inbox: EncodeInbox) -> list[Frame | FileJob]:
    items: list[Frame | FileJob] = []
    while (item := inbox.get(timeout=0)) is not None:
        items.append(item)
    return items


def test_drops_oldest_frame_when_full_and_counts_it() -> None:
    inbox = EncodeInbox(max_frames=2, max_files=4)
    first, second, third = frame(1), frame(2), frame(3)

    assert inbox.put_frame(first) is True
    assert inbox.put_frame(second) is True
    assert inbox.put_frame(third) is False  # it went in, pushing out the oldest

    stats = inbox.stats()
    assert (stats.frames_waiting, stats.frames_dropped) == (2, 1)
    assert drain(inbox) == [second, third]


def test_frames_waiting_never_exceed_max_frames_under_a_flood() -> None:
    inbox = EncodeInbox(max_frames=3, max_files=4)
    for at_ms in range(100):
        inbox.put_frame(frame(at_ms))
        assert inbox.stats().frames_waiting <= 3

    assert inbox.stats().frames_dropped == 97
    assert [item.captured_at_ms for item in drain(inbox) if isinstance(item, Frame)] == [97, 98, 99]


def test_files_block_when_full_and_are_never_dropped() -> None:
    inbox = EncodeInbox(max_frames=2, max_files=1)
    kept, waiting = job("kept"), job("waiting")
    assert inbox.put_file(kept) is True

    started = time.monotonic()
    assert inbox.put_file(waiting, timeout=0.2) is False
    assert time.monotonic() - started >= 0.2
    assert inbox.stats().files_waiting == 1  # the first file is still there; nothing was pushed out

    assert inbox.get(timeout=0) is kept
    assert inbox.put_file(waiting, timeout=0.2) is True  # the caller still has it and retries
    assert inbox.get(timeout=0) is waiting


def test_a_blocked_file_producer_resumes_when_the_consumer_takes_one() -> None:
    inbox = EncodeInbox(max_frames=2, max_files=1)
    inbox.put_file(job("first"))
    results: list[bool] = []
    producer = threading.Thread(target=lambda: results.append(inbox.put_file(job("second"))))
    producer.start()
    time.sleep(0.2)
    assert producer.is_alive() and results == []  # blocked, not dropped

    first = inbox.get(timeout=0)
    producer.join(2.0)

    assert results == [True]
    assert isinstance(first, FileJob) and first.path.endswith("first.png")
    second = inbox.get(timeout=0)
    assert isinstance(second, FileJob) and second.path.endswith("second.png")


def test_alternates_sources_so_neither_starves() -> None:
    inbox = EncodeInbox(max_frames=2, max_files=8)
    for name in "abcd":
        inbox.put_file(job(name))
    kinds = []
    for at_ms in range(8):
        # Frames keep arriving faster than they are taken: the files must still get every other turn.
        inbox.put_frame(frame(at_ms))
        inbox.put_frame(frame(at_ms + 100))
        item = inbox.get(timeout=0)
        kinds.append("file" if isinstance(item, FileJob) else "frame")

    assert kinds == ["frame", "file"] * 4


def test_files_flow_while_no_frames_come_and_frames_while_no_files_come() -> None:
    files_only = EncodeInbox(max_frames=2, max_files=4)
    for name in "abc":
        files_only.put_file(job(name))
    assert [type(item) for item in drain(files_only)] == [FileJob] * 3

    frames_only = EncodeInbox(max_frames=4, max_files=4)
    for at_ms in range(3):
        frames_only.put_frame(frame(at_ms))
    assert [type(item) for item in drain(frames_only)] == [Frame] * 3


def test_get_times_out_with_none_when_empty() -> None:
    inbox = EncodeInbox(max_frames=1, max_files=1)
    started = time.monotonic()
    assert inbox.get(timeout=0.1) is None
    assert time.monotonic() - started >= 0.09


def test_a_waiting_consumer_wakes_as_soon_as_something_arrives() -> None:
    inbox = EncodeInbox(max_frames=1, max_files=1)
    got: list[object] = []
    consumer = threading.Thread(target=lambda: got.append(inbox.get(timeout=10)))
    consumer.start()
    time.sleep(0.1)
    started = time.monotonic()
    inbox.put_file(job("x"))
    consumer.join(2.0)
    assert time.monotonic() - started < 1.0
    assert len(got) == 1 and isinstance(got[0], FileJob)


def test_close_lets_the_consumer_drain_and_then_returns_none() -> None:
    inbox = EncodeInbox(max_frames=4, max_files=4)
    inbox.put_frame(frame(1))
    inbox.put_file(job("a"))
    inbox.put_frame(frame(2))
    inbox.close()

    assert len(drain(inbox)) == 3
    started = time.monotonic()
    assert inbox.get(timeout=10) is None  # at once: closed and empty
    assert time.monotonic() - started < 0.5


def test_close_wakes_a_waiting_consumer() -> None:
    inbox = EncodeInbox(max_frames=1, max_files=1)
    got: list[object] = ["not yet"]
    consumer = threading.Thread(target=lambda: got.__setitem__(0, inbox.get(timeout=10)))
    consumer.start()
    time.sleep(0.1)
    inbox.close()
    consumer.join(2.0)
    assert not consumer.is_alive() and got == [None]


def test_close_releases_a_producer_blocked_on_a_full_file_queue() -> None:
    inbox = EncodeInbox(max_frames=1, max_files=1)
    inbox.put_file(job("first"))
    results: list[bool] = []
    producer = threading.Thread(target=lambda: results.append(inbox.put_file(job("second"))))
    producer.start()
    time.sleep(0.1)
    inbox.close()
    producer.join(2.0)
    assert not producer.is_alive() and results == [False]  # refused, so its owner knows to keep it


def test_put_after_close_is_refused() -> None:
    inbox = EncodeInbox(max_frames=2, max_files=2)
    inbox.close()

    assert inbox.put_frame(frame(1)) is False
    assert inbox.put_file(job("late")) is False
    stats = inbox.stats()
    assert (stats.frames_waiting, stats.files_waiting, stats.frames_dropped) == (0, 0, 0)
    assert inbox.get(timeout=0) is None


@pytest.mark.parametrize(("max_frames", "max_files"), [(0, 1), (1, 0)])
def test_sizes_below_one_are_refused(max_frames: int, max_files: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EncodeInbox(max_frames, max_files)


def test_only_max_files_in_flight_leave_until_the_writer_says_they_are_done() -> None:
    inbox = EncodeInbox(max_frames=2, max_files=10, max_files_in_flight=2)
    for index in range(4):
        assert inbox.put_file(FileJob(f"/p/{index}.png", 1, 1))

    first, second = inbox.get(0.1), inbox.get(0.1)
    assert isinstance(first, FileJob) and isinstance(second, FileJob)
    assert inbox.get(0.1) is None  # two in flight: the other files wait, unharmed
    inbox.put_frame(Frame(np.zeros((2, 2, 3), np.uint8), 1, "screen", monitor=1))
    assert isinstance(inbox.get(0.1), Frame)  # frames are not held back by files in flight

    inbox.file_done()
    third = inbox.get(0.1)
    assert isinstance(third, FileJob) and third.path == "/p/2.png"
    assert inbox.stats().files_waiting == 1
