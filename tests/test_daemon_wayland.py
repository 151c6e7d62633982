"""Capture on a real headless Wayland desktop (Sway, PipeWire, xdg-desktop-portal): the daemon in
`auto` picks the portal, remembers what a Wayland terminal shows, and keeps its consent."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import FAST_CONFIG, Daemon, merged, stored_records, toml_of, wait_until
from tests.support.wayland import WaylandWorld, missing_programs

pytestmark = [pytest.mark.slow, pytest.mark.wayland]

PHRASE = "Quarterly heron census 7731"
APP_ID = "heron-notes"
# The daemon's own session variables: the world's desktop, the test's private XDG dirs.
_SESSION_VARS = (
    "WAYLAND_DISPLAY",
    "SWAYSOCK",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_SESSION_TYPE",
    "XDG_CURRENT_DESKTOP",
)


@pytest.fixture
def world() -> Iterator[WaylandWorld]:
    missing = missing_programs()
    assert not missing, f"the Wayland test world needs {missing} (scripts/test installs them)"
    with WaylandWorld() as running:
        yield running


def _daemon(world: WaylandWorld, tmp_path: Path, bundle: Path, name: str, **extra: dict[str, Any]) -> Daemon:
    config = merged(
        FAST_CONFIG,
        {"model": {"path": str(bundle)}, "ocr": {"enabled": True}, "capture": {"backend": "auto"}},
        extra,
    )
    path = tmp_path / f"{name}.toml"
    path.write_text(toml_of(config))
    env = {k: v for k, v in os.environ.items() if k not in (*_SESSION_VARS, "DISPLAY")}
    env.update({k: world.env[k] for k in _SESSION_VARS})
    return Daemon(path, tmp_path / f"{name}.log", env)


def _search(daemon: Daemon, *args: str) -> list[dict[str, Any]]:
    done = daemon.cli("search", *args, "--json")
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def _token_file(xdg_home: Path) -> Path:
    return xdg_home / "data" / "screenrecall" / "portal-restore-token"


def test_words_in_a_wayland_terminal_are_found_labelled_by_sway_and_consent_survives_a_restart(
    world: WaylandWorld, tmp_path: Path, tiny_bundle: Path, xdg_home: Path
) -> None:
    world.show_text("notes", app_id=APP_ID)
    daemon = _daemon(world, tmp_path, tiny_bundle, "wayland")
    daemon.start()
    try:
        # Typed once the cast runs: a new cast of a still screen delivers nothing until it changes.
        wait_until(lambda: "screen cast started" in daemon.log(), 60, "the cast to start")
        world.type(APP_ID, PHRASE)
        wait_until(lambda: bool(_search(daemon, "heron", "--mode", "text")), 120, "the terminal's words to be stored")
        status = daemon.status()
        assert status is not None and status["display_error"] == ""
        token = _token_file(xdg_home)
        assert stat.S_IMODE(token.stat().st_mode) == 0o600
        saved = token.read_text()
        assert saved
        assert daemon.stop()[0] == 0
        assert "screen capture backend: portal" in daemon.log()

        again = _daemon(world, tmp_path, tiny_bundle, "wayland-restarted")
        again.start()
        wait_until(lambda: "screen cast started" in again.log(), 30, "the second cast")
        assert again.stop()[0] == 0
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.kill()
    assert token.read_text() == saved
    assert "reusing the saved screen-cast permission" in again.log()
    assert "not accepted" not in again.log()
    records = stored_records(xdg_home / "data" / "screenrecall" / "store")
    with_phrase = [r for r in records if "heron" in r.text.lower()]
    assert with_phrase and all(r.window.app == APP_ID for r in with_phrase)
    assert {r.geometry for r in with_phrase} == {"1280x720+0+0"}  # the portal stream's place


def test_a_still_screen_stays_one_record_and_capture_survives_pipewire_and_portal_restarts(
    world: WaylandWorld, tmp_path: Path, tiny_bundle: Path
) -> None:
    daemon = _daemon(world, tmp_path, tiny_bundle, "recovery", ocr={"enabled": False})
    daemon.start()
    try:
        # The bare desktop (repainted until the new cast delivers: it waits for damage), then still.
        _show_changes_until_recorded(world, daemon, "#203040", 1)
        still = _settled(daemon, "records_added")
        extended = _counter(daemon, "records_extended")
        wait_until(lambda: _counter(daemon, "records_extended") >= extended + 3, 30, "heartbeats on the still screen")
        assert _counter(daemon, "records_added") == still

        world.stop_pipewire()
        wait_until(lambda: "PipeWire went away" in daemon.log(), 30, "the PipeWire loss to be noticed")
        wait_until(lambda: bool((daemon.status() or {}).get("display_error")), 30, "status to show the outage")
        world.restart_after_pipewire()
        _show_changes_until_recorded(world, daemon, "#00ff00", still + 1)

        world.stop_portal()
        world.start_portal()
        wait_until(lambda: "closed the screen-cast session" in daemon.log(), 30, "the closed session to be noticed")
        _show_changes_until_recorded(world, daemon, "#0000ff", _settled(daemon, "records_added") + 1)
        assert daemon.stop()[0] == 0
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.kill()
    log = daemon.log()
    assert log.count("PipeWire went away") == 1
    assert log.count("display is back") == 2
    assert "reusing the saved screen-cast permission" in log


def _counter(daemon: Daemon, name: str) -> int:
    status = daemon.status() or {}
    return int(status.get("counters", {}).get(name, 0))


def _settled(daemon: Daemon, name: str) -> int:
    """The counter once two status updates in a row agree (repaints still in flight have landed)."""
    seen: list[tuple[int, int]] = []

    def agreed() -> bool:
        status = daemon.status() or {}
        seen.append((int(status.get("updated_ms", 0)), _counter(daemon, name)))
        updates = sorted(set(seen))
        return len(updates) >= 2 and updates[-1][1] == updates[-2][1]

    wait_until(agreed, 30, f"{name} to settle")
    return seen[-1][1]


def _show_changes_until_recorded(world: WaylandWorld, daemon: Daemon, color: str, records: int) -> None:
    """Repaints until the daemon has stored `records` records: a new cast of a still screen sends nothing."""

    def recorded() -> bool:
        if _counter(daemon, "records_added") >= records:
            return True
        world.set_background(color)
        return False

    wait_until(recorded, 120, f"capture to resume (record {records})")
