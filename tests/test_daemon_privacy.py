"""Privacy end to end: the real daemon reads a terminal, its title is redacted, and forget erases it
from every file in the data dir."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, MakeDaemon, wait_until
from tests.support.desktop import terminal
from tests.support.xvfb import Xvfb

pytestmark = [pytest.mark.slow, pytest.mark.display]

WORD = "MARZIPAN"
TITLE = "db1: mysql -u root -pQuokka77 shop"


@pytest.fixture
def xterm(xvfb: Xvfb) -> Iterator[subprocess.Popen[bytes]]:
    xvfb.fill((60, 60, 60))
    with terminal(xvfb.display, f'printf "%s\\n" "Order {WORD} shipped to warehouse"; sleep 600', TITLE) as process:
        yield process


@pytest.fixture
def daemon(make_daemon: MakeDaemon) -> Daemon:
    return make_daemon({"ocr": {"enabled": True}}, name="privacy")


def files_containing(root: Path, word: bytes) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and word in p.read_bytes())


def test_a_forgotten_terminal_leaves_no_trace_in_the_data_dir_and_its_title_was_never_stored_raw(
    xterm: subprocess.Popen[bytes], daemon: Daemon, xdg_home: Path
) -> None:
    data = xdg_home / "data" / "screenrecall"
    daemon.start()
    wait_until(lambda: bool(daemon.search(WORD.lower(), "--mode", "text")), 90, "the OCR text to be stored")
    [hit] = daemon.search(WORD.lower(), "--mode", "text")[:1]
    assert hit["window_title"] == "db1: mysql -u root -p[redacted:password] shop"
    assert files_containing(data, b"Quokka77") == []

    assert daemon.cli("pause").returncode == 0  # the terminal stays on screen: stop taking new frames
    time.sleep(1.0)
    forgot = daemon.cli("forget", "--since", "10m")  # frames still in OCR now are dropped by the ledger
    assert forgot.returncode == 0, forgot.stderr
    time.sleep(3.0)
    assert daemon.search(WORD.lower(), "--mode", "text") == []
    assert daemon.stop()[0] == 0

    assert files_containing(data, WORD.encode()) == []
    assert files_containing(data, b"warehouse") == []
