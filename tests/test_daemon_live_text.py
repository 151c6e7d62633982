"""The live screen keeps its text: what a user reads, types and scrolls past is found afterwards.

The real daemon (tiny CLIP, real OCR) watches an xterm on Xvfb while a script prints lines, replaces
a page in place, scrolls words away and a user types; then every planted word must be found with
`screenrecall search`.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon, MakeDaemon, stored_records, wait_until
from tests.support.xvfb import Xvfb

pytestmark = [pytest.mark.slow, pytest.mark.display]

PRINTED = ["zebrafjord", "quokkaplume", "marzipanic"]
PAGE_ONE, PAGE_TWO = ["lanternfig", "glacierpod"], ["velvetquill", "copperwren"]
SCROLLED_AWAY = "saffronkite"
TYPED = ["harborlynx", "pebbleorbit"]

# Each phase leaves its words on screen for a few samples (interval 0.5 s, changes settle in 1 s).
SCRIPT = f"""
for w in {" ".join(PRINTED)}; do echo "build step $w done"; sleep 2; done
sleep 1; clear; echo "page one: {" ".join(PAGE_ONE)}"; sleep 3
clear; echo "page two: {" ".join(PAGE_TWO)}"; sleep 3
echo "note {SCROLLED_AWAY} here"; sleep 3
for i in $(seq 1 40); do echo "filler line $i"; sleep 0.05; done
touch "$1"; exec cat
"""

LIVE_CONFIG = {
    "capture": {"interval_s": 0.5, "heartbeat_s": 5.0},
    "gate": {"settle_s": 1.0},
    "ocr": {"enabled": True, "max_waiting_frames": 8},
}


def xterm(xvfb: Xvfb, script: str, *args: str, blink: bool = False) -> subprocess.Popen[bytes]:
    options = ["-bc", "-bcf", "400", "-bcn", "400"] if blink else []
    return subprocess.Popen(
        ["xterm", "-display", xvfb.display, "-geometry", "70x24+0+0", "-fa", "DejaVu Sans Mono", "-fs", "11",
         "-bg", "white", "-fg", "black", *options, "-e", "sh", "-c", script, "sh", *args],
    )  # fmt: skip


def search(daemon: Daemon, word: str) -> list[dict[str, Any]]:
    return daemon.search(word, "--mode", "text")


def window_of(process: subprocess.Popen[bytes], xvfb: Xvfb) -> str:
    found = ""

    def appeared() -> bool:
        nonlocal found
        done = subprocess.run(
            ["xdotool", "search", "--pid", str(process.pid)],
            env={"DISPLAY": xvfb.display},
            capture_output=True,
            text=True,
            check=False,
        )
        found = done.stdout.split()[-1] if done.stdout.split() else ""
        return bool(found)

    wait_until(appeared, 20, "the xterm window")
    return found


def test_words_printed_replaced_scrolled_away_and_typed_are_all_found(
    xvfb: Xvfb, make_daemon: MakeDaemon, tmp_path: Path
) -> None:
    daemon = make_daemon(LIVE_CONFIG, name="live").start()
    done_marker = tmp_path / "script-done"
    terminal = xterm(xvfb, SCRIPT, str(done_marker))
    try:
        wait_until(done_marker.exists, 90, "the scripted terminal session")
        window = window_of(terminal, xvfb)
        env = {"DISPLAY": xvfb.display}
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, check=True, timeout=10)
        subprocess.run(["xdotool", "type", "--delay", "150", " ".join(TYPED)], env=env, check=True, timeout=30)
        time.sleep(4)  # the last keystrokes settle, get read, get written

        missing: list[str] = []

        def all_found() -> bool:
            missing[:] = [w for w in PRINTED + PAGE_ONE + PAGE_TWO + [SCROLLED_AWAY] + TYPED if not search(daemon, w)]
            return not missing

        try:
            wait_until(all_found, 60, "every planted word to be searchable")
        except AssertionError:
            raise AssertionError(f"not found: {missing}\n{daemon.log()[-3000:]}") from None
        # The page replaced in place left two records, each with its own page's words.
        one, two = search(daemon, PAGE_ONE[0])[0], search(daemon, PAGE_TWO[0])[0]
        assert one["id"] != two["id"]
    finally:
        terminal.terminate()
        terminal.wait(10)
    assert daemon.stop()[0] == 0


def test_a_still_screen_with_a_blinking_cursor_makes_one_record(
    xvfb: Xvfb, make_daemon: MakeDaemon, xdg_home: Path
) -> None:
    terminal = xterm(xvfb, 'echo "a quiet screen"; exec cat', blink=True)
    try:
        time.sleep(2)  # the xterm is up and drawn before the daemon looks
        # Random-weight CLIP: only the cursor differs between frames, and those must count as alike.
        daemon = make_daemon(LIVE_CONFIG, {"dedup": {"cosine": 0.9}}, name="live").start()
        wait_until(lambda: bool(search(daemon, "quiet")), 120, "the screen's text")
        status = daemon.status_after(10)  # ten seconds of blinking at 0.5 s sampling
        assert daemon.stop()[0] == 0
    finally:
        terminal.terminate()
        terminal.wait(10)

    records = stored_records(xdg_home / "data" / "screenrecall" / "store")
    assert len(records) == 1, [(r.captured_at_ms, r.text) for r in records]
    assert "quiet screen" in records[0].text
    assert records[0].last_seen_ms - records[0].captured_at_ms >= 8_000
    assert status, "the daemon wrote its status"
