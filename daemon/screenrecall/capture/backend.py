"""Which screen-capture backend runs (capture.backend = auto | x11 | portal | wlroots), chosen once at
start, and the one interface every backend offers the sampler: grab(now_ms) -> frames, close()."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from screenrecall.capture.screen import DisplayUnavailable, ScreenGrabber, check_session
from screenrecall.capture.window import WindowProbe
from screenrecall.config import Config
from screenrecall.pipeline.messages import Frame, Window

logger = logging.getLogger(__name__)

PORTAL_NEEDS = (
    "the portal backend needs the Python extra (pip install 'screenrecall[wayland]'), GStreamer's "
    "gst-launch-1.0 with its PipeWire plugin and an xdg-desktop-portal for this desktop; see the README"
)


class Grabber(Protocol):
    def grab(self, now_ms: int) -> list[Frame]: ...

    def close(self) -> None: ...


class BlindGrabber:
    """Stands in when capturing would break the user's exclusions: every grab says why, nothing is taken."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def grab(self, now_ms: int) -> list[Frame]:
        raise DisplayUnavailable(self.reason)

    def close(self) -> None:
        return


def is_wayland(environ: Mapping[str, str]) -> bool:
    return environ.get("XDG_SESSION_TYPE", "").lower() == "wayland" or bool(environ.get("WAYLAND_DISPLAY"))


def wayland_socket(environ: Mapping[str, str]) -> str:
    """The compositor's socket when it exists ("" otherwise): what grim connects to."""
    name = environ.get("WAYLAND_DISPLAY", "")
    if not name:
        return ""
    path = Path(name) if name.startswith("/") else Path(environ.get("XDG_RUNTIME_DIR", "/nonexistent")) / name
    return str(path) if path.is_socket() else ""


def portal_missing(environ: Mapping[str, str]) -> str:
    """What the portal backend lacks here ("" = it can be tried)."""
    if importlib.util.find_spec("jeepney") is None:
        return "the Python package jeepney is not installed"
    if shutil.which("gst-launch-1.0", path=environ.get("PATH")) is None:
        return "gst-launch-1.0 is not on PATH"
    from screenrecall.capture.portal_session import session_bus_address  # jeepney, checked above

    if not session_bus_address(environ):
        return "there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set, no $XDG_RUNTIME_DIR/bus)"
    return ""


def choose(config: Config, environ: Mapping[str, str]) -> str:
    """The backend to run: the configured one, or for auto the one this session needs."""
    wanted = config.capture.backend
    if wanted != "auto":
        return wanted
    if not is_wayland(environ):
        return "x11"
    missing = portal_missing(environ)
    if not missing:
        return "portal"
    if wayland_socket(environ) and shutil.which("grim", path=environ.get("PATH")) is not None:
        logger.warning("Wayland session but %s: capturing with grim (wlroots screencopy) instead", missing)
        return "wlroots"
    if environ.get("DISPLAY"):
        logger.warning("Wayland session but %s (%s): falling back to XWayland", missing, PORTAL_NEEDS)
        return "x11"
    raise DisplayUnavailable(f"this Wayland session cannot be captured: {missing}; {PORTAL_NEEDS}")


def open_grabber(
    config: Config, environ: Mapping[str, str], excluded: Callable[[Window], bool] | None = None
) -> Grabber:
    """The chosen backend, ready for the sampler; fails fast on a session it cannot capture at all.

    excluded: which windows to black out where the backend can see every window (X11)."""
    backend = choose(config, environ)
    logger.info("screen capture backend: %s", backend)
    if backend == "x11":
        check_session(environ)
        return ScreenGrabber(config.capture.monitors, WindowProbe(), excluded=excluded)
    if backend == "wlroots":
        if shutil.which("grim", path=environ.get("PATH")) is None:
            raise DisplayUnavailable("capture.backend = 'wlroots' needs grim (wlr-screencopy) on PATH")
    else:
        missing = portal_missing(environ)
        if missing:
            raise DisplayUnavailable(f"capture.backend = 'portal' but {missing}; {PORTAL_NEEDS}")
    return _wayland(backend, config, environ)


def _wayland(backend: str, config: Config, environ: Mapping[str, str]) -> Grabber:
    from screenrecall.capture.sway import SwayProbe, sway_socket

    socket = sway_socket(environ)
    probe = SwayProbe(socket) if socket else None
    privacy = config.privacy
    if probe is None:
        logger.warning("this desktop does not say which window is focused: records carry an unknown window")
        if (privacy.exclude_apps or privacy.exclude_titles) and privacy.unknown_windows == "pause":
            reason = (
                "capture paused: window exclusions are configured, but this Wayland desktop cannot say "
                "which windows are on screen, so they cannot be honoured. Set [privacy] "
                'unknown_windows = "capture" to capture anyway (exclusions then cannot apply), or '
                "remove the exclusions"
            )
            logger.warning("%s", reason)
            return BlindGrabber(reason)
    if backend == "wlroots":
        from screenrecall.capture.wlroots import GrimGrabber

        return GrimGrabber(config.capture.monitors, probe, unknown_windows=privacy.unknown_windows)
    from screenrecall.capture.portal import PortalGrabber  # jeepney: only with the wayland extra
    from screenrecall.capture.portal_session import session_bus_address

    return PortalGrabber(
        config.capture.monitors,
        probe,
        unknown_windows=privacy.unknown_windows,
        bus_address=session_bus_address(environ),
    )
