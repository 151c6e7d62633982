"""The OCR stage answers every frame it is offered: read, skipped (only when behind), or failed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from screenrecall.ocr.engine import OcrEngine
from screenrecall.ocr.stage import OcrStage
from screenrecall.pipeline.messages import FileJob, Frame, TextFound
from tests.support.daemon import wait_until
from tests.support.screens import terminal


def frame(at_ms: int, monitor: int, lines: list[str]) -> Frame:
    return Frame(terminal(lines), at_ms, "screen", monitor=monitor)


def unreadable(job: FileJob) -> Frame:
    raise OSError(f"{job.path}: gone")


def stage(answers: list[TextFound], max_waiting: int = 2) -> OcrStage:
    lock = threading.Lock()

    def deliver(found: TextFound) -> None:
        with lock:
            answers.append(found)

    return OcrStage(OcrEngine, deliver, None, unreadable, max_waiting=max_waiting)


def test_when_behind_the_oldest_frame_of_the_same_monitor_is_skipped_and_answered() -> None:
    answers: list[TextFound] = []
    ocr = stage(answers, max_waiting=2)
    ocr.offer(frame(1, 1, ["first screen"]))
    ocr.offer(frame(2, 2, ["other monitor"]))
    ocr.offer(frame(3, 1, ["second screen zebrafjord"]))  # full: monitor 1's older frame goes

    assert [(a.monitor, a.captured_at_ms, a.status) for a in answers] == [(1, 1, "skipped")]
    ocr.start()
    wait_until(lambda: len(answers) == 3, 180, "the two waiting frames to be read")
    ocr.stop()
    ocr.join(10)

    read = {a.captured_at_ms: a for a in answers if a.status == "read"}
    assert set(read) == {2, 3}
    assert "zebrafjord" in read[3].text
    assert ocr.stats.dropped == 1


def test_when_behind_the_frame_a_later_one_nearly_repeats_is_skipped_not_a_replaced_page() -> None:
    answers: list[TextFound] = []
    ocr = stage(answers, max_waiting=3)
    page_one = ["page one", "lanternfig glacierpod", "the harbour at dawn"]
    page_two = ["page two", "velvetquill copperwren", "a lighthouse keeper"]
    ocr.offer(frame(1, 1, page_one))
    ocr.offer(frame(2, 1, page_two[:2]))  # the page replaced in place (must be read), being drawn...
    ocr.offer(frame(3, 1, page_two))  # ...and finished: frame 2 shows nothing frame 3 does not
    ocr.offer(frame(4, 1, [*page_two, "one more line"]))

    (skipped,) = answers
    assert skipped.status == "skipped"
    assert skipped.captured_at_ms in (2, 3)  # each is nearly repeated by the next; page one (1) is not
    ocr.stop()


def test_a_file_that_cannot_be_read_is_answered_as_failed(tmp_path: Path) -> None:
    answers: list[TextFound] = []
    ocr = stage(answers)
    job = FileJob(str(tmp_path / "gone.png"), 10, 5_000_000)
    ocr.offer_file(job)
    ocr.start()
    wait_until(lambda: len(answers) == 1, 180, "an answer")
    ocr.stop()
    ocr.join(10)

    (answer,) = answers
    assert (answer.status, answer.source, answer.file_key, answer.captured_at_ms) == ("failed", "folder", job.key, 5)
    assert ocr.stats.failed == 1


def test_stop_aborts_the_read_in_progress_and_leaves_that_file_unanswered(tmp_path: Path) -> None:
    # A dense 1080p terminal: seconds of reading on a quiet machine, minutes on a loaded one.
    dense = terminal(
        [f"{n:04d} lanternfig glacierpod velvetquill copperwren harbour" * 2 for n in range(60)], (1920, 1080)
    )
    answers: list[TextFound] = []
    ocr = OcrStage(OcrEngine, answers.append, None, lambda job: Frame(dense, 5, "folder", path=job.path), max_waiting=2)
    ocr.offer_file(FileJob(str(tmp_path / "dense.png"), 10, 5_000_000))
    ocr.start()
    wait_until(lambda: ocr.waiting == 0 and not ocr.idle(), 60, "the read to start")
    time.sleep(0.3)
    stopped = time.monotonic()
    ocr.stop()
    ocr.join(10)

    assert not ocr.is_alive() and time.monotonic() - stopped < 5
    assert answers == []  # not "failed": the file is not stored, so the next start reads it again
    assert ocr.stats.failed == 0 and ocr.stats.read == 0
