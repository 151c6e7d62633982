"""The sd_notify client, against real AF_UNIX datagram sockets standing in for the service manager."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from screenrecall.system.notify import Notifier


class FakeClock:
    """A monotonic clock the test moves by hand, so rate limits are tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def manager_socket() -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket and its path, playing systemd's notify socket."""
    # Not tmp_path: a Unix socket path must fit in 108 bytes, and pytest's paths can be longer.
    with tempfile.TemporaryDirectory(prefix="sr-notify-") as directory:
        path = str(Path(directory) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(2.0)
            yield sock, path


def received(sock: socket.socket) -> str:
    return sock.recv(4096).decode("utf-8")


def nothing_waiting(sock: socket.socket) -> bool:
    # sendto() on a Unix datagram socket has queued the message before it returns: no race here.
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        sock.recv(4096)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(timeout)
    return False


def test_sends_ready_status_and_stopping(manager_socket: tuple[socket.socket, str]) -> None:
    sock, path = manager_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})

    notifier.ready()
    notifier.status("encoding on CPU, 12 frames stored")
    notifier.stopping()

    assert notifier.enabled
    assert [received(sock) for _ in range(3)] == [
        "READY=1",
        "STATUS=encoding on CPU, 12 frames stored",
        "STOPPING=1",
    ]


def test_flattens_a_multiline_status_into_one_line(manager_socket: tuple[socket.socket, str]) -> None:
    sock, path = manager_socket

    Notifier({"NOTIFY_SOCKET": path}).status("no display\nretrying in 5 s")

    assert received(sock) == "STATUS=no display retrying in 5 s"


def test_reaches_an_abstract_socket() -> None:
    name = f"screenrecall-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2.0)

        Notifier({"NOTIFY_SOCKET": "@" + name}).ready()

        assert received(sock) == "READY=1"


def test_pings_the_watchdog_at_most_once_per_half_interval(
    manager_socket: tuple[socket.socket, str],
) -> None:
    sock, path = manager_socket
    clock = FakeClock()
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"}, clock=clock)

    notifier.watchdog()
    assert received(sock) == "WATCHDOG=1"
    for step_s in (1.0, 2.0, 1.9):  # 4.9 s in all: still inside half of the 10 s interval
        clock.now += step_s
        notifier.watchdog()
    assert nothing_waiting(sock)
    clock.now += 0.1
    notifier.watchdog()
    assert received(sock) == "WATCHDOG=1"
    assert nothing_waiting(sock)


def test_watchdog_is_silent_when_the_manager_did_not_arm_it(
    manager_socket: tuple[socket.socket, str],
) -> None:
    sock, path = manager_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})

    notifier.watchdog()

    assert not notifier.watchdog_enabled
    assert nothing_waiting(sock)


def test_watchdog_belongs_only_to_the_process_named_in_watchdog_pid(
    manager_socket: tuple[socket.socket, str],
) -> None:
    sock, path = manager_socket
    armed = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"}

    Notifier({**armed, "WATCHDOG_PID": str(os.getppid())}).watchdog()
    assert nothing_waiting(sock)

    Notifier({**armed, "WATCHDOG_PID": str(os.getpid())}).watchdog()
    assert received(sock) == "WATCHDOG=1"


def test_retries_a_watchdog_ping_that_did_not_arrive() -> None:
    with tempfile.TemporaryDirectory(prefix="sr-notify-") as directory:
        path = str(Path(directory) / "notify")
        clock = FakeClock()
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"}, clock=clock)
        notifier.watchdog()  # nobody listening yet: lost

        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(2.0)
            notifier.watchdog()  # same instant: a lost ping does not count against the rate limit

            assert received(sock) == "WATCHDOG=1"


def test_is_disabled_without_notify_socket() -> None:
    notifier = Notifier({"WATCHDOG_USEC": "10000000"})

    notifier.ready()
    notifier.status("nobody listens")
    notifier.watchdog()
    notifier.stopping()

    assert not notifier.enabled
    assert not notifier.watchdog_enabled


def test_logs_a_failing_socket_once_and_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone"), "WATCHDOG_USEC": "10000000"})

    with caplog.at_level(logging.WARNING, logger="screenrecall.system.notify"):
        notifier.ready()
        notifier.status("still here")
        notifier.watchdog()
        notifier.stopping()

    assert notifier.enabled
    assert len(caplog.records) == 1
    assert "cannot notify the service manager (READY)" in caplog.records[0].getMessage()
