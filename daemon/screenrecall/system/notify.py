"""Tells the service manager how the daemon is doing, over the sd_notify datagram protocol."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

logger = logging.getLogger(__name__)


class Notifier:
    """Sends READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 to $NOTIFY_SOCKET (see sd_notify(3)).

    Every method is a no-op when the daemon was not started by systemd with Type=notify (no
    NOTIFY_SOCKET), and none raises: a failed send is logged once and otherwise ignored, because
    losing a status line must never stop the daemon.

    `watchdog()` is meant to be called from the pipeline's own loop each time it makes progress (a
    frame processed, or an idle tick of that loop), never from a free-running timer thread: a timer
    would keep pinging while the pipeline is wedged, and the watchdog would never restart it. Call
    it as often as you like; it sends at most once per half of WATCHDOG_USEC, the rate sd_notify(3)
    recommends, and only when the manager armed the watchdog for this process (WATCHDOG_USEC set,
    WATCHDOG_PID unset or equal to our pid).

    Safe to call from several threads.
    """

    def __init__(self, environ: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._ping_every_s = _watchdog_half_interval_s(env) if self._address is not None else None
        self._clock = clock
        self._last_ping = -math.inf
        self._failure_logged = False
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """True when a service manager is listening (NOTIFY_SOCKET was set and usable)."""
        return self._address is not None

    @property
    def watchdog_enabled(self) -> bool:
        """True when the manager expects WATCHDOG=1 from this process."""
        return self._ping_every_s is not None

    def ready(self) -> None:
        """Start-up is complete: the model and the store are open."""
        self._send("READY=1")

    def status(self, text: str) -> None:
        """A one-line status shown by `systemctl --user status`."""
        # The protocol is newline-separated assignments: a newline would end the STATUS early.
        self._send("STATUS=" + " ".join(text.splitlines()))

    def stopping(self) -> None:
        """Shutdown has begun."""
        self._send("STOPPING=1")

    def watchdog(self) -> None:
        """The pipeline made progress; pings the watchdog if half its interval has passed."""
        if self._ping_every_s is None:
            return
        with self._lock:
            now = self._clock()
            if now - self._last_ping < self._ping_every_s:
                return
            # Only a ping that reached the manager counts: after a failure the next call retries.
            if self._send_locked("WATCHDOG=1"):
                self._last_ping = now

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        with self._lock:
            self._send_locked(message)

    def _send_locked(self, message: str) -> bool:
        if self._address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # Non-blocking: a manager that stopped reading must not stall the pipeline thread.
                sock.setblocking(False)
                sock.sendto(message.encode("utf-8"), self._address)
        except OSError as exc:
            if not self._failure_logged:
                self._failure_logged = True
                logger.warning("cannot notify the service manager (%s): %s", message.partition("=")[0], exc)
            return False
        return True


def _socket_address(value: str) -> str | bytes | None:
    """The sendto() address for NOTIFY_SOCKET, or None when there is nothing usable to notify."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        # An abstract socket: a leading NUL instead of '@', and no trailing NUL.
        return b"\0" + value[1:].encode("utf-8")
    if value:
        # Newer systemd can also hand out vsock: addresses; we run on the local user manager only.
        logger.warning("NOTIFY_SOCKET %r is not a Unix socket; not notifying the service manager", value)
    return None


def _watchdog_half_interval_s(environ: Mapping[str, str]) -> float | None:
    """Half of WATCHDOG_USEC in seconds, or None when the watchdog is not armed for this process."""
    pid = environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        # The watchdog belongs to another process (e.g. we were started by a wrapper that forked).
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None
