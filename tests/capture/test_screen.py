"""Screen grabbing with mss on a real Xvfb: sizes, colours, monitors, black frames, lost displays."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from screenrecall.capture.screen import (
    Backoff,
    DisplayUnavailable,
    ScreenGrabber,
    check_session,
    is_all_black,
    owned_rgb,
)
from screenrecall.capture.window import WindowProbe, is_known
from screenrecall.pipeline.messages import Window
from tests.support.xvfb import Xvfb

RED = (255, 0, 0)
GREEN = (0, 200, 0)
BLUE = (0, 0, 255)


@pytest.fixture
def grabber(xvfb: Xvfb) -> Iterator[ScreenGrabber]:
    screen_grabber = ScreenGrabber(monitors=[], probe=WindowProbe())
    yield screen_grabber
    screen_grabber.close()


def colour_at(pixels: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    red, green, blue = (int(v) for v in pixels[y, x])
    return red, green, blue


@pytest.mark.display
def test_grab_returns_the_screen_as_rgb_at_its_size(xvfb: Xvfb, grabber: ScreenGrabber) -> None:
    xvfb.fill(RED)
    xvfb.show_window(BLUE, 100, 50, 40, 30)

    frames = grabber.grab(1_000)

    assert len(frames) == 1
    frame = frames[0]
    assert (frame.size, frame.source, frame.monitor, frame.captured_at_ms) == ((640, 480), "screen", 1, 1_000)
    assert frame.pixels.dtype == np.uint8 and frame.pixels.shape == (480, 640, 3)
    assert not frame.pixels.flags.writeable
    owned = owned_rgb(frame.pixels)
    assert owned.flags.c_contiguous and not owned.flags.writeable
    assert np.array_equal(owned, frame.pixels)
    assert colour_at(frame.pixels, 5, 5) == RED
    assert colour_at(frame.pixels, 120, 60) == BLUE
    assert colour_at(frame.pixels, 140, 80) == RED  # just outside the window


@pytest.mark.display
def test_grabs_every_monitor_when_none_are_selected(monkeypatch: pytest.MonkeyPatch) -> None:
    with Xvfb(320, 240, monitors=2) as server:
        monkeypatch.setenv("DISPLAY", server.display)
        server.fill(RED)
        server.show_window(GREEN, 320, 0, 320, 240)  # covers monitor 2 exactly
        grabber = ScreenGrabber(monitors=[])
        try:
            frames = grabber.grab(0)
        finally:
            grabber.close()

    assert [(f.monitor, f.size, f.geometry) for f in frames] == [
        (1, (320, 240), "320x240+0+0"),
        (2, (320, 240), "320x240+320+0"),
    ]
    assert colour_at(frames[0].pixels, 319, 239) == RED
    assert colour_at(frames[1].pixels, 0, 0) == GREEN


@pytest.mark.display
def test_grabs_only_the_selected_monitors(xvfb: Xvfb) -> None:
    xvfb.set_monitors([(0, 0, 200, 480), (200, 0, 440, 480)])
    xvfb.fill(RED)
    xvfb.show_window(BLUE, 200, 0, 440, 480)
    grabber = ScreenGrabber(monitors=[2])
    try:
        frames = grabber.grab(0)
    finally:
        grabber.close()

    assert [(f.monitor, f.size, f.geometry) for f in frames] == [(2, (440, 480), "440x480+200+0")]
    assert colour_at(frames[0].pixels, 0, 0) == BLUE


@pytest.mark.display
def test_missing_selected_monitor_is_skipped_with_a_warning(xvfb: Xvfb, caplog: pytest.LogCaptureFixture) -> None:
    xvfb.fill(RED)
    grabber = ScreenGrabber(monitors=[1, 3])
    try:
        frames = grabber.grab(0)
    finally:
        grabber.close()

    assert [f.monitor for f in frames] == [1]
    assert any(r.levelno == logging.WARNING and "[3]" in r.getMessage() for r in caplog.records)


@pytest.mark.display
def test_rereads_the_monitor_layout_after_layout_check_s(xvfb: Xvfb) -> None:
    xvfb.fill(RED)
    grabber = ScreenGrabber(monitors=[], layout_check_s=10)
    try:
        assert len(grabber.grab(0)) == 1
        xvfb.set_monitors([(0, 0, 320, 480), (320, 0, 320, 480)])
        assert len(grabber.grab(9_999)) == 1  # layout cached until the check is due
        frames = grabber.grab(10_000)
    finally:
        grabber.close()

    assert [(f.monitor, f.size) for f in frames] == [(1, (320, 480)), (2, (320, 480))]


@pytest.mark.display
def test_all_black_screen_is_skipped(xvfb: Xvfb, grabber: ScreenGrabber) -> None:
    xvfb.fill((0, 0, 0))
    assert grabber.grab(0) == []

    xvfb.show_window((200, 200, 200), 0, 0, 2, 2)  # tiny content: still a real screen
    assert len(grabber.grab(1)) == 1


def test_is_all_black_confirms_sparse_content_on_every_pixel() -> None:
    frame = np.zeros((1080, 1920, 3), dtype=np.uint8)
    assert is_all_black(frame)
    frame[1, 1, 2] = 3  # dithering-level noise is still black
    assert is_all_black(frame)
    frame[1001, 1001, 0] = 180  # one lit pixel between the sample strides
    assert not is_all_black(frame)


@pytest.mark.display
def test_frames_carry_the_active_window(xvfb: Xvfb, grabber: ScreenGrabber) -> None:
    xvfb.fill(RED)
    xvfb.set_active(xvfb.show_window(BLUE, 0, 0, 100, 100, title="Inbox — Mail", app="Thunderbird"))

    (frame,) = grabber.grab(0)

    assert frame.window == Window(title="Inbox — Mail", app="Thunderbird")
    assert is_known(frame.window)


@pytest.mark.display
def test_window_is_unknown_without_probe_or_a_readable_window_list(xvfb: Xvfb) -> None:
    # Without a window manager the X tree is read instead (tests/capture/test_visibility.py).
    xvfb.fill(RED)
    without_probe = ScreenGrabber(monitors=[])
    unreadable = ScreenGrabber(monitors=[], probe=WindowProbe(display=":65000"))
    try:
        (no_probe,) = without_probe.grab(0)
        (no_list,) = unreadable.grab(0)
    finally:
        without_probe.close()
        unreadable.close()

    assert not is_known(no_probe.window)
    assert not is_known(no_list.window)


@pytest.mark.display
def test_raises_display_unavailable_when_the_server_dies_and_recovers_after(
    xvfb: Xvfb, grabber: ScreenGrabber, monkeypatch: pytest.MonkeyPatch
) -> None:
    xvfb.fill(RED)
    assert len(grabber.grab(0)) == 1

    xvfb.kill()
    with pytest.raises(DisplayUnavailable, match="X display"):
        grabber.grab(1_000)
    with pytest.raises(DisplayUnavailable):
        grabber.grab(2_000)

    with Xvfb() as replacement:
        monkeypatch.setenv("DISPLAY", replacement.display)
        replacement.fill(GREEN)
        (frame,) = grabber.grab(3_000)
        grabber.close()
    assert colour_at(frame.pixels, 0, 0) == GREEN


def test_raises_display_unavailable_without_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    grabber = ScreenGrabber(monitors=[], probe=WindowProbe())

    with pytest.raises(DisplayUnavailable, match="DISPLAY is not set"):
        grabber.grab(0)
    grabber.close()


@pytest.mark.display
def test_refuses_a_grab_from_a_second_thread(xvfb: Xvfb, grabber: ScreenGrabber) -> None:
    xvfb.fill(RED)
    grabber.grab(0)
    errors: list[BaseException] = []

    def grab_elsewhere() -> None:
        try:
            grabber.grab(1)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=grab_elsewhere)
    thread.start()
    thread.join(timeout=10)

    assert len(errors) == 1 and "two threads" in str(errors[0])


def test_session_without_display_is_refused_with_the_reason() -> None:
    with pytest.raises(DisplayUnavailable, match="DISPLAY is not set"):
        check_session({})


@pytest.mark.parametrize(
    "environ", [{"XDG_SESSION_TYPE": "wayland"}, {"WAYLAND_DISPLAY": "wayland-0"}], ids=["session", "socket"]
)
def test_native_wayland_is_refused_with_the_reason(environ: dict[str, str]) -> None:
    with pytest.raises(DisplayUnavailable, match="mss cannot capture native Wayland"):
        check_session(environ)


def test_xwayland_is_accepted_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    check_session({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"})

    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "black" in caplog.records[0].getMessage()


def test_x11_session_is_accepted_quietly(caplog: pytest.LogCaptureFixture) -> None:
    check_session({"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0"})

    assert caplog.records == []


def test_backoff_doubles_from_one_second_to_a_minute_and_resets() -> None:
    backoff = Backoff()

    delays = [backoff.next_delay() for _ in range(9)]
    backoff.reset()

    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff.next_delay() == 1
