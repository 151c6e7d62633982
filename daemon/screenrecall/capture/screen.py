"""Grabs each selected monitor of the X display as an RGB Frame, excluded windows blacked out, each
frame labelled with the window its monitor shows."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence

import mss
import numpy as np
from mss.models import Monitor
from numpy.typing import NDArray

from screenrecall.capture.layout import Layout, Rect, boxes_on, label_for, visible_parts
from screenrecall.capture.window import UNKNOWN_WINDOW, WindowProbe
from screenrecall.errors import ScreenrecallError
from screenrecall.pipeline.messages import Box, Frame, Pixels, Window, geometry_of

logger = logging.getLogger(__name__)

# No channel above this anywhere = nothing on screen. XWayland and locked or blanked outputs
# return exact zeros; a few levels of slack cover dithered blank screens.
_BLACK_MAX = 3
_BLACK_SAMPLES_PER_AXIS = 64
# How often the monitor layout is re-read by re-opening mss (~1.5 ms to connect plus ~10 ms for
# the first grab's shared memory on 1080p): a plugged-in monitor shows up within this time.
LAYOUT_CHECK_S = 10.0

# mss 10.2 raises ScreenShotError for X errors, but on a connection whose server died its
# XCB reply helper fails an `assert reply_p` (mss/linux/xcbhelpers.py) instead.
_GRAB_FAILURES = (mss.ScreenShotError, AssertionError)

_CAPTURE_OFF_HINT = "or turn screen capture off ([capture] enabled = false) and keep watching folders"


class DisplayUnavailable(ScreenrecallError):  # noqa: N818 - the name the pipeline's contract uses
    """There is no X display to capture (not set, native Wayland, or the server went away)."""


def check_session(environ: Mapping[str, str]) -> None:
    """Fails fast, with a message a user can act on, when this session cannot be captured."""
    problem = _display_problem(environ)
    if problem:
        raise DisplayUnavailable(problem)
    if _is_wayland(environ):
        logger.warning(
            "Wayland session: capturing through XWayland (DISPLAY=%s) sees X11 apps only and "
            "whole-screen grabs may come back black (black frames are skipped, not stored)",
            environ["DISPLAY"],
        )


def _is_wayland(environ: Mapping[str, str]) -> bool:
    return environ.get("XDG_SESSION_TYPE", "").lower() == "wayland" or bool(environ.get("WAYLAND_DISPLAY"))


def _display_problem(environ: Mapping[str, str]) -> str:
    if environ.get("DISPLAY"):
        return ""
    if _is_wayland(environ):
        return (
            "mss cannot capture native Wayland; this is a Wayland session with no X display "
            "(DISPLAY is not set). Log in to an X11 session to capture the screen, " + _CAPTURE_OFF_HINT + "."
        )
    return (
        "no X display: DISPLAY is not set. Run screenrecall inside an X11 session (for the systemd "
        "user service: `systemctl --user import-environment DISPLAY XAUTHORITY` from that session), "
        + _CAPTURE_OFF_HINT
        + "."
    )


def is_all_black(pixels: Pixels) -> bool:
    """True when the frame shows nothing (every channel <= 3). Cheap on frames with content."""
    if pixels.size == 0:
        return True
    height, width = pixels.shape[:2]
    step_y = max(1, height // _BLACK_SAMPLES_PER_AXIS)
    step_x = max(1, width // _BLACK_SAMPLES_PER_AXIS)
    if int(pixels[::step_y, ::step_x].max()) > _BLACK_MAX:
        return False
    # The strided sample can miss sparse content (a prompt on a black terminal): confirm on
    # every pixel, which costs ~0.3 ms at 1080p and runs only for black-looking frames.
    return int(pixels.max()) <= _BLACK_MAX


class Backoff:
    """Delays between attempts to reach a display that is gone: 1 s doubling up to 60 s."""

    def __init__(self, initial_s: float = 1.0, max_s: float = 60.0) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._next_s = initial_s

    def next_delay(self) -> float:
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self._max_s)
        return delay

    def reset(self) -> None:
        self._next_s = self._initial_s


class ScreenGrabber:
    """Grabs the selected monitors (1-based; empty = all) with mss, from one thread.

    The mss object is created lazily by the first grab() and belongs to that thread: mss on X11
    must not be shared across threads. It is re-created every layout_check_s (measured in the
    now_ms passed to grab) so monitor changes are seen, and once more when a grab fails (a
    smaller screen, or a bigger one that outgrew mss's shared-memory buffer); if that fails too,
    the display is gone and grab() raises DisplayUnavailable.

    Every visible window that `excluded` matches is blacked out on every frame it shows on, before
    the frame leaves grab(). Each frame is labelled with its own monitor's window (label_for), or
    UNKNOWN_WINDOW when the window list cannot be read or changed during the grab.

    Takes ownership of the probe: close() closes it.
    """

    def __init__(
        self,
        monitors: Sequence[int] = (),
        probe: WindowProbe | None = None,
        layout_check_s: float = LAYOUT_CHECK_S,
        excluded: Callable[[Window], bool] | None = None,
    ) -> None:
        self._selected = tuple(monitors)
        self._probe = probe
        self._excluded = excluded
        self._layout_check_ms = layout_check_s * 1000.0
        self._sct: mss.MSS | None = None
        self._owner: int | None = None
        self._opened_ms = 0
        self._layout: tuple[tuple[int, int, int, int], ...] = ()

    def grab(self, now_ms: int) -> list[Frame]:
        """One Frame per selected monitor that shows something; all-black grabs are skipped."""
        self._refresh_if_due(now_ms)
        self._open(now_ms)  # no display, no point asking the probe (it would only fail too)
        before = self._windows()
        shots = self._grab_with_retry(now_ms)
        # The windows are read on both sides of the grab: what moved in between is hidden at both
        # places, and a monitor whose window changed is labelled unknown (privacy then drops it).
        after = self._windows(after_grab=True)
        hidden = self._hidden(before, after)
        frames = []
        for number, rect, shot in shots:
            if is_all_black(shot):
                logger.debug("monitor %d is all black; frame skipped", number)
                continue
            window = _label(before, after, rect)
            boxes = boxes_on(rect, hidden)
            pixels = blacked_out(shot, boxes) if boxes else shot
            if boxes and is_all_black(pixels):
                window = UNKNOWN_WINDOW  # nothing left but what was hidden: privacy drops and counts it
            place = geometry_of(*rect)
            frames.append(Frame(pixels, now_ms, "screen", monitor=number, window=window, geometry=place))
        return frames

    def _hidden(self, before: Layout | None, after: Layout | None) -> list[Rect]:
        if self._excluded is None:
            return []
        return [*visible_parts(before or (), self._excluded), *visible_parts(after or (), self._excluded)]

    def close(self) -> None:
        """Releases the X connections; call after the grabbing thread has stopped."""
        self._close_mss()
        if self._probe is not None:
            self._probe.close()

    def _refresh_if_due(self, now_ms: int) -> None:
        elapsed_ms = now_ms - self._opened_ms
        # A negative elapsed time is a wall-clock step back: re-read rather than wait it out.
        if self._sct is not None and (elapsed_ms >= self._layout_check_ms or elapsed_ms < 0):
            self._close_mss()

    def _grab_with_retry(self, now_ms: int) -> list[tuple[int, Rect, Pixels]]:
        try:
            return self._grab_selected(self._open(now_ms))
        except _GRAB_FAILURES as exc:
            logger.debug("grab failed (%s); re-reading the display", _describe(exc))
            self._close_mss()
        try:
            return self._grab_selected(self._open(now_ms))
        except _GRAB_FAILURES as exc:
            self._close_mss()
            raise DisplayUnavailable(f"cannot grab the X display {_display_name()!r}: {_describe(exc)}") from exc

    def _open(self, now_ms: int) -> mss.MSS:
        me = threading.get_ident()
        if self._sct is not None:
            if self._owner != me:
                raise RuntimeError("ScreenGrabber.grab() called from two threads; mss must stay in one")
            return self._sct
        problem = _display_problem(os.environ)
        if problem:
            raise DisplayUnavailable(problem)
        try:
            sct = mss.MSS()
            monitors = sct.monitors
        except (mss.ScreenShotError, OSError) as exc:
            raise DisplayUnavailable(f"cannot connect to the X display {_display_name()!r}: {exc}") from exc
        self._sct, self._owner, self._opened_ms = sct, me, now_ms
        self._note_layout(monitors)
        return sct

    def _grab_selected(self, sct: mss.MSS) -> list[tuple[int, Rect, Pixels]]:
        shots = []
        for number, monitor in self._selected_monitors(sct.monitors):
            shot = sct.grab(monitor)
            bgra = np.frombuffer(shot.raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)
            rect = (monitor["left"], monitor["top"], monitor["width"], monitor["height"])
            shots.append((number, rect, _rgb(bgra)))
        return shots

    def _selected_monitors(self, monitors: Sequence[Monitor]) -> list[tuple[int, Monitor]]:
        # monitors[0] is the union of all; without RandR mss lists nothing else, and the whole
        # screen is then the one monitor.
        each = list(monitors[1:]) or list(monitors[:1])
        numbers = self._selected or range(1, len(each) + 1)
        return [(n, each[n - 1]) for n in numbers if 1 <= n <= len(each)]

    def _note_layout(self, monitors: Sequence[Monitor]) -> None:
        layout = tuple((m["left"], m["top"], m["width"], m["height"]) for m in monitors[1:] or monitors[:1])
        if layout == self._layout:
            return
        self._layout = layout
        described = ", ".join(f"{n}: {w}x{h}+{x}+{y}" for n, (x, y, w, h) in enumerate(layout, 1))
        logger.info("screen layout: %d monitor(s) (%s)", len(layout), described)
        missing = [n for n in self._selected if not 1 <= n <= len(layout)]
        if missing:
            logger.warning("configured monitor(s) %s not present; they are not captured", missing)

    def _windows(self, after_grab: bool = False) -> Layout | None:
        return self._probe.layout(reuse_names=after_grab) if self._probe is not None else None

    def _close_mss(self) -> None:
        sct, self._sct, self._owner = self._sct, None, None
        if sct is not None:
            try:
                sct.close()
            except (mss.ScreenShotError, OSError) as exc:
                logger.debug("closing mss failed: %s", exc)


def _rgb(bgra: NDArray[np.uint8]) -> Pixels:
    """BGRA (mss) read as RGB without copying: a reversed-channel, read-only view.

    Most grabs are dropped by the gate, which samples only a small grid, so the full-frame copy
    (~2-3 ms at 1080p) is paid only for kept frames, by owned_rgb(), before the next grab can
    reuse mss's buffer.
    """
    view = bgra[..., 2::-1]
    view.flags.writeable = False  # frames are immutable messages
    return view


def _label(before: Layout | None, after: Layout | None, monitor: Rect) -> Window:
    if before is None or after is None:
        return UNKNOWN_WINDOW
    window = label_for(before, monitor)
    return window if window == label_for(after, monitor) else UNKNOWN_WINDOW


def blacked_out(pixels: Pixels, boxes: Sequence[Box]) -> Pixels:
    """A read-only copy with these boxes black: the original (mss's buffer) is never written."""
    out = np.array(pixels, dtype=np.uint8, order="C")
    for x0, y0, x1, y1 in boxes:
        out[y0:y1, x0:x1] = 0
    out.flags.writeable = False
    return out


def owned_rgb(pixels: Pixels) -> Pixels:
    """A C-contiguous, read-only RGB copy of a grabbed frame, channel by channel (the fast way)."""
    if pixels.flags.c_contiguous and pixels.base is None:
        return pixels
    rgb = np.empty(pixels.shape, dtype=np.uint8)
    for channel in range(3):
        rgb[..., channel] = pixels[..., channel]
    rgb.flags.writeable = False
    return rgb


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AssertionError):
        return "the X connection was lost"
    return str(exc) or type(exc).__name__


def _display_name() -> str:
    return os.environ.get("DISPLAY", "")
