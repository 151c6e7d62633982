"""`screenrecall search | forget` (and pause/status over the API): offline on the store, and through the daemon."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from screenrecall.api.client import ApiClient
from screenrecall.cli import main
from screenrecall.config import load
from screenrecall.store.lock import ProcessLock
from tests.conftest import run_cli
from tests.support.daemon import merged, stored_records, toml_of, wait_until
from tests.support.recall import FAST, Daemons, default_socket, schema_problems, write_image
from tests.support.xvfb import Xvfb

AGES_H = {"red": 3.0, "green": 2.0, "black": 1.0, "white": 0.1}


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> list[dict[str, Any]]:
        assert self.code == 0, self.err
        results: list[dict[str, Any]] = json.loads(self.out)
        return results


class Cli:
    """The real `screenrecall` entry point, called in this process (the slow start of a child is the CLI's
    import of OpenVINO and Chroma, the same code either way)."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self._capsys = capsys

    def __call__(self, *args: str) -> Ran:
        self._capsys.readouterr()
        code = main(["--config", str(self.config), *args])
        out, err = self._capsys.readouterr()
        return Ran(code, out, err)


@pytest.fixture
def config_file(tmp_path: Path, tiny_bundle: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(toml_of(merged(FAST, {"model": {"path": str(tiny_bundle)}})))
    return path


@pytest.fixture
def cli(config_file: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(config_file, capsys)


@pytest.fixture
def pictures(tmp_path: Path) -> dict[str, Path]:
    """Four images, 3 h, 2 h, 1 h and 6 min old (by mtime, which is when a file counts as seen)."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    now = time.time()
    return {c: write_image(folder, f"{c}.png", c, now - hours * 3600) for c, hours in AGES_H.items()}


@pytest.fixture
def ingested(cli: Cli, pictures: dict[str, Path]) -> dict[str, Path]:
    done = cli("ingest", str(next(iter(pictures.values())).parent))
    assert done.code == 0, done.err
    assert "4 stored" in done.out
    return pictures


def names(results: list[dict[str, Any]]) -> list[str]:
    return [Path(r["path"]).stem for r in results]


# --- arguments ---------------------------------------------------------------------------------------


def test_search_needs_exactly_one_of_a_text_or_an_image(cli: Cli, tmp_path: Path) -> None:
    for args in (["search"], ["search", "an invoice", "--image", str(tmp_path / "x.png")]):
        done = cli(*args)
        assert done.code == 1
        assert "give a query text or --image PATH (one of them)" in done.err


def test_an_unreadable_query_image_is_named(cli: Cli, tmp_path: Path) -> None:
    done = cli("search", "--image", str(tmp_path / "missing.png"))
    assert done.code == 1
    assert f"cannot read {tmp_path / 'missing.png'}: No such file or directory" in done.err


def test_bad_times_are_refused_with_the_accepted_forms(cli: Cli) -> None:
    done = cli("search", "an invoice", "--since", "last tuesday")
    assert done.code == 1 and "bad time 'last tuesday'" in done.err and "ISO 8601" in done.err
    done = cli("forget", "--since", "1h", "--until", "2h")
    assert done.code == 1 and "--since is after --until" in done.err


def test_search_with_no_store_yet_finds_nothing(cli: Cli) -> None:
    done = cli("search", "an invoice")
    assert (done.code, done.out.strip()) == (0, "no matching moments")
    assert cli("search", "an invoice", "--json").json() == []


# --- offline: no daemon, the command opens the store itself ----------------------------------------------


def test_offline_search_by_image_finds_the_ingested_file_first(cli: Cli, ingested: dict[str, Path]) -> None:
    results = cli("search", "--image", str(ingested["green"]), "--json").json()
    assert names(results)[0] == "green"
    assert results[0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert len(results) == 4
    for result in results:
        assert schema_problems(result, "Moment") == [], result
        assert {"id", "score", "captured_at", "last_seen", "source", "path", "thumbnail"} <= set(result)
        mtime = ingested[Path(result["path"]).stem].stat().st_mtime
        assert datetime.fromisoformat(result["captured_at"]).timestamp() == pytest.approx(mtime, abs=1)
        assert result["source"] == "folder" and result["monitor"] == 0
        assert Path(result["thumbnail"]).is_file()


@pytest.mark.parametrize(
    ("options", "wanted"),
    [
        (["--since", "90m"], {"black", "white"}),
        (["--until", "90m"], {"red", "green"}),
        (["--since", "150m", "--until", "30m"], {"green", "black"}),
        (["--source", "folder"], {"red", "green", "black", "white"}),
        (["--source", "screen"], set()),
        (["--monitor", "1"], set()),
        (["--app", "."], set()),  # files have no application
        (["--host", "elsewhere"], set()),
        (["--limit", "2"], None),
    ],
)
def test_offline_filters_narrow_the_results(
    cli: Cli, ingested: dict[str, Path], options: list[str], wanted: set[str] | None
) -> None:
    results = cli("search", "--image", str(ingested["red"]), "--json", *options).json()
    if wanted is None:
        assert len(results) == 2
    else:
        assert set(names(results)) == wanted


def test_offline_host_filter_matches_this_machine(cli: Cli, ingested: dict[str, Path], config_file: Path) -> None:
    host = load(config_file).store.host_name()
    assert len(cli("search", "anything", "--json", "--host", host).json()) == 4


def test_the_table_prints_a_header_and_one_row_per_result(cli: Cli, ingested: dict[str, Path]) -> None:
    done = cli("search", "--image", str(ingested["red"]), "--until", "90m")
    assert done.code == 0, done.err
    header, *rows = done.out.strip().splitlines()
    assert header.split() == ["when", "score", "window", "/", "app", "where"]
    assert len(rows) == 2
    assert str(ingested["red"].resolve()) in rows[0]  # best first
    assert str(ingested["green"].resolve()) in rows[1]
    assert "3h ago" in rows[0] and "1.000" in rows[0]


def test_an_impossible_limit_is_refused_offline_too(cli: Cli, ingested: dict[str, Path]) -> None:
    done = cli("search", "anything", "--limit", "0")
    assert done.code == 1
    assert "limit must be 1..200" in done.err


def test_offline_forget_removes_the_records_and_thumbnails_of_the_range_only(
    cli: Cli, ingested: dict[str, Path], xdg_home: Path
) -> None:
    before = {Path(r["path"]).stem: r for r in cli("search", "anything", "--json", "--limit", "20").json()}
    done = cli("forget", "--since", "150m", "--until", "90m")
    assert (done.code, done.out.strip()) == (0, "forgot 1 record(s)")
    after = cli("search", "anything", "--json", "--limit", "20").json()
    assert sorted(names(after)) == ["black", "red", "white"]
    assert not Path(before["green"]["thumbnail"]).exists()
    assert all(Path(before[name]["thumbnail"]).is_file() for name in ("red", "black", "white"))
    store = xdg_home / "data" / "screenrecall" / "store"
    assert sorted(Path(r.path).stem for r in stored_records(store)) == ["black", "red", "white"]


@pytest.mark.slow
def test_offline_commands_refuse_clearly_while_another_process_owns_the_store(config_file: Path) -> None:
    config = load(config_file)
    config.store_dir().mkdir(parents=True)
    with ProcessLock(config.lock_path()):
        for args in (["search", "an invoice"], ["forget", "--since", "1h"]):
            done = run_cli("--config", str(config_file), *args, timeout=120)
            assert done.returncode == 1
            assert f"another screenrecall (pid {os.getpid()}) owns" in done.stderr
            assert "Traceback" not in done.stderr, done.stderr


# --- through the running daemon ---------------------------------------------------------------------


@pytest.fixture
def daemons(tmp_path: Path, tiny_bundle: Path) -> Iterator[Daemons]:
    factory = Daemons(tmp_path, tiny_bundle)
    yield factory
    factory.close()


def _json(done: Any) -> list[dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


@pytest.mark.slow
def test_search_forget_and_pause_go_through_the_running_daemon(
    daemons: Daemons, tmp_path: Path, xdg_home: Path
) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    daemon = daemons.make({"capture": {"enabled": False}, "watch": {"folders": [str(watched)]}}).start()
    now = time.time()
    files = {c: write_image(watched, f"{c}.png", c, now - hours * 3600) for c, hours in AGES_H.items()}
    wait_until(lambda: daemon.status()["records"] == 4, 30, "the watched files stored")  # type: ignore[index]

    # The daemon owns the store: each command below works only through its API.
    results = _json(daemon.cli("search", "--image", str(files["green"]), "--json"))
    assert names(results)[0] == "green" and results[0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert all(schema_problems(r, "Moment") == [] for r in results)
    assert set(names(_json(daemon.cli("search", "anything", "--since", "90m", "--json")))) == {"black", "white"}
    table = daemon.cli("search", "anything", "--source", "folder", "--until", "150m")
    assert len(table.stdout.strip().splitlines()) == 2 and str(files["red"].resolve()) in table.stdout

    forget = daemon.cli("forget", "--since", "150m", "--until", "90m")
    assert (forget.returncode, forget.stdout.strip()) == (0, "forgot 1 record(s)"), forget.stderr
    api = ApiClient(default_socket())
    remaining = api.request("POST", "/v1/search", {"text": "anything", "limit": 20})["results"]
    assert sorted(names(remaining)) == ["black", "red", "white"]
    assert not Path(results[0]["thumbnail"]).exists()  # green's

    paused = daemon.cli("pause", "--for", "90s")
    assert paused.returncode == 0 and "paused for 90s" in paused.stdout
    status = json.loads(daemon.cli("status", "--json").stdout)
    assert status["paused"] is True and status["running"] is True and status["records"] == 3
    assert daemon.cli("resume").returncode == 0
    assert api.request("GET", "/v1/status")["paused"] is False
    assert daemon.stop()[0] == 0


@pytest.mark.slow
@pytest.mark.display
def test_screen_records_are_found_by_app_monitor_source_and_host(
    daemons: Daemons, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    write_image(watched, "photo.png", "white", time.time() - 60)
    with Xvfb(width=320, height=240, monitors=2) as screen:
        monkeypatch.setenv("DISPLAY", screen.display)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
        screen.fill((90, 90, 90))
        browser = screen.show_window(
            (220, 30, 30), 20, 20, 200, 150, title="Invoice 4471 - Mozilla Firefox", app="Firefox"
        )
        screen.set_active(browser)
        config: dict[str, dict[str, Any]] = {"watch": {"folders": [str(watched)]}, "store": {"host": "desk"}}
        daemon = daemons.make(config).start()
        wait_until(lambda: daemon.status()["records"] >= 3, 30, "both monitors and the photo")  # type: ignore[index]
        terminal = screen.show_window((30, 200, 30), 340, 20, 200, 150, title="make test", app="XTerm")
        screen.set_active(terminal)
        # New content while the terminal is active, whatever a grab between the two calls above saw.
        screen.show_window((30, 30, 220), 360, 60, 80, 60)
        api = ApiClient(default_socket())

        def found(**filters: Any) -> list[dict[str, Any]]:
            body = {"text": "a window", "limit": 50, **filters}
            results: list[dict[str, Any]] = api.request("POST", "/v1/search", body)["results"]
            return results

        wait_until(lambda: len(found(app="xterm")) >= 1, 30, "a record of the terminal")
        for result in found(app="xterm"):
            assert (result["source"], result["monitor"], result["window_title"]) == ("screen", 2, "make test")
        firefox = _json(daemon.cli("search", "a window", "--app", "^fire", "--json"))
        assert {r["monitor"] for r in firefox} >= {1}
        assert all(r["app"] == "Firefox" and r["window_title"].startswith("Invoice 4471") for r in firefox)
        assert {r["monitor"] for r in found(monitor=1)} == {1}
        screens, folders = found(source="screen"), found(source="folder")
        assert screens and {r["source"] for r in screens} == {"screen"}
        assert [Path(r["path"]).name for r in folders] == ["photo.png"]
        assert len(found(host="desk")) == len(screens) + 1 and found(host="laptop") == []
        table = daemon.cli("search", "a window", "--monitor", "1", "--app", "firefox")
        rows = table.stdout.strip().splitlines()[1:]
        assert rows and all("[monitor 1] Invoice 4471" in row for row in rows)
        assert daemon.stop()[0] == 0
