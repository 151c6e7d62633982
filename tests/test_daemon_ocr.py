"""Reading the screen end to end: an xterm on Xvfb, the daemon with OCR on, found by its words."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, MakeDaemon, stored_records, wait_until
from tests.support.desktop import terminal
from tests.support.xvfb import Xvfb

pytestmark = [pytest.mark.slow, pytest.mark.display]

PHRASE = "Invoice 4471 from ACME Corp is overdue"
SECRET_LINE = "password: hunter2"


@pytest.fixture
def xterm(xvfb: Xvfb) -> Iterator[subprocess.Popen[bytes]]:
    with terminal(xvfb.display, f'printf "%s\\n%s\\n" "{PHRASE}" "{SECRET_LINE}"; sleep 600') as process:
        yield process


@pytest.fixture
def daemon(make_daemon: MakeDaemon) -> Daemon:
    return make_daemon({"ocr": {"enabled": True}}, name="ocr")


def test_text_on_screen_is_found_by_word_and_phrase_with_a_snippet_and_secrets_masked(
    xterm: subprocess.Popen[bytes], daemon: Daemon, xdg_home: Path
) -> None:
    daemon.start()
    # Watch the status file, not the CLI: a search process every 0.1 s takes the CPU from OCR (nice 19).
    wait_until(lambda: (daemon.status() or {}).get("counters", {}).get("ocr_read", 0) >= 1, 120, "a frame read")
    wait_until(lambda: bool(daemon.search("overdue", "--mode", "text")), 60, "the OCR text to be stored")
    by_word = daemon.search("ACME", "--mode", "text")
    assert by_word and PHRASE in by_word[0]["snippet"]
    by_phrase = daemon.search('"from acme corp"', "--mode", "text")
    assert by_phrase and by_phrase[0]["id"] == by_word[0]["id"]
    assert daemon.search('"corp from acme"', "--mode", "text") == []
    hybrid = daemon.search("invoice overdue")
    assert hybrid and hybrid[0]["id"] == by_word[0]["id"]
    table = daemon.cli("search", "acme", "--mode", "text")
    assert PHRASE in table.stdout
    assert daemon.search("hunter2", "--mode", "text") == []
    assert daemon.stop()[0] == 0
    texts = [record.text for record in stored_records(xdg_home / "data" / "screenrecall" / "store")]
    assert any("[redacted:password]" in text for text in texts)
    assert not any("hunter2" in text for text in texts)
