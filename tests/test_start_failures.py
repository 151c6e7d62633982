"""A start-up failure that is not ours, after stage threads started: the daemon stops them and exits non-zero."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.recall import Daemons


@pytest.fixture
def daemons(tmp_path: Path, tiny_bundle: Path) -> Iterator[Daemons]:
    factory = Daemons(tmp_path, tiny_bundle)
    yield factory
    factory.close()


def test_a_taken_tcp_port_makes_the_daemon_exit_non_zero_at_once(daemons: Daemons, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        daemon = daemons.make({"capture": {"enabled": False}, "api": {"tcp_port": port}}).start(wait_running=False)
        began = time.monotonic()
        code = daemon.wait_exit(60)  # before the fix it never exited: the stage threads kept it alive
    assert code != 0
    assert time.monotonic() - began < 60
    assert "address already in use" in daemon.log().lower()
    assert "screenrecall stopped" in daemon.log()  # the stages were stopped, the store closed
