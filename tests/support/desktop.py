"""A real desktop on a test Xvfb: the openbox window manager (EWMH) and xterm windows moved with xdotool."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from types import TracebackType

from Xlib import display as xdisplay

_TIMEOUT_S = 15.0


class Desktop:
    """`with Desktop(xvfb.display) as desk:` runs openbox; `desk.xterm(...)` opens windows on it."""

    def __init__(self, display: str) -> None:
        assert shutil.which("openbox"), "openbox is needed (Debian package openbox)"
        assert shutil.which("xdotool"), "xdotool is needed (Debian package xdotool)"
        self.display = display
        self.env = {**os.environ, "DISPLAY": display}
        self._wm: subprocess.Popen[bytes] | None = None
        self._clients: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Desktop:
        self._wm = subprocess.Popen(
            ["openbox", "--sm-disable"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_for_wm()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for process in [*self._clients, *([self._wm] if self._wm else [])]:
            if process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)

    def _wait_for_wm(self) -> None:
        conn = xdisplay.Display(self.display)
        try:
            check = conn.intern_atom("_NET_CLIENT_LIST_STACKING")
            deadline = time.monotonic() + _TIMEOUT_S
            while conn.screen().root.get_full_property(check, 0) is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("openbox did not start")
                time.sleep(0.05)
        finally:
            conn.close()

    def xterm(
        self,
        title: str,
        app: str,
        background: str,
        rect: tuple[int, int, int, int],
        *,
        command: Sequence[str] = ("sleep", "600"),
        options: Sequence[str] = (),
    ) -> int:
        """An xterm with this title and WM_CLASS class, moved to x, y (its frame's corner) and sized
        w x h (the xterm itself), running command (more xterm options, e.g. a font, in options);
        returns its id. It is stopped when the desktop is."""
        x, y, w, h = rect
        line = ["xterm", "-class", app, "-title", title, "-bg", background, "-geometry", "20x5+0+0", *options]
        process = subprocess.Popen(
            [*line, "-e", *command],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._clients.append(process)
        found = self.xdotool("search", "--sync", "--onlyvisible", "--pid", str(process.pid))
        window = int(found.split()[0])
        self.xdotool("windowsize", "--sync", str(window), str(w), str(h))
        self.xdotool("windowmove", "--sync", str(window), str(x), str(y))
        return window

    def activate(self, window: int) -> None:
        self.xdotool("windowactivate", "--sync", str(window))

    def move(self, window: int, x: int, y: int) -> None:
        self.xdotool("windowmove", "--sync", str(window), str(x), str(y))

    def xdotool(self, *args: str) -> str:
        result = subprocess.run(
            ["xdotool", *args], env=self.env, capture_output=True, text=True, check=True, timeout=_TIMEOUT_S
        )
        time.sleep(0.05)  # let the window manager finish redrawing its frames
        return result.stdout


@contextlib.contextmanager
def terminal(display: str, script: str, title: str = "") -> Iterator[subprocess.Popen[bytes]]:
    """A 70x10 xterm at the top left (white DejaVu Sans Mono 14 on black) running a shell script."""
    named = ["-T", title] if title else []
    process = subprocess.Popen(
        ["xterm", "-display", display, "-geometry", "70x10+0+0", "-fa", "DejaVu Sans Mono", "-fs", "14",
         "-bg", "black", "-fg", "white", *named, "-e", "sh", "-c", script],
    )  # fmt: skip
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)
