"""The portal backend on a real headless Wayland desktop: one cast, Sway labels, recovery."""

from __future__ import annotations

import logging
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from screenrecall.capture.portal import PortalGrabber, RestoreToken
from screenrecall.capture.screen import DisplayUnavailable
from screenrecall.capture.sway import SwayProbe
from screenrecall.capture.window import is_known
from screenrecall.capture.wlroots import GrimGrabber
from screenrecall.pipeline.messages import Frame
from tests.support.wayland import WaylandWorld, missing_programs

pytestmark = [pytest.mark.slow, pytest.mark.wayland]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[WaylandWorld]:
    missing = missing_programs()
    assert not missing, f"the Wayland test world needs {missing} (scripts/test installs them)"
    with WaylandWorld() as running:
        for name in ("DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY", "SWAYSOCK", "XDG_SESSION_TYPE"):
            monkeypatch.setenv(name, running.env[name])
        monkeypatch.delenv("DISPLAY", raising=False)
        # Our XDG_RUNTIME_DIR is the test's own: name the compositor's socket by its full path.
        monkeypatch.setenv("WAYLAND_DISPLAY", str(running.runtime / running.env["WAYLAND_DISPLAY"]))
        yield running


@pytest.fixture
def token(tmp_path: Path) -> RestoreToken:
    return RestoreToken(tmp_path / "data" / "portal-restore-token")


@pytest.fixture
def grabber(world: WaylandWorld, token: RestoreToken) -> Iterator[PortalGrabber]:
    grabbing = PortalGrabber((), SwayProbe(world.env["SWAYSOCK"]), token)
    yield grabbing
    grabbing.close()


def _grab_until(
    grabber: PortalGrabber,
    rgb: tuple[int, int, int] | None = None,
    timeout_s: float = 30.0,
    damage: Callable[[], None] | None = None,
) -> Frame:
    """Grabs like the sampler (every 0.2 s, failures retried) until a frame shows `rgb` at (5, 5).

    damage: repaints the screen each second without a frame: a new cast of a still screen sends
    nothing until something changes.
    """
    deadline = time.monotonic() + timeout_s
    last = ""
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        if damage is not None and tries % 5 == 0:
            damage()
        try:
            frames = grabber.grab(int(time.time() * 1000))
        except DisplayUnavailable as exc:
            last = str(exc)
            frames = []
        if frames and (rgb is None or tuple(int(c) for c in frames[0].pixels[5, 5]) == rgb):
            return frames[0]
        time.sleep(0.2)
    raise AssertionError(f"no frame showing {rgb} within {timeout_s:.0f} s (last problem: {last or 'none'})")


def test_one_cast_gives_the_monitor_labelled_by_sway_and_a_still_screen_repeats_its_frame(
    world: WaylandWorld, grabber: PortalGrabber, token: RestoreToken
) -> None:
    world.show_text("labels from sway", app_id="label-check")
    frame = _grab_until(grabber, damage=lambda: world.type("label-check", "more"))
    assert frame.source == "screen" and frame.monitor == 1
    assert frame.size == (world.width, world.height)
    assert frame.window.app == "label-check"
    # Nothing changed: the stream stays silent and the grab repeats the same frame (the gate's
    # "unchanged"), without a new cast.
    again = grabber.grab(int(time.time() * 1000))
    assert len(again) == 1 and np.array_equal(again[0].pixels, frame.pixels)
    assert grabber.opened == 1
    assert token.load() and stat.S_IMODE(token.path.stat().st_mode) == 0o600


def test_a_changed_screen_arrives_without_waiting_for_the_grab(world: WaylandWorld, grabber: PortalGrabber) -> None:
    _grab_until(grabber, damage=lambda: world.set_background("#203040"))
    world.set_background("#ff8000")
    started = time.monotonic()
    _grab_until(grabber, (255, 128, 0), timeout_s=10)
    assert time.monotonic() - started < 5
    assert grabber.opened == 1


def test_a_pipewire_restart_is_detected_and_the_cast_reopened(
    world: WaylandWorld, grabber: PortalGrabber, caplog: pytest.LogCaptureFixture
) -> None:
    _grab_until(grabber, damage=lambda: world.set_background("#203040"))
    world.stop_pipewire()
    with pytest.raises(DisplayUnavailable, match="PipeWire went away"):
        _grab_once_after(grabber, 0.5)
    world.restart_after_pipewire()
    world.set_background("#00ff00")
    with caplog.at_level(logging.INFO, logger="screenrecall.capture.portal"):
        _grab_until(grabber, (0, 255, 0), damage=lambda: world.set_background("#00ff00"))
    assert grabber.opened == 2
    assert "screen cast started" in caplog.text


def test_a_closed_portal_session_is_reopened_with_the_saved_token_and_no_new_consent(
    world: WaylandWorld, grabber: PortalGrabber, token: RestoreToken, caplog: pytest.LogCaptureFixture
) -> None:
    _grab_until(grabber, damage=lambda: world.set_background("#203040"))
    saved = token.load()
    world.stop_portal()
    world.start_portal()
    with pytest.raises(DisplayUnavailable, match="closed the screen-cast session"):
        _grab_once_after(grabber, 0.5)
    world.set_background("#0000ff")
    with caplog.at_level(logging.INFO, logger="screenrecall.capture.portal"):
        _grab_until(grabber, (0, 0, 255), damage=lambda: world.set_background("#0000ff"))
    assert grabber.opened == 2 and grabber.token_reused
    assert token.load() == saved
    assert "reusing the saved screen-cast permission" in caplog.text


def test_a_token_the_portal_no_longer_honours_is_replaced_and_said_once(
    world: WaylandWorld, token: RestoreToken, caplog: pytest.LogCaptureFixture
) -> None:
    token.save("00000000-0000-0000-0000-000000000000")
    grabbing = PortalGrabber((), None, token, unknown_windows="pause")
    try:
        with caplog.at_level(logging.INFO, logger="screenrecall.capture.portal"):
            frame = _grab_until(grabbing, damage=lambda: world.set_background("#203040"))
    finally:
        grabbing.close()
    assert caplog.text.count("not accepted") == 1
    assert token.load() not in ("", "00000000-0000-0000-0000-000000000000")
    assert not grabbing.token_reused
    # No Sway probe: the window is unknown, so exclusions would drop the frame.
    assert not is_known(frame.window)


def _grab_once_after(grabber: PortalGrabber, delay_s: float) -> None:
    time.sleep(delay_s)
    grabber.grab(int(time.time() * 1000))


def test_grim_on_wlroots_gives_the_same_frame_and_label_as_the_portal(
    world: WaylandWorld, grabber: PortalGrabber
) -> None:
    world.show_text("same through both paths", app_id="both-paths")
    through_portal = _grab_until(grabber, damage=lambda: world.type("both-paths", "typed"))
    time.sleep(0.5)  # foot has drawn its text: both paths see the settled screen
    through_portal = _grab_until(grabber)
    grim = GrimGrabber((), SwayProbe(world.env["SWAYSOCK"]))
    try:
        through_grim = grim.grab(int(time.time() * 1000))
    finally:
        grim.close()
    assert [f.monitor for f in through_grim] == [1]
    assert through_grim[0].window == through_portal.window
    assert through_grim[0].window.app == "both-paths"
    assert through_grim[0].size == through_portal.size
    assert through_grim[0].geometry == through_portal.geometry == "1280x720+0+0"  # Sway's output, the portal's stream
    difference = np.abs(through_grim[0].pixels.astype(np.int16) - through_portal.pixels.astype(np.int16))
    assert float(difference.mean()) < 1.0
