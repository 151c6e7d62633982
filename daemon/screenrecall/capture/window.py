"""Reads the windows on screen (stacking order, places, titles, apps) and the active one from the X
server, or says it cannot."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

from Xlib import X, Xatom
from Xlib import display as xdisplay
from Xlib import error as xerror
from Xlib.support import connect as xconnect

from screenrecall.capture.layout import Layout, describe, read_layout
from screenrecall.pipeline.messages import Window

logger = logging.getLogger(__name__)

# Everything the X connection can throw at us. A window can vanish between reading
# _NET_ACTIVE_WINDOW and its title (BadWindow), and the server itself can go away.
_X_FAILURES: tuple[type[Exception], ...] = (
    xerror.XError,
    xerror.DisplayError,
    xerror.ConnectionClosedError,
    xerror.XauthError,
    xerror.XNoAuthError,
    OSError,
)
# After these the connection is useless: drop it and reconnect on the next call.
_CONNECTION_LOST: tuple[type[Exception], ...] = (xerror.ConnectionClosedError, xerror.DisplayError, OSError)


@dataclass(frozen=True, slots=True)
class UnknownWindow(Window):
    """The active window could not be determined. A distinct type, so it survives copies and
    never compares equal to a real window with an empty title; privacy filters fail closed on it."""


UNKNOWN_WINDOW = UnknownWindow()


def is_known(window: Window) -> bool:
    """False when a frame's window could not be determined (privacy exclusion must then drop it)."""
    return not isinstance(window, UnknownWindow)


class WindowProbe:
    """Asks the X server which window is active. Owns its own connection; use it from one thread.

    `current()` never raises on X trouble: it returns None (cannot be determined) and logs at
    debug. Titles are private: they are never logged.
    """

    def __init__(self, display: str | None = None) -> None:
        self._display_name = display
        self._conn: Any = None  # Xlib.display.Display: python-xlib ships no type hints
        self._atoms: dict[str, int] = {}
        self._names: dict[int, Window] = {}
        self._unreadable = False

    def current(self) -> Window | None:
        """The active window; Window() when the window manager says none is active; None when unknown."""
        try:
            return self._read()
        except _X_FAILURES as exc:
            logger.debug("active window cannot be determined: %s", type(exc).__name__)
            if isinstance(exc, _CONNECTION_LOST):
                self.close()
            return None

    def layout(self, reuse_names: bool = False) -> Layout | None:
        """The viewable windows, bottom to top; None when they cannot be read (fail closed on it).

        reuse_names: titles and apps from the previous call (the read just after a grab checks where
        windows are; re-reading every title would double the cost, ~0.1 ms a window a property).
        """
        if not reuse_names:
            self._names = {}
        try:
            layout = read_layout(self._connect(), self._atom, self._names)
        except _X_FAILURES as exc:
            if not self._unreadable:
                # Said once: with exclusions on (the default) every frame is now dropped, fail closed.
                logger.warning("the window list cannot be read (%s); screen frames are dropped", type(exc).__name__)
                self._unreadable = True
            if isinstance(exc, _CONNECTION_LOST):
                self.close()
            return None
        if self._unreadable:
            logger.info("the window list can be read again")
            self._unreadable = False
        return layout

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._atoms = {}
        if conn is not None:
            try:
                conn.close()
            except _X_FAILURES as exc:
                logger.debug("closing the X connection failed: %s", type(exc).__name__)

    def _read(self) -> Window | None:
        conn = self._connect()
        root = conn.screen().root
        prop = root.get_full_property(self._atom("_NET_ACTIVE_WINDOW"), Xatom.WINDOW)
        if prop is None or len(prop.value) == 0:
            # No EWMH window manager (or it has not set the property yet): nobody can tell.
            logger.debug("no _NET_ACTIVE_WINDOW on the root window")
            return None
        window_id = int(prop.value[0])
        if window_id == X.NONE:
            return Window()
        window = describe(conn.create_resource_object("window", window_id), self._atom)
        logger.debug("active window 0x%x", window_id)
        return window

    def _connect(self) -> Any:
        if self._conn is None:
            name = self._display_name or os.environ.get("DISPLAY", "")
            if _local_server_missing(name):
                raise xerror.DisplayConnectionError(name, "no X server listening")
            self._conn = xdisplay.Display(name)
        return self._conn

    def _atom(self, name: str) -> int:
        # Cached per connection: atoms are server-side ids and die with the server.
        if name not in self._atoms:
            self._atoms[name] = int(self._conn.intern_atom(name))
        return self._atoms[name]


def _local_server_missing(name: str) -> bool:
    """True when `name` is a local display nobody listens on.

    Checked first because python-xlib 0.33 leaves the sockets of a failed connect unclosed
    (ResourceWarning) and then falls back to TCP; remote displays are left to python-xlib.
    """
    if not name:
        return False  # python-xlib raises DisplayNameError, cleanly
    _, protocol, host, number, _ = xconnect.get_display(name)
    if protocol not in (None, "unix") or host not in ("", "unix"):
        return False
    address = f"/tmp/.X11-unix/X{number}"
    if not os.path.exists(address):
        address = "\0" + address  # the abstract socket, as python-xlib and Xorg use
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(address)
        except OSError:
            return True
    return False
