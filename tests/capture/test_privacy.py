"""Privacy: window exclusions that fail closed, and the pause switch kept in a private file."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from screenrecall.capture.privacy import ExclusionFilter, PauseSwitch
from screenrecall.capture.window import UNKNOWN_WINDOW
from screenrecall.pipeline.messages import Window
from tests.conftest import run_cli

SECRET = Window(title="Vault — passwords", app="KeePassXC")
BANK = Window(title="My Bank — online banking — Mozilla Firefox", app="firefox")
EDITOR = Window(title="notes.md — Code", app="Code")


def test_excludes_windows_by_application() -> None:
    exclusions = ExclusionFilter(apps=["^KeePass"], titles=[])
    assert exclusions.blocks(SECRET)
    assert not exclusions.blocks(BANK)
    assert not exclusions.blocks(EDITOR)
    assert exclusions.dropped == 1


def test_excludes_windows_by_title_regex_anywhere_in_the_title() -> None:
    exclusions = ExclusionFilter(apps=[], titles=[r"(?i)online banking", r"^Private Browsing"])
    assert exclusions.blocks(BANK)
    assert exclusions.blocks(Window(title="Private Browsing", app="firefox"))
    assert not exclusions.blocks(Window(title="Not Private Browsing", app="firefox"))
    assert not exclusions.blocks(EDITOR)


def test_application_patterns_do_not_match_titles_and_title_patterns_do_not_match_applications() -> None:
    assert not ExclusionFilter(apps=["Vault"], titles=[]).blocks(SECRET)
    assert not ExclusionFilter(apps=[], titles=["KeePassXC"]).blocks(SECRET)


def test_unknown_window_is_dropped_when_exclusions_are_configured() -> None:
    exclusions = ExclusionFilter(apps=["^KeePass"], titles=[])
    assert exclusions.blocks(UNKNOWN_WINDOW)
    assert exclusions.dropped == 1


def test_unknown_window_passes_when_nothing_is_excluded() -> None:
    exclusions = ExclusionFilter(apps=[], titles=[])
    assert not exclusions.active
    assert not exclusions.blocks(UNKNOWN_WINDOW)
    assert not exclusions.blocks(SECRET)
    assert exclusions.dropped == 0


def test_no_active_window_is_known_and_passes() -> None:
    # The window manager says no window is active (the desktop): that is known, not unknown.
    assert not ExclusionFilter(apps=["^KeePass"], titles=["bank"]).blocks(Window())


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def pause_path(tmp_path: Path) -> Path:
    return tmp_path / "run" / "screenrecall" / "pause.json"


@pytest.mark.usefixtures("open_umask")
def test_pause_file_is_private(pause_path: Path) -> None:
    PauseSwitch(pause_path).pause()
    assert stat.S_IMODE(pause_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(pause_path.parent.stat().st_mode) == 0o700
    assert [p.name for p in pause_path.parent.iterdir()] == ["pause.json"]  # no partial file left


def test_not_paused_without_a_pause_file(pause_path: Path) -> None:
    assert PauseSwitch(pause_path).state().paused is False


def test_pause_holds_until_resume_and_is_seen_by_another_switch(pause_path: Path) -> None:
    PauseSwitch(pause_path).pause()
    # Another process (the CLI, or the daemon after a restart) reads the same file.
    state = PauseSwitch(pause_path).state(now_ms=int(time.time() * 1000) + 10 * 365 * 86_400_000)
    assert state.paused and state.until_ms is None

    PauseSwitch(pause_path).resume()
    assert PauseSwitch(pause_path).state().paused is False
    assert not pause_path.exists()


def test_pause_for_a_while_expires(pause_path: Path) -> None:
    switch = PauseSwitch(pause_path)
    before_ms = int(time.time() * 1000)
    until = switch.pause(for_s=90).until_ms
    assert until is not None and before_ms + 90_000 <= until <= int(time.time() * 1000) + 90_000

    assert switch.state(now_ms=until - 1) == switch.state(now_ms=before_ms)
    assert switch.state(now_ms=until - 1).paused and switch.state(now_ms=until - 1).until_ms == until
    expired = switch.state(now_ms=until)
    assert not expired.paused and expired.until_ms is None


def test_resume_when_not_paused_is_harmless(pause_path: Path) -> None:
    assert PauseSwitch(pause_path).resume().paused is False


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[true]", b'{"paused": true, "until_ms": "soon"}', b"\xff\xfe garbage", b""],
    ids=["broken-json", "not-an-object", "bad-until", "not-utf8", "empty"],
)
def test_unreadable_pause_file_means_paused(pause_path: Path, content: bytes) -> None:
    pause_path.parent.mkdir(parents=True)
    pause_path.write_bytes(content)
    assert PauseSwitch(pause_path).state().paused is True


def test_pause_path_taken_by_a_directory_means_paused(pause_path: Path) -> None:
    pause_path.mkdir(parents=True)
    assert PauseSwitch(pause_path).state().paused is True


def test_a_pause_file_that_says_not_paused_is_not_paused(pause_path: Path) -> None:
    pause_path.parent.mkdir(parents=True)
    pause_path.write_text(json.dumps({"paused": False, "until_ms": None}))
    assert PauseSwitch(pause_path).state().paused is False


def test_pause_for_from_the_command_line_without_a_daemon(xdg_home: Path) -> None:
    before_ms = int(time.time() * 1000)
    done = run_cli("pause", "--for", "15m")
    assert done.returncode == 0, done.stderr
    assert "paused for 15m" in done.stdout

    switch = PauseSwitch(xdg_home / "run" / "screenrecall" / "pause.json")
    state = switch.state()
    assert state.paused and state.until_ms is not None
    assert before_ms + 15 * 60_000 <= state.until_ms <= int(time.time() * 1000) + 15 * 60_000
    assert not switch.state(now_ms=state.until_ms).paused
