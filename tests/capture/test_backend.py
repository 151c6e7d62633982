"""Which capture backend runs: chosen by session type in auto, named otherwise; exclusions fail closed."""

from __future__ import annotations

import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from screenrecall.capture.backend import BlindGrabber, choose, open_grabber
from screenrecall.capture.portal import PortalGrabber, RestoreToken
from screenrecall.capture.screen import DisplayUnavailable, ScreenGrabber
from screenrecall.capture.wlroots import GrimGrabber, _ppm
from screenrecall.config import Config

WAYLAND = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-1", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}


def _config(**sections: dict[str, Any]) -> Config:
    return Config.model_validate(sections)


def _env(**extra: str) -> dict[str, str]:
    import os

    return {"PATH": os.environ["PATH"], **extra}


def test_auto_uses_x11_outside_wayland_and_the_portal_on_wayland() -> None:
    assert choose(_config(), _env(DISPLAY=":5")) == "x11"
    assert choose(_config(), _env(**WAYLAND)) == "portal"
    assert choose(_config(), _env(**WAYLAND, DISPLAY=":0")) == "portal"


def test_a_named_backend_is_used_whatever_the_session() -> None:
    assert choose(_config(capture={"backend": "x11"}), _env(**WAYLAND)) == "x11"
    assert choose(_config(capture={"backend": "portal"}), _env(DISPLAY=":5")) == "portal"


def test_wayland_without_gstreamer_falls_back_to_xwayland_or_says_what_to_install() -> None:
    no_tools = {**WAYLAND, "PATH": "/nonexistent"}
    assert choose(_config(), {**no_tools, "DISPLAY": ":0"}) == "x11"
    with pytest.raises(DisplayUnavailable, match=r"gst-launch-1\.0.*screenrecall\[wayland\]"):
        choose(_config(), no_tools)


def test_wayland_without_the_portal_tools_uses_grim_when_it_and_the_compositor_are_there(tmp_path: Path) -> None:
    grim = tmp_path / "grim"
    grim.write_text("#!/bin/sh\n")
    grim.chmod(0o755)
    no_portal = {**WAYLAND, "PATH": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    with pytest.raises(DisplayUnavailable, match="cannot be captured"):
        choose(_config(), no_portal)  # no compositor socket: nothing for grim to talk to
    with socket.socket(socket.AF_UNIX) as compositor:
        compositor.bind(str(tmp_path / "wayland-1"))
        assert choose(_config(), no_portal) == "wlroots"
        assert isinstance(open_grabber(_config(), no_portal), GrimGrabber)


def test_a_ppm_from_grim_is_read_as_rgb() -> None:
    pixels = _ppm(b"P6\n# grim\n2 1\n255\n" + bytes([255, 0, 0, 0, 0, 255]))
    assert pixels.shape == (1, 2, 3)
    assert pixels[0, 0].tolist() == [255, 0, 0] and pixels[0, 1].tolist() == [0, 0, 255]
    assert not pixels.flags.writeable


def test_x11_backend_still_fails_fast_without_a_display() -> None:
    with pytest.raises(DisplayUnavailable, match="DISPLAY is not set"):
        open_grabber(_config(capture={"backend": "x11"}), _env())


def test_the_portal_gets_sway_labels_where_sway_runs(tmp_path: Path) -> None:
    sock = tmp_path / "sway-ipc.sock"
    sock.touch()
    grabber = open_grabber(_config(), _env(**WAYLAND, SWAYSOCK=str(sock)))
    try:
        assert isinstance(grabber, PortalGrabber) and grabber.has_window_source
    finally:
        grabber.close()


def test_exclusions_on_a_desktop_that_cannot_name_windows_pause_capture_with_the_reason() -> None:
    config = _config(privacy={"exclude_apps": ["keepassxc"]})
    grabber = open_grabber(config, _env(**WAYLAND))
    assert isinstance(grabber, BlindGrabber)
    with pytest.raises(DisplayUnavailable, match='unknown_windows = "capture"'):
        grabber.grab(0)


def test_unknown_windows_capture_opts_out_of_the_pause() -> None:
    config = _config(privacy={"exclude_apps": ["keepassxc"], "unknown_windows": "capture"})
    grabber = open_grabber(config, _env(**WAYLAND))
    try:
        assert isinstance(grabber, PortalGrabber) and not grabber.has_window_source
    finally:
        grabber.close()


def test_without_exclusions_the_portal_runs_with_windows_unknown() -> None:
    grabber = open_grabber(_config(), _env(**WAYLAND))
    try:
        assert isinstance(grabber, PortalGrabber)
    finally:
        grabber.close()
    assert not isinstance(grabber, ScreenGrabber)


def test_the_restore_token_is_private_and_replaced_atomically(tmp_path: Path) -> None:
    token = RestoreToken(tmp_path / "data" / "screenrecall" / "portal-restore-token")
    assert token.load() == ""
    token.save("abc")
    token.save("def")
    assert token.load() == "def"
    assert stat.S_IMODE(token.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(token.path.parent.stat().st_mode) == 0o700
    assert [p.name for p in token.path.parent.iterdir()] == ["portal-restore-token"]
