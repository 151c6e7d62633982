"""Reading the screen end to end: an xterm on Xvfb, the daemon with OCR on, found by its words."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import FAST_CONFIG, Daemon, merged, stored_records, toml_of, wait_until
from tests.support.xvfb import Xvfb

pytestmark = [pytest.mark.slow, pytest.mark.display]

PHRASE = "Invoice 4471 from ACME Corp is overdue"
SECRET_LINE = "password: hunter2"


@pytest.fixture
def xterm(xvfb: Xvfb) -> Iterator[subprocess.Popen[bytes]]:
    script = f'printf "%s\\n%s\\n" "{PHRASE}" "{SECRET_LINE}"; sleep 600'
    process = subprocess.Popen(
        ["xterm", "-display", xvfb.display, "-geometry", "70x10+0+0", "-fa", "DejaVu Sans Mono", "-fs", "14",
         "-bg", "black", "-fg", "white", "-e", "sh", "-c", script],
    )  # fmt: skip
    yield process
    process.terminate()
    process.wait(10)


@pytest.fixture
def daemon(tmp_path: Path, tiny_bundle: Path) -> Iterator[Daemon]:
    config = merged(FAST_CONFIG, {"model": {"path": str(tiny_bundle)}, "ocr": {"enabled": True}})
    path = tmp_path / "ocr.toml"
    path.write_text(toml_of(config))
    running = Daemon(path, tmp_path / "ocr.log")
    yield running
    if running.process is not None and running.process.poll() is None:
        running.kill()


def _search(daemon: Daemon, *args: str) -> list[dict[str, Any]]:
    done = daemon.cli("search", *args, "--json")
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def test_text_on_screen_is_found_by_word_and_phrase_with_a_snippet_and_secrets_masked(
    xterm: subprocess.Popen[bytes], daemon: Daemon, xdg_home: Path
) -> None:
    daemon.start()
    wait_until(lambda: bool(_search(daemon, "overdue", "--mode", "text")), 60, "the OCR text to be stored")
    by_word = _search(daemon, "ACME", "--mode", "text")
    assert by_word and PHRASE in by_word[0]["snippet"]
    by_phrase = _search(daemon, '"from acme corp"', "--mode", "text")
    assert by_phrase and by_phrase[0]["id"] == by_word[0]["id"]
    assert _search(daemon, '"corp from acme"', "--mode", "text") == []
    hybrid = _search(daemon, "invoice overdue")
    assert hybrid and hybrid[0]["id"] == by_word[0]["id"]
    table = daemon.cli("search", "acme", "--mode", "text")
    assert PHRASE in table.stdout
    assert _search(daemon, "hunter2", "--mode", "text") == []
    assert daemon.stop()[0] == 0
    texts = [record.text for record in stored_records(xdg_home / "data" / "screenrecall" / "store")]
    assert any("[redacted:password]" in text for text in texts)
    assert not any("hunter2" in text for text in texts)
