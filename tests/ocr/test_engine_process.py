"""The OCR reader process: started on demand, gone when idle, replaced after many reads or a crash."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from screenrecall.ocr.engine import OcrEngine, OcrError, text_of
from tests.support.daemon import wait_until
from tests.support.screens import terminal

SCREEN = terminal(["Invoice #4471 from ACME Corp", "error: undefined reference to main"])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it holds no memory.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_the_reader_starts_on_demand_and_exits_when_idle_taking_its_memory_with_it() -> None:
    engine = OcrEngine(idle_s=1.0, warm=False)
    assert engine.child_pid is None  # nothing is loaded until there is text to read
    assert "ACME Corp" in text_of(engine.read(SCREEN))
    pid = engine.child_pid
    assert pid is not None and pid != os.getpid()
    wait_until(lambda: _gone(pid), 10, "the idle reader to exit")
    assert "ACME Corp" in text_of(engine.read(SCREEN))  # a new one reads the next frame
    assert engine.starts == 2
    engine.close()


def test_the_reader_is_replaced_after_max_reads() -> None:
    engine = OcrEngine(max_reads=2, warm=False)
    pids = []
    for _ in range(3):
        engine.read(SCREEN)
        pids.append(engine.child_pid)
    assert pids[0] == pids[1] != pids[2]
    engine.close()
    assert pids[2] is not None and _gone(pids[2])


def test_a_reader_killed_mid_read_costs_that_frame_only() -> None:
    engine = OcrEngine()
    engine.read(SCREEN)  # warm: the reader is up
    pid = engine.child_pid
    assert pid is not None
    dense = terminal([f"line {i} of a long and dense log with many words" for i in range(40)], (1920, 1080))
    failure: list[BaseException] = []

    def read() -> None:
        try:
            engine.read(dense)
        except OcrError as exc:
            failure.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)  # what the OOM killer does to the biggest process
    reader.join(60)
    assert failure and "died" in str(failure[0])
    assert "ACME Corp" in text_of(engine.read(SCREEN))
    engine.close()


def test_a_reader_that_hangs_is_stopped_after_the_timeout() -> None:
    engine = OcrEngine(timeout_s=30)
    engine.read(SCREEN)
    pid = engine.child_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # wedged
    engine._timeout_s = 1.0
    with pytest.raises(OcrError, match="longer than"):  # the send blocks too: the bound covers it
        engine.read(SCREEN)
    assert _gone(pid)
    engine._timeout_s = 30
    assert "ACME Corp" in text_of(engine.read(SCREEN))
    engine.close()
