"""The screen sampler on a real Xvfb with the real grabber: pause, change gate, privacy, lost displays."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from screenrecall.capture.gate import ChangeGate
from screenrecall.capture.privacy import ExclusionFilter, PauseSwitch
from screenrecall.capture.sampler import ScreenSampler
from screenrecall.capture.screen import ScreenGrabber
from screenrecall.capture.window import WindowProbe
from screenrecall.pipeline.inbox import EncodeInbox
from screenrecall.pipeline.messages import FileJob, Frame
from tests.support.xvfb import Xvfb

pytestmark = pytest.mark.display

T0 = 1_750_000_000.0
GREY = (128, 128, 128)
TEAL = (0, 128, 128)
ORANGE = (230, 120, 0)
PURPLE = (120, 0, 160)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


MakeSampler = Callable[..., ScreenSampler]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inbox() -> EncodeInbox:
    return EncodeInbox(max_frames=16, max_files=1)


@pytest.fixture
def pause(tmp_path: Path) -> PauseSwitch:
    return PauseSwitch(tmp_path / "run" / "pause.json")


@pytest.fixture
def make_sampler(clock: Clock, inbox: EncodeInbox, pause: PauseSwitch) -> Iterator[MakeSampler]:
    made: list[ScreenSampler] = []

    def make(exclude_apps: tuple[str, ...] = (), **options: Any) -> ScreenSampler:
        sampler = ScreenSampler(
            ScreenGrabber([], WindowProbe()),
            ChangeGate(60, settle_s=0),
            ExclusionFilter(apps=list(exclude_apps), titles=[]),
            pause,
            inbox,
            clock=clock,
            **options,
        )
        made.append(sampler)
        return sampler

    yield make
    for sampler in made:
        sampler.close()


def queued(inbox: EncodeInbox) -> list[Frame]:
    frames: list[Frame] = []
    while (item := inbox.get(timeout=0)) is not None:
        assert not isinstance(item, FileJob)
        frames.append(item)
    return frames


def colour(frame: Frame) -> tuple[int, int, int]:
    red, green, blue = (int(v) for v in frame.pixels[0, 0])
    return red, green, blue


def test_a_new_screen_is_queued_with_its_monitor_and_time(
    xvfb: Xvfb, make_sampler: MakeSampler, inbox: EncodeInbox
) -> None:
    xvfb.fill(TEAL)
    sampler = make_sampler()
    sampler.tick()

    (frame,) = queued(inbox)
    assert (frame.source, frame.monitor, frame.captured_at_ms, frame.size) == ("screen", 1, int(T0 * 1000), (640, 480))
    assert colour(frame) == TEAL
    assert (sampler.stats.ticks, sampler.stats.grabbed, sampler.stats.last_tick_ms) == (1, 1, int(T0 * 1000))


def test_unchanged_frames_are_not_queued(
    xvfb: Xvfb, make_sampler: MakeSampler, inbox: EncodeInbox, clock: Clock
) -> None:
    xvfb.fill(GREY)
    sampler = make_sampler()
    for _ in range(3):
        sampler.tick()
        clock.now += 2
    assert len(queued(inbox)) == 1
    assert (sampler.stats.grabbed, sampler.stats.unchanged) == (3, 2)

    xvfb.show_window(ORANGE, 0, 0, 400, 480)
    sampler.tick()
    (changed,) = queued(inbox)
    assert colour(changed) == ORANGE


def test_a_still_screen_is_queued_again_at_each_heartbeat(
    xvfb: Xvfb, make_sampler: MakeSampler, inbox: EncodeInbox, clock: Clock
) -> None:
    xvfb.fill(GREY)
    sampler = make_sampler()
    sampler.tick()
    clock.now += 30
    sampler.tick()
    clock.now += 31  # 61 s after the kept frame: re-confirm the still screen
    sampler.tick()
    assert [f.captured_at_ms for f in queued(inbox)] == [int(T0 * 1000), int((T0 + 61) * 1000)]


def test_paused_sampler_does_not_grab(
    xvfb: Xvfb, make_sampler: MakeSampler, inbox: EncodeInbox, pause: PauseSwitch
) -> None:
    xvfb.fill(GREY)
    pause.pause()
    sampler = make_sampler()
    sampler.tick()
    assert sampler.stats.paused and sampler.stats.grabbed == 0 and queued(inbox) == []

    xvfb.kill()  # not even an attempt: a grab would have found the display gone
    sampler.tick()
    assert sampler.stats.grabbed == 0 and sampler.stats.display_error == ""


def test_capture_resumes_after_resume(
    xvfb: Xvfb, make_sampler: MakeSampler, inbox: EncodeInbox, pause: PauseSwitch, clock: Clock
) -> None:
    xvfb.fill(GREY)
    pause.pause()
    sampler = make_sampler()
    sampler.tick()
    pause.resume()
    clock.now += 2
    sampler.tick()
    assert not sampler.stats.paused and len(queued(inbox)) == 1


def test_a_pause_for_a_while_ends_by_the_samplers_clock(
    xvfb: Xvfb, make_sampler: MakeSampler, inbox: EncodeInbox, pause: PauseSwitch, clock: Clock
) -> None:
    xvfb.fill(GREY)
    until_ms = pause.pause(for_s=30).until_ms
    assert until_ms is not None
    sampler = make_sampler()
    clock.now = until_ms / 1000 - 1
    sampler.tick()
    assert sampler.stats.paused and queued(inbox) == []
    clock.now = until_ms / 1000
    sampler.tick()
    assert not sampler.stats.paused and len(queued(inbox)) == 1


def test_no_grab_while_housekeeping_forbids_capture(
    xvfb: Xvfb, make_sampler: MakeSampler, inbox: EncodeInbox, clock: Clock
) -> None:
    xvfb.fill(GREY)
    allowed = [False]
    sampler = make_sampler(capture_allowed=lambda: allowed[0])
    sampler.tick()
    assert sampler.stats.grabbed == 0 and queued(inbox) == []
    allowed[0] = True
    clock.now += 2
    sampler.tick()
    assert len(queued(inbox)) == 1


def test_excluded_windows_are_counted_and_not_queued(
    xvfb: Xvfb, make_sampler: MakeSampler, inbox: EncodeInbox, clock: Clock
) -> None:
    xvfb.fill(GREY)
    secret = xvfb.show_window(ORANGE, 0, 0, 640, 480, title="Vault", app="KeePassXC")
    xvfb.set_active(secret)
    sampler = make_sampler(exclude_apps=("^KeePass",))
    sampler.tick()
    assert sampler.stats.excluded == 1 and queued(inbox) == []

    editor = xvfb.show_window(PURPLE, 0, 0, 640, 480, title="notes", app="Code")
    xvfb.set_active(editor)
    clock.now += 2
    sampler.tick()
    (frame,) = queued(inbox)
    assert frame.window.app == "Code" and colour(frame) == PURPLE


def test_no_display_at_all_is_reported_not_raised(
    make_sampler: MakeSampler, inbox: EncodeInbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    sampler = make_sampler()
    sampler.tick()
    assert "DISPLAY is not set" in sampler.stats.display_error
    assert queued(inbox) == []


def test_a_killed_display_backs_off_and_capture_resumes_when_it_is_back_under_the_same_name(
    xvfb: Xvfb, make_sampler: MakeSampler, inbox: EncodeInbox, clock: Clock
) -> None:
    xvfb.fill(GREY)
    sampler = make_sampler()
    sampler.tick()
    assert len(queued(inbox)) == 1

    xvfb.kill()
    clock.now = T0 + 1
    sampler.tick()  # fails: next try 1 s later
    assert xvfb.display in sampler.stats.display_error
    clock.now = T0 + 2
    sampler.tick()  # fails again: next try 2 s later, at T0 + 4
    grabbed = sampler.stats.grabbed

    with Xvfb(display=xvfb.display) as back:
        back.fill(ORANGE)
        clock.now = T0 + 3
        sampler.tick()  # the display is back, but the back-off is not over yet
        assert sampler.stats.grabbed == grabbed and sampler.stats.display_error
        assert queued(inbox) == []

        clock.now = T0 + 4
        sampler.tick()
        assert sampler.stats.display_error == ""
        (frame,) = queued(inbox)
        assert colour(frame) == ORANGE

    # Once a grab succeeded the back-off starts again from 1 s.
    clock.now = T0 + 5
    sampler.tick()
    assert sampler.stats.display_error
    with Xvfb(display=xvfb.display) as again:
        again.fill(PURPLE)
        clock.now = T0 + 6
        sampler.tick()
        (frame,) = queued(inbox)
        assert colour(frame) == PURPLE and sampler.stats.display_error == ""


def test_capture_resumes_on_a_new_display(
    xvfb: Xvfb, make_sampler: MakeSampler, inbox: EncodeInbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    xvfb.fill(GREY)
    sampler = make_sampler()
    sampler.tick()
    xvfb.kill()
    clock.now = T0 + 1
    sampler.tick()
    assert sampler.stats.display_error

    with Xvfb(320, 240) as replacement:
        monkeypatch.setenv("DISPLAY", replacement.display)
        replacement.fill(TEAL)
        clock.now = T0 + 2
        sampler.tick()
        frames = queued(inbox)
    assert [f.size for f in frames] == [(640, 480), (320, 240)]
    assert colour(frames[-1]) == TEAL and sampler.stats.display_error == ""
    assert np.asarray(frames[-1].pixels).shape == (240, 320, 3)
