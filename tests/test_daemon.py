"""The daemon end to end: a real Xvfb screen and real folders in, real Chroma records out."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import MakeDaemon, stored_records, wait_until
from tests.support.xvfb import Xvfb

pytestmark = [pytest.mark.slow, pytest.mark.display]


def _store_dir(xdg_home: Path) -> Path:
    return xdg_home / "data" / "screenrecall" / "store"


def _records_by_monitor(xdg_home: Path) -> dict[int, list[Any]]:
    by_monitor: dict[int, list[Any]] = {}
    for record in stored_records(_store_dir(xdg_home)):
        by_monitor.setdefault(record.monitor, []).append(record)
    return by_monitor


def test_still_screen_gives_one_record_per_monitor_whose_last_seen_advances(
    make_daemon: MakeDaemon, xdg_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Xvfb(width=400, height=300, monitors=2) as screen:
        monkeypatch.setenv("DISPLAY", screen.display)
        screen.fill((30, 90, 160))
        screen.show_window((250, 200, 20), 40, 40, 200, 120)  # on monitor 1
        screen.show_window((20, 220, 90), 450, 60, 150, 150)  # on monitor 2
        daemon = make_daemon().start()
        wait_until(lambda: daemon.status()["counters"]["records_extended"] >= 4, 20, "heartbeats")  # type: ignore[index]
        code, took = daemon.stop()
    assert code == 0, daemon.log()
    assert took < 10
    by_monitor = _records_by_monitor(xdg_home)
    assert sorted(by_monitor) == [1, 2]
    for monitor, records in by_monitor.items():
        assert len(records) == 1, f"monitor {monitor}: {len(records)} records for a still screen"
        record = records[0]
        assert record.source == "screen" and (record.width, record.height) == (400, 300)
        assert record.last_seen_ms - record.captured_at_ms >= 1000
        thumbnail = Path(record.thumbnail)
        assert thumbnail.is_file() and thumbnail.stat().st_mode & 0o777 == 0o600


def test_changed_content_gives_a_new_record(make_daemon: MakeDaemon, xdg_home: Path, xvfb: Xvfb) -> None:
    xvfb.fill((200, 200, 200))
    daemon = make_daemon().start()
    wait_until(lambda: daemon.status()["counters"]["records_added"] >= 1, 20, "a first record")  # type: ignore[index]
    xvfb.show_window((10, 10, 120), 0, 0, 400, 480, title="Editor")
    wait_until(lambda: daemon.status()["counters"]["records_added"] >= 2, 20, "a second record")  # type: ignore[index]
    assert daemon.stop()[0] == 0
    records = _records_by_monitor(xdg_home)[1]
    assert len(records) == 2
    assert len({r.id for r in records}) == 2


def test_pause_stops_storing_and_resume_restarts_it(make_daemon: MakeDaemon, xdg_home: Path, xvfb: Xvfb) -> None:
    xvfb.fill((120, 40, 40))
    daemon = make_daemon().start()
    wait_until(lambda: daemon.status()["counters"]["records_added"] >= 1, 20, "a first record")  # type: ignore[index]
    assert daemon.cli("pause").returncode == 0
    wait_until(lambda: daemon.status()["paused"], 10, "paused status")  # type: ignore[index]
    grabbed = daemon.status()["counters"]["frames_grabbed"]  # type: ignore[index]
    xvfb.show_window((0, 200, 0), 100, 100, 300, 300)
    status = daemon.status_after(1.5)  # six capture intervals
    assert status["counters"]["frames_grabbed"] == grabbed
    assert status["counters"]["records_added"] == 1
    assert daemon.cli("resume").returncode == 0
    wait_until(lambda: daemon.status()["counters"]["records_added"] >= 2, 10, "a record after resume")  # type: ignore[index]
    assert daemon.stop()[0] == 0


def test_excluded_window_is_never_stored_and_unknown_windows_fail_closed(
    make_daemon: MakeDaemon, xdg_home: Path, xvfb: Xvfb
) -> None:
    xvfb.fill((90, 90, 90))
    secret = xvfb.show_window((200, 0, 0), 0, 0, 640, 480, title="Vault — passwords", app="KeePassXC")
    xvfb.set_active(secret)
    daemon = make_daemon({"privacy": {"exclude_apps": ["^KeePass"]}}).start()
    wait_until(lambda: daemon.status()["counters"]["frames_excluded"] >= 3, 10, "exclusions")  # type: ignore[index]
    xvfb.set_active(None)  # no active window known: with exclusions configured, nothing may be stored
    status = daemon.status_after(1.0)
    assert status["counters"]["records_added"] == 0
    assert daemon.stop()[0] == 0
    assert stored_records(_store_dir(xdg_home)) == []


def test_status_json_while_running_and_from_the_store_when_stopped(make_daemon: MakeDaemon, xvfb: Xvfb) -> None:
    xvfb.fill((0, 120, 120))
    daemon = make_daemon().start()
    wait_until(lambda: daemon.status()["counters"]["records_added"] >= 1, 20, "a record")  # type: ignore[index]
    live = json.loads(daemon.cli("status", "--json").stdout)
    assert live["running"] is True and live["pid"] == daemon.process.pid  # type: ignore[union-attr]
    assert live["device"] == "CPU"
    assert {"frames_waiting", "files_waiting", "in_flight", "to_write"} <= set(live["queues"])
    assert {"frames_dropped", "records_added", "encoded"} <= set(live["counters"])
    assert live["last_frame_ms"] > 0
    assert daemon.stop()[0] == 0
    offline = json.loads(daemon.cli("status", "--json").stdout)
    assert offline["running"] is False and offline["records"] == 1


def test_a_second_daemon_on_the_same_store_exits_with_a_clear_message(make_daemon: MakeDaemon, xvfb: Xvfb) -> None:
    xvfb.fill((10, 200, 10))
    first = make_daemon().start()
    second = make_daemon(name="second").start(wait_running=False)
    assert second.wait_exit(60) == 1
    assert f"another screenrecall (pid {first.process.pid})" in second.log()  # type: ignore[union-attr]
    assert first.stop()[0] == 0


def test_no_display_is_a_clear_start_up_error(make_daemon: MakeDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    daemon = make_daemon().start(wait_running=False)
    assert daemon.wait_exit(60) == 1
    assert "Wayland" in daemon.log() and "Traceback" not in daemon.log()


def test_missing_model_bundle_says_how_to_make_one(make_daemon: MakeDaemon, xvfb: Xvfb, tmp_path: Path) -> None:
    daemon = make_daemon({"model": {"path": str(tmp_path / "no-bundle")}}).start(wait_running=False)
    assert daemon.wait_exit(60) == 1
    assert "screenrecall models export" in daemon.log() and "Traceback" not in daemon.log()


def test_sigterm_during_a_folder_burst_loses_nothing(
    make_daemon: MakeDaemon, xdg_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.images import write_distinct_pngs

    watched = tmp_path / "watched"
    watched.mkdir()
    config = {"capture": {"enabled": False}, "watch": {"folders": [str(watched)]}}
    daemon = make_daemon(config).start()
    files = write_distinct_pngs(watched, 40)
    time.sleep(0.5)  # mid-burst
    code, took = daemon.stop()
    assert code == 0 and took < 10, daemon.log()
    restarted = make_daemon(config, name="restart").start()  # catches up on what was left
    wait_until(lambda: restarted.status()["records"] == len(files), 60, "catch-up of every file")  # type: ignore[index]
    assert restarted.stop()[0] == 0
    assert sorted(r.path for r in stored_records(_store_dir(xdg_home))) == sorted(str(p.resolve()) for p in files)


def test_unreadable_files_and_bad_images_are_skipped_and_good_ones_stored_once(
    make_daemon: MakeDaemon, xdg_home: Path, tmp_path: Path
) -> None:
    from tests.support.images import write_bad_files, write_distinct_pngs

    watched = tmp_path / "watched"
    watched.mkdir()
    config = {"capture": {"enabled": False}, "watch": {"folders": [str(watched)]}}
    daemon = make_daemon(config).start()
    good = write_distinct_pngs(watched, 5)
    bad = write_bad_files(watched)
    good.append(_write_slowly(watched / "slow.png"))
    wait_until(lambda: daemon.status()["records"] == len(good), 30, "good files stored")  # type: ignore[index]
    wait_until(lambda: daemon.status()["counters"]["files_rejected"] >= len(bad), 30, "bad files rejected")  # type: ignore[index]
    assert daemon.process.poll() is None  # type: ignore[union-attr]
    assert daemon.stop()[0] == 0
    restarted = make_daemon(config, name="restart").start()
    after_restart = restarted.status_after(1.5)
    assert after_restart["records"] == len(good)
    # Bad files were remembered: the catch-up does not read (and log) them again.
    assert after_restart["counters"]["files_rejected"] == 0
    assert restarted.stop()[0] == 0
    paths = sorted(r.path for r in stored_records(_store_dir(xdg_home)))
    assert paths == sorted(str(p.resolve()) for p in good)


def _write_slowly(path: Path) -> Path:
    from tests.support.images import png_bytes

    data = png_bytes(seed=99)
    with path.open("wb") as handle:
        for start in range(0, len(data), max(1, len(data) // 5)):
            handle.write(data[start : start + max(1, len(data) // 5)])
            handle.flush()
            os.fsync(handle.fileno())
            time.sleep(0.15)
    return path


def test_the_running_daemon_writes_no_core_file(make_daemon: MakeDaemon, xvfb: Xvfb) -> None:
    xvfb.fill((40, 40, 160))
    daemon = make_daemon().start()
    pid = daemon.process.pid  # type: ignore[union-attr]
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    [core] = [line for line in limits if line.startswith("Max core file size")]
    assert core.split()[4:6] == ["0", "0"]
    assert daemon.stop()[0] == 0
