"""A private dbus-daemon, and a fake logind + screensaver on it: the D-Bus boundary of the session lock."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection

SESSION_PATH = "/org/freedesktop/login1/session/c1"
USER_PATH = "/org/freedesktop/login1/user/_1000"

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    """`with PrivateBus(tmp) as bus:` runs dbus-daemon; `bus.address` is its unix:path=... address."""

    def __init__(self, directory: Path) -> None:
        assert shutil.which("dbus-daemon"), "dbus-daemon is needed (Debian package dbus-daemon)"
        self._dir = directory
        self.address = f"unix:path={directory / 'bus'}"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrivateBus:
        self._dir.mkdir(parents=True, exist_ok=True)
        config = self._dir / "bus.conf"
        config.write_text(_CONFIG.format(socket=self._dir / "bus"))
        self._proc = subprocess.Popen(
            ["dbus-daemon", "--nofork", f"--config-file={config}", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._proc.stdout is not None
        self._proc.stdout.readline()  # printed once it listens
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
            if self._proc.stdout is not None:
                self._proc.stdout.close()


class FakeDesktop:
    """Answers as logind (Manager.GetSession/GetUser, User.Display, Session.LockedHint) and as
    org.freedesktop.ScreenSaver (GetActive) on one bus, from a thread; flip `locked` / `screensaver`."""

    def __init__(self, address: str, *, logind: bool = True, screensaver: bool = True) -> None:
        self.locked = False
        self.screensaver_active = False
        self.calls: list[str] = []
        self._names = (["org.freedesktop.login1"] if logind else []) + (
            ["org.freedesktop.ScreenSaver"] if screensaver else []
        )
        self._address = address
        self._stop = threading.Event()
        self._conn: DBusConnection | None = None
        self._thread = threading.Thread(target=self._serve, name="fake-desktop", daemon=True)

    def __enter__(self) -> FakeDesktop:
        self._conn = open_dbus_connection(bus=self._address)
        for name in self._names:
            self._conn.send_and_get_reply(message_bus.RequestName(name), timeout=5)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        if self._conn is not None:
            self._conn.close()

    def _serve(self) -> None:
        assert self._conn is not None
        while not self._stop.is_set():
            try:
                message = self._conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            except OSError:
                return
            if message.header.message_type == MessageType.method_call:
                with contextlib.suppress(OSError):
                    self._conn.send(self._answer(message))

    def _answer(self, message: Any) -> Any:
        fields = message.header.fields
        path, member = fields.get(HeaderFields.path), fields.get(HeaderFields.member)
        self.calls.append(f"{path} {member}")
        if member == "GetSession":
            return new_method_return(message, "o", (SESSION_PATH,))
        if member == "GetUser":
            return new_method_return(message, "o", (USER_PATH,))
        if member == "Get" and path == USER_PATH and message.body[1] == "Display":
            return new_method_return(message, "v", (("(so)", ("c1", SESSION_PATH)),))
        if member == "Get" and path == SESSION_PATH and message.body[1] == "LockedHint":
            return new_method_return(message, "v", (("b", self.locked),))
        if member == "GetActive":
            return new_method_return(message, "b", (self.screensaver_active,))
        return new_error(message, "org.freedesktop.DBus.Error.UnknownMethod")


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
