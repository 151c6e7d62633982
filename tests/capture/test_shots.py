"""A round of Wayland grabs becomes frames: labelled with a window only when focus held still."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from screenrecall.capture.shots import Shot, grab_round
from screenrecall.pipeline.messages import Window

UNKNOWN = Window(title="?", app="?")
EDITOR = Window(title="notes.txt", app="gedit")
CHAT = Window(title="#general", app="Element")
GREY = np.full((10, 16, 3), 120, dtype=np.uint8)
BLACK = np.zeros((10, 16, 3), dtype=np.uint8)


def focus(*seen: Window | None) -> Callable[[], Window | None]:
    answers = iter(seen)
    return lambda: next(answers)


def shots(*taken: Shot) -> Callable[[], list[Shot]]:
    return lambda: list(taken)


def test_every_monitor_gets_a_frame_labelled_with_the_window_focused_throughout() -> None:
    taken = shots((1, GREY, "800x600+0+0"), (2, GREY, "1024x768+800+0"))
    frames = grab_round(taken, focus(EDITOR, EDITOR), UNKNOWN, (), 5)
    assert [(f.monitor, f.window, f.captured_at_ms, f.source, f.geometry) for f in frames] == [
        (1, EDITOR, 5, "screen", "800x600+0+0"),
        (2, EDITOR, 5, "screen", "1024x768+800+0"),
    ]


def test_a_focus_change_during_the_grab_labels_the_frames_unknown() -> None:
    frames = grab_round(shots((1, GREY, "")), focus(EDITOR, CHAT), UNKNOWN, (), 5)
    assert [f.window for f in frames] == [UNKNOWN]
    unreadable = grab_round(shots((1, GREY, "")), focus(None, None), UNKNOWN, (), 5)
    assert [f.window for f in unreadable] == [UNKNOWN]


def test_unselected_undelivered_and_black_monitors_give_no_frame() -> None:
    taken = shots((1, GREY, ""), (2, None, ""), (3, BLACK, ""), (4, GREY, ""))
    frames = grab_round(taken, focus(EDITOR, EDITOR), UNKNOWN, (1, 2, 3), 5)
    assert [f.monitor for f in frames] == [1]
