"""One xdg-desktop-portal ScreenCast session over D-Bus (jeepney, pure Python): every monitor, cursor
hidden, persist_mode 2 with a restore token, and the PipeWire fd its streams play from.

The portal answers each request asynchronously with a Response signal on a request object whose
path we can compute in advance: the match rule is added before the call, so the answer cannot be
missed. Every wait has a deadline: a portal that never answers is an error, not a hang.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.low_level import Message

from screenrecall.errors import ScreenrecallError

logger = logging.getLogger(__name__)

PORTAL = DBusAddress(
    "/org/freedesktop/portal/desktop",
    bus_name="org.freedesktop.portal.Desktop",
    interface="org.freedesktop.portal.ScreenCast",
)
_REQUEST = "org.freedesktop.portal.Request"
_SESSION = "org.freedesktop.portal.Session"
_BUS = "org.freedesktop.DBus"
_MONITOR = 1  # source_types bit: monitors (not windows, not virtual outputs)
_CURSOR_HIDDEN = 1
_PERSIST_UNTIL_REVOKED = 2
_CALL_TIMEOUT_S = 5.0
# Start shows a consent dialog when there is no usable token: the user needs time to read it.
# With a saved token no dialog is expected, and a capture thread stuck on a portal that cannot
# start (PipeWire down) would hold up the daemon's stop: a shorter wait.
_START_TIMEOUT_S = 120.0
_START_WITH_TOKEN_TIMEOUT_S = 20.0


class PortalError(ScreenrecallError):
    """The portal could not give us a cast: not installed, refused, or it failed."""


class ConsentRefused(PortalError):  # noqa: N818 - says what happened, like DisplayUnavailable
    """The user cancelled the screen-share dialog (response 1)."""


@dataclass(frozen=True)
class Stream:
    """One cast monitor: its PipeWire node and where it sits on the desktop (may be unknown: 0s)."""

    node_id: int
    x: int = 0
    y: int = 0
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Cast:
    session: str
    streams: tuple[Stream, ...]
    restore_token: str
    pipewire_fd: int


def session_bus_address(environ: Mapping[str, str]) -> str:
    """The D-Bus session bus: $DBUS_SESSION_BUS_ADDRESS, else systemd's $XDG_RUNTIME_DIR/bus; "" = none."""
    address = environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if address:
        return address
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if runtime and stat.S_ISSOCK(_mode(os.path.join(runtime, "bus"))):
        return f"unix:path={os.path.join(runtime, 'bus')}"
    return ""


def _mode(path: str) -> int:
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


class PortalSession:
    """Opens (open()) and closes one cast. Owned by one thread: jeepney's blocking connection is not
    thread-safe, so the capture thread does everything here, including noticing `Closed`."""

    def __init__(self, address: str = "", connect_timeout_s: float = _CALL_TIMEOUT_S) -> None:
        self._address = address
        self._timeout_s = connect_timeout_s
        self._conn: DBusConnection | None = None
        self._session = ""
        self.closed_by_portal = False

    def open(self, restore_token: str) -> Cast:
        conn = self._connect()
        version = self._version(conn)
        if version < 4:
            logger.info("ScreenCast portal version %d: no restore tokens, consent is asked on every start", version)
        session = self._create_session(conn)
        self._session = session
        self._watch_closed(conn, session)
        options: dict[str, tuple[str, Any]] = {
            "types": ("u", _MONITOR),
            "multiple": ("b", True),
            "cursor_mode": ("u", _CURSOR_HIDDEN),
        }
        if version >= 4:
            options["persist_mode"] = ("u", _PERSIST_UNTIL_REVOKED)
            if restore_token:
                options["restore_token"] = ("s", restore_token)
        self._request(conn, "SelectSources", "oa{sv}", (session,), options, timeout_s=_CALL_TIMEOUT_S)
        wait_s = _START_WITH_TOKEN_TIMEOUT_S if restore_token else _START_TIMEOUT_S
        results = self._request(conn, "Start", "osa{sv}", (session, ""), {}, timeout_s=wait_s)
        streams = tuple(_stream(node, props) for node, props in results.get("streams", ("a(ua{sv})", []))[1])
        if not streams:
            raise PortalError("the portal started a cast with no monitor in it")
        token = str(results.get("restore_token", ("s", ""))[1])
        fd = self._open_pipewire_remote(conn, session)
        return Cast(session, streams, token, fd)

    def poll_closed(self) -> bool:
        """True once the portal said the session is closed (revoked, output gone, portal restart).

        Reads pending signals without waiting; a dead bus connection counts as closed.
        """
        if self._conn is None or not self._session:
            return False
        try:
            while True:
                message = self._conn.receive(timeout=0)
                if _is_closed_signal(message, self._session):
                    self.closed_by_portal = True
        except TimeoutError:
            pass
        except (OSError, EOFError, ConnectionError) as exc:
            logger.debug("session bus connection lost: %s", exc)
            self.closed_by_portal = True
        return self.closed_by_portal

    def close(self) -> None:
        """Closes the cast (if still open) and the bus connection; never raises."""
        conn, self._conn = self._conn, None
        session, self._session = self._session, ""
        if conn is None:
            return
        try:
            if session and not self.closed_by_portal:
                closing = new_method_call(DBusAddress(session, PORTAL.bus_name, _SESSION), "Close")
                conn.send_and_get_reply(closing, timeout=_CALL_TIMEOUT_S)
        except (OSError, EOFError, ConnectionError, TimeoutError) as exc:
            logger.debug("closing the portal session failed: %s", exc)
        finally:
            conn.close()
        self.closed_by_portal = False

    def _connect(self) -> DBusConnection:
        if self._conn is None:
            address = self._address or session_bus_address(os.environ)
            if not address:
                raise PortalError("there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
            try:
                self._conn = open_dbus_connection(bus=address, enable_fds=True, auth_timeout=self._timeout_s)
            except (OSError, KeyError, ValueError, TimeoutError) as exc:
                raise PortalError(f"cannot reach the D-Bus session bus: {exc}") from exc
        return self._conn

    def _version(self, conn: DBusConnection) -> int:
        query = new_method_call(
            DBusAddress(PORTAL.object_path, PORTAL.bus_name, "org.freedesktop.DBus.Properties"),
            "Get",
            "ss",
            (PORTAL.interface, "version"),
        )
        reply = self._call(conn, query, _CALL_TIMEOUT_S)
        return int(reply.body[0][1])

    def _create_session(self, conn: DBusConnection) -> str:
        options = {"session_handle_token": ("s", "screenrecall_" + secrets.token_hex(6))}
        results = self._request(conn, "CreateSession", "a{sv}", (), options, timeout_s=_CALL_TIMEOUT_S)
        return str(results["session_handle"][1])

    def _open_pipewire_remote(self, conn: DBusConnection, session: str) -> int:
        reply = self._call(
            conn, new_method_call(PORTAL, "OpenPipeWireRemote", "oa{sv}", (session, {})), _CALL_TIMEOUT_S
        )
        return int(reply.body[0].to_raw_fd())

    def _request(
        self,
        conn: DBusConnection,
        method: str,
        signature: str,
        args: tuple[Any, ...],
        options: dict[str, tuple[str, Any]],
        *,
        timeout_s: float,
    ) -> dict[str, tuple[str, Any]]:
        token = "screenrecall_" + secrets.token_hex(6)
        sender = conn.unique_name.lstrip(":").replace(".", "_")
        path = f"/org/freedesktop/portal/desktop/request/{sender}/{token}"
        rule = MatchRule(type="signal", interface=_REQUEST, member="Response", path=path)
        self._call(conn, message_bus.AddMatch(rule), _CALL_TIMEOUT_S)
        with conn.filter(rule) as responses:
            self._call(
                conn,
                new_method_call(PORTAL, method, signature, (*args, {**options, "handle_token": ("s", token)})),
                timeout_s,
            )
            try:
                response = conn.recv_until_filtered(responses, timeout=timeout_s)
            except TimeoutError as exc:
                raise PortalError(f"the portal did not answer {method} within {timeout_s:.0f} s") from exc
        code, results = int(response.body[0]), dict(response.body[1])
        if code == 1:
            raise ConsentRefused(f"screen sharing was refused in the portal's dialog ({method})")
        if code != 0:
            raise PortalError(f"the portal failed {method} (response {code}); its log says why")
        return results

    def _call(self, conn: DBusConnection, message: Message, timeout_s: float) -> Message:
        try:
            reply = conn.send_and_get_reply(message, timeout=timeout_s)
        except TimeoutError as exc:
            raise PortalError(f"D-Bus call {message.header.fields.get(HeaderFields.member)} timed out") from exc
        except (OSError, EOFError, ConnectionError) as exc:
            raise PortalError(f"the session bus went away: {exc}") from exc
        if reply.header.message_type == MessageType.error:
            name = reply.header.fields.get(HeaderFields.error_name, "")
            detail = reply.body[0] if reply.body else ""
            raise PortalError(f"{name}: {detail}" if detail else str(name))
        return reply

    def _watch_closed(self, conn: DBusConnection, session: str) -> None:
        rule = MatchRule(type="signal", interface=_SESSION, member="Closed", path=session)
        self._call(conn, message_bus.AddMatch(rule), _CALL_TIMEOUT_S)
        # A portal that exits (crash, update, session restart) sends no Closed: its sessions die
        # with it, which the bus reports as the portal's name changing owner.
        owner = MatchRule(
            type="signal", sender=_BUS, interface=_BUS, member="NameOwnerChanged", path="/org/freedesktop/DBus"
        )
        owner.add_arg_condition(0, PORTAL.bus_name)
        self._call(conn, message_bus.AddMatch(owner), _CALL_TIMEOUT_S)


def _is_closed_signal(message: Message, session: str) -> bool:
    fields = message.header.fields
    if fields.get(HeaderFields.member) == "NameOwnerChanged" and fields.get(HeaderFields.interface) == _BUS:
        return bool(message.body and message.body[0] == PORTAL.bus_name)
    return bool(
        message.header.message_type == MessageType.signal
        and fields.get(HeaderFields.interface) == _SESSION
        and fields.get(HeaderFields.member) == "Closed"
        and fields.get(HeaderFields.path) == session
    )


def _stream(node: int, props: dict[str, tuple[str, Any]]) -> Stream:
    x, y = props.get("position", ("(ii)", (0, 0)))[1]
    width, height = props.get("size", ("(ii)", (0, 0)))[1]
    return Stream(int(node), int(x), int(y), int(width), int(height))
