"""The status file is rewritten within a moment of a change that matters (pause, resume, a store
write), and carries when it was written; between changes, every few seconds."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from screenrecall.system import status as status_file
from screenrecall.system.status_publisher import StatusPublisher
from tests.support.daemon import wait_until
from tests.support.recall import client_of, recall_config, running_app, screen_frame, show_frames

# Well inside the 5 s full rewrite: a state seen this soon came from the change, not the period.
PROMPT_S = 2.5


def written_since(since_ms: int) -> status_file.Status | None:
    found = status_file.read()
    return found if found is not None and found.updated_ms >= since_ms else None


def test_pause_resume_and_a_store_write_reach_the_status_file_at_once(tiny_bundle: Path) -> None:
    with running_app(recall_config(tiny_bundle)) as app:
        client = client_of(app)
        asked = int(time.time() * 1000)
        client.request("POST", "/v1/pause")
        wait_until(lambda: (s := written_since(asked)) is not None and s.paused, PROMPT_S, "paused in the file")

        asked = int(time.time() * 1000)
        client.request("POST", "/v1/resume")
        wait_until(lambda: (s := written_since(asked)) is not None and not s.paused, PROMPT_S, "resumed in the file")

        asked = int(time.time() * 1000)
        show_frames(app, [screen_frame("red", asked)])
        wait_until(lambda: (s := written_since(asked)) is not None and s.records == 1, PROMPT_S, "the record counted")


def test_unchanged_marks_rewrite_only_at_the_period_and_a_change_at_once() -> None:
    stop, marks, published = threading.Event(), [0], []
    publisher = StatusPublisher(lambda: published.append(time.monotonic()), lambda: marks[0], stop, 1.0, 0.02)
    publisher.start()
    try:
        wait_until(lambda: len(published) == 1, 2, "the first rewrite")  # the first poll sees new marks
        time.sleep(0.3)
        assert len(published) == 1  # nothing moved: no rewrite before the period
        marks[0] = 1
        wait_until(lambda: len(published) == 2, 0.5, "a rewrite for the change")
        wait_until(lambda: len(published) == 3, 2, "the periodic rewrite")
    finally:
        stop.set()
        publisher.join(2)


def test_a_failing_snapshot_does_not_end_publishing() -> None:
    stop, calls = threading.Event(), [0]

    def flaky() -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise OSError("runtime dir gone")

    publisher = StatusPublisher(flaky, time.monotonic, stop, 5.0, 0.02)
    publisher.start()
    try:
        wait_until(lambda: calls[0] >= 3, 2, "publishing to carry on")
    finally:
        stop.set()
        publisher.join(2)
