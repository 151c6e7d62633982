"""Wayland capture without the portal on wlroots compositors (Sway, Hyprland, river, labwc): `grim`,
which speaks wlr-screencopy, once per grab.

A fallback, not the default: every grab starts a process and copies the whole output (20-55 ms
here), so a still screen costs a few percent of a core at 1 Hz where the portal's silent stream
costs nothing. With Sway's IPC each output is its own monitor; elsewhere the whole layout is one.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from collections.abc import Sequence

import numpy as np

from screenrecall.capture.screen import DisplayUnavailable
from screenrecall.capture.shots import Shot, grab_round
from screenrecall.capture.sway import Output, SwayProbe
from screenrecall.capture.window import UNKNOWN_WINDOW
from screenrecall.pipeline.messages import Frame, Pixels, Window

logger = logging.getLogger(__name__)

GRIM = "grim"
_GRIM_TIMEOUT_S = 5.0


WHOLE_LAYOUT = Output("", "")


class GrimGrabber:
    """Same contract as ScreenGrabber: grab(now_ms) -> frames, close(). Used from one thread."""

    def __init__(
        self, monitors: Sequence[int] = (), probe: SwayProbe | None = None, *, unknown_windows: str = "pause"
    ) -> None:
        self._selected = tuple(monitors)
        self._probe = probe
        self._unknown = UNKNOWN_WINDOW if unknown_windows != "capture" else Window()

    @property
    def has_window_source(self) -> bool:
        return self._probe is not None

    def grab(self, now_ms: int) -> list[Frame]:
        outputs = self._outputs()
        return grab_round(functools.partial(_grim_each, outputs), self._window, self._unknown, self._selected, now_ms)

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()

    def _outputs(self) -> list[Output]:
        """The outputs left to right (one nameless one = the whole layout, when nobody can list them)."""
        if self._probe is None:
            return [WHOLE_LAYOUT]
        outputs = self._probe.outputs()
        if outputs is None:
            raise DisplayUnavailable("Sway's IPC does not answer: cannot list the outputs to capture")
        return outputs or [WHOLE_LAYOUT]

    def _window(self) -> Window | None:
        return self._probe.current() if self._probe is not None else None


def _grim_each(outputs: list[Output]) -> list[Shot]:
    return [(number, _grim(output.name), output.geometry) for number, output in enumerate(outputs, 1)]


def _grim(output: str) -> Pixels:
    command = [GRIM, *(["-o", output] if output else []), "-t", "ppm", "-"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=_GRIM_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DisplayUnavailable(f"grim failed: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()[-300:]
        raise DisplayUnavailable(f"grim cannot capture (wlr-screencopy missing?): {message}")
    return _ppm(done.stdout)


def _ppm(data: bytes) -> Pixels:
    """A binary P6 PPM (8-bit) as a read-only RGB array."""
    fields: list[bytes] = []
    at = 0
    while len(fields) < 4:
        while data[at : at + 1].isspace():
            at += 1
        if data[at : at + 1] == b"#":
            at = data.index(b"\n", at) + 1
            continue
        end = at
        while end < len(data) and not data[end : end + 1].isspace():
            end += 1
        fields.append(data[at:end])
        at = end
    magic, width, height, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic != b"P6" or maxval != 255:
        raise DisplayUnavailable(f"grim wrote an unexpected image ({magic!r}, maxval {maxval})")
    pixels = np.frombuffer(data, dtype=np.uint8, count=width * height * 3, offset=at + 1)
    pixels = pixels.reshape(height, width, 3)
    pixels.flags.writeable = False
    return pixels
