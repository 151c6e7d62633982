"""Is the desktop session locked? Asked over D-Bus: logind's LockedHint on our graphical session
(system bus), and the screensaver's active state (session bus).

A locked screen shows notifications and the lock dialog, nothing the user chose to remember, so the
sampler pauses while either says locked. Neither answering (no D-Bus, no logind: a container, a
bare X server) is "unknown" and does not pause capture: that is no worse than before this check,
and status says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from jeepney import DBusAddress, DBusErrorResponse, Properties, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.wrappers import unwrap_msg

logger = logging.getLogger(__name__)

LOGIND = "org.freedesktop.login1"
_MANAGER = DBusAddress("/org/freedesktop/login1", LOGIND, "org.freedesktop.login1.Manager")
# (bus name, object path, interface) of the screensavers that answer GetActive().
SCREENSAVERS = (
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver"),
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
    ("org.mate.ScreenSaver", "/org/mate/ScreenSaver", "org.mate.ScreenSaver"),
    ("org.cinnamon.ScreenSaver", "/org/cinnamon/ScreenSaver", "org.cinnamon.ScreenSaver"),
    ("org.xfce.ScreenSaver", "/org/xfce/ScreenSaver", "org.xfce.ScreenSaver"),
)
_CALL_TIMEOUT_S = 0.5
_RETRY_S = 30.0  # after a bus could not be reached
_OSERRORS = (OSError, TimeoutError, ConnectionError, EOFError, ValueError, KeyError)

Connect = Callable[[str], DBusConnection]


class SessionLock:
    """Polled from the capture thread (one D-Bus round trip or two a tick, ~1 ms); not thread-safe."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        connect: Connect = lambda bus: open_dbus_connection(bus=bus),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._connect = connect
        self._clock = clock
        self._buses: dict[str, DBusConnection | None] = {}
        self._retry_at: dict[str, float] = {}
        self._session_path = ""
        self._absent_until: dict[str, float] = {}
        self.state = "unknown"  # locked | unlocked | unknown: for status

    def locked(self) -> bool:
        hint = self._locked_hint()
        saver = self._screensaver_active()
        answers = [value for value in (hint, saver) if value is not None]
        state = "locked" if any(answers) else "unlocked" if answers else "unknown"
        if state != self.state:
            logger.info("session %s", state)
            self.state = state
        return state == "locked"

    def close(self) -> None:
        for bus in list(self._buses):
            self._drop(bus)

    def _locked_hint(self) -> bool | None:
        conn = self._bus("SYSTEM")
        if conn is None:
            return None
        try:
            if not self._session_path:
                self._session_path = self._find_session(conn)
            if not self._session_path:
                return None
            session = DBusAddress(self._session_path, LOGIND, "org.freedesktop.login1.Session")
            return bool(self._get(conn, session, "LockedHint"))
        except DBusErrorResponse as exc:
            logger.debug("logind: %s", exc)
            self._session_path = ""  # the session may have ended; look it up again next time
            return None
        except _OSERRORS as exc:
            logger.debug("system bus lost: %s", exc)
            self._drop("SYSTEM")
            return None

    def _find_session(self, conn: DBusConnection) -> str:
        """Our session: XDG_SESSION_ID when we run inside it, else the user's graphical ("display")
        session, which is what a systemd user service (outside any session) needs."""
        session_id = self._environ.get("XDG_SESSION_ID", "")
        if session_id:
            return str(self._call(conn, _MANAGER, "GetSession", "s", (session_id,))[0])
        user_path = str(self._call(conn, _MANAGER, "GetUser", "u", (os.getuid(),))[0])
        user = DBusAddress(user_path, LOGIND, "org.freedesktop.login1.User")
        _id, path = self._get(conn, user, "Display")
        return "" if path == "/" else str(path)

    def _screensaver_active(self) -> bool | None:
        conn = self._bus("SESSION")
        if conn is None:
            return None
        answered: bool | None = None
        now = self._clock()
        for name, path, interface in SCREENSAVERS:
            if now < self._absent_until.get(name, 0.0):
                continue
            try:
                active = bool(self._call(conn, DBusAddress(path, name, interface), "GetActive", None, ())[0])
            except DBusErrorResponse:
                # Not this desktop's screensaver: ask again now and then (one may start later).
                self._absent_until[name] = now + _RETRY_S
                continue
            except _OSERRORS as exc:
                logger.debug("session bus lost: %s", exc)
                self._drop("SESSION")
                return answered
            answered = bool(answered) or active
        return answered

    def _bus(self, bus: str) -> DBusConnection | None:
        if self._buses.get(bus) is not None:
            return self._buses[bus]
        if self._clock() < self._retry_at.get(bus, 0.0):
            return None
        try:
            self._buses[bus] = self._connect(bus)
        except (*_OSERRORS, KeyError, RuntimeError) as exc:
            logger.debug("no %s bus: %s", bus.lower(), exc)
            self._retry_at[bus] = self._clock() + _RETRY_S
            return None
        return self._buses[bus]

    def _drop(self, bus: str) -> None:
        conn = self._buses.pop(bus, None)
        self._retry_at[bus] = self._clock() + _RETRY_S
        if conn is not None:
            with contextlib.suppress(OSError):  # closing a dead connection
                conn.close()

    @staticmethod
    def _call(
        conn: DBusConnection, address: DBusAddress, method: str, signature: str | None, body: tuple[Any, ...]
    ) -> Any:
        message = new_method_call(address, method, signature, body)
        return unwrap_msg(conn.send_and_get_reply(message, timeout=_CALL_TIMEOUT_S))  # raises on an error reply

    @staticmethod
    def _get(conn: DBusConnection, address: DBusAddress, name: str) -> Any:
        reply = conn.send_and_get_reply(Properties(address).get(name), timeout=_CALL_TIMEOUT_S)
        _signature, value = unwrap_msg(reply)[0]
        return value
