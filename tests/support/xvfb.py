"""A private Xvfb X server for tests, with helpers that put known content and monitors on it."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from Xlib import X, Xatom
from Xlib import display as xdisplay
from Xlib.protocol import rq

Color = tuple[int, int, int]
Rect = tuple[int, int, int, int]  # x, y, width, height

_START_TIMEOUT_S = 10.0


class _SetMonitor(rq.Request):  # type: ignore[misc]  # python-xlib is untyped
    # RandR 1.5 SetMonitor spelled out: python-xlib 0.33's own set_monitor() cannot pack its
    # MonitorInfo argument (rq.Object.pack_value returns the wrong arity).
    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(43),
        rq.RequestLength(),
        rq.Window("window"),
        rq.Card32("name"),
        rq.Bool("primary"),
        rq.Bool("automatic"),
        rq.LengthOf("outputs", 2),
        rq.Int16("x"),
        rq.Int16("y"),
        rq.Card16("width"),
        rq.Card16("height"),
        rq.Card32("width_mm"),
        rq.Card32("height_mm"),
        rq.List("outputs", rq.Card32Obj),
    )


class _DeleteMonitor(rq.Request):  # type: ignore[misc]  # python-xlib is untyped
    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(44),
        rq.RequestLength(),
        rq.Window("window"),
        rq.Card32("name"),
    )


class Xvfb:
    """`with Xvfb() as x:` runs a fresh server on a free display; `x.display` is ":N".

    Several monitors are RandR 1.5 monitors on one wide screen (what mss reads); Xvfb's own
    `-screen 0 -screen 1 +xinerama` does not work for this: mss ignores Xinerama and Xvfb's
    RandR then reports screen 0 only.
    """

    def __init__(self, width: int = 640, height: int = 480, monitors: int = 1, display: str = "") -> None:
        """display: a fixed ":N" (e.g. to bring a crashed server back under its name); "" picks a free one."""
        self._wanted = display
        self.width = width * monitors
        self.height = height
        self._monitor_width = width
        self._monitors = monitors
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Any = None  # Xlib.display.Display: python-xlib ships no type hints
        self._monitor_names: list[int] = []
        self.display = ""

    def __enter__(self) -> Xvfb:
        self._start()
        try:
            self._conn = xdisplay.Display(self.display)
            if self._monitors > 1:
                w = self._monitor_width
                self.set_monitors([(i * w, 0, w, self.height) for i in range(self._monitors)])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _start(self) -> None:
        fixed = [self._wanted] if self._wanted else []
        command = ["Xvfb", *fixed, "-screen", "0", f"{self.width}x{self.height}x24", "-nolisten", "tcp"]
        read_fd, write_fd = os.pipe()
        try:
            with tempfile.TemporaryFile() as log:
                try:
                    self._proc = subprocess.Popen(
                        [*command, "-displayfd", str(write_fd)],
                        pass_fds=(write_fd,),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                finally:
                    os.close(write_fd)
                # With a display number given, -displayfd still reports it once the server accepts clients.
                number = _read_display_number(read_fd)
                if number is None or (self._wanted and f":{number}" != self._wanted):
                    self.close()
                    log.seek(0)
                    raise RuntimeError(f"Xvfb did not start: {log.read().decode(errors='replace')[-2000:]}")
        finally:
            os.close(read_fd)
        self.display = f":{number}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def close(self) -> None:
        """Stops the server cleanly (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        self._disconnect()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """Stops the server at once (SIGKILL), as if it crashed; safe to call twice."""
        self._disconnect()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._remove_stale_files()

    def _disconnect(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            # The server may already be gone; closing is best effort.
            with contextlib.suppress(Exception):
                conn.close()

    def _remove_stale_files(self) -> None:
        # A killed server leaves its lock and socket behind; they name our display, so they are ours.
        if self.display:
            number = self.display[1:]
            for path in (f"/tmp/.X{number}-lock", f"/tmp/.X11-unix/X{number}"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def fill(self, color: Color) -> None:
        """Paints the whole root window one colour."""
        root = self._conn.screen().root
        root.change_attributes(background_pixel=_pixel(color))
        root.clear_area(0, 0, 0, 0)
        self._conn.sync()

    def show_window(
        self,
        color: Color,
        x: int,
        y: int,
        w: int,
        h: int,
        *,
        title: str = "",
        app: str = "",
        legacy_title: bool = False,
    ) -> int:
        """Maps a plain window of one colour (no window manager, so it lands exactly there); returns its id.

        The title goes to _NET_WM_NAME (UTF-8) and WM_NAME, or with legacy_title to WM_NAME only.
        """
        screen = self._conn.screen()
        window = screen.root.create_window(
            x, y, w, h, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
            background_pixel=_pixel(color), override_redirect=True,
        )  # fmt: skip
        if title and not legacy_title:
            window.change_property(self._atom("_NET_WM_NAME"), self._atom("UTF8_STRING"), 8, title.encode())
        if title:
            window.change_property(Xatom.WM_NAME, Xatom.STRING, 8, title.encode("latin-1", "replace"))
        if app:
            window.set_wm_class(app.lower(), app)
        window.map()
        self._conn.sync()
        return int(window.id)

    def destroy_window(self, window_id: int) -> None:
        self._conn.create_resource_object("window", window_id).destroy()
        self._conn.sync()

    def set_active(self, window_id: int | None) -> None:
        """Does a window manager's job: names the active window on the root (None deletes the property)."""
        root = self._conn.screen().root
        atom = self._atom("_NET_ACTIVE_WINDOW")
        if window_id is None:
            root.delete_property(atom)
        else:
            root.change_property(atom, Xatom.WINDOW, 32, [window_id])
        self._conn.sync()

    def set_monitors(self, rects: Sequence[Rect]) -> None:
        """Replaces the RandR monitors by these rectangles (the first keeps Xvfb's one output)."""
        root = self._conn.screen().root
        opcode = self._conn.query_extension("RANDR").major_opcode
        for name in self._monitor_names:
            _DeleteMonitor(display=self._conn.display, opcode=opcode, window=root, name=name)
        outputs = list(root.xrandr_get_screen_resources().outputs)
        self._monitor_names = []
        for index, (x, y, w, h) in enumerate(rects):
            name = self._atom(f"TEST-{index + 1}")
            _SetMonitor(
                display=self._conn.display, opcode=opcode, window=root, name=name,
                primary=index == 0, automatic=False, x=x, y=y, width=w, height=h,
                width_mm=0, height_mm=0, outputs=outputs if index == 0 else [],
            )  # fmt: skip
            self._monitor_names.append(name)
        self._conn.sync()

    def _atom(self, name: str) -> int:
        return int(self._conn.intern_atom(name))


def _pixel(color: Color) -> int:
    # Xvfb's 24-bit TrueColor visual is 0xRRGGBB.
    red, green, blue = color
    return (red << 16) | (green << 8) | blue


def _read_display_number(fd: int) -> int | None:
    """Xvfb writes the display number and a newline once it accepts connections; EOF means it died."""
    data = b""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None
        chunk = os.read(fd, 64)
        if not chunk:
            return None
        data += chunk
    return int(data)
