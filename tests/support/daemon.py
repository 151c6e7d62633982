"""Runs the real daemon (`python -m screenrecall run`) in a child process, and reads its store.

Shared by the tests and the daemon benchmarks (bench/harness/daemon.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from screenrecall.api.client import ApiClient
from screenrecall.pipeline.messages import Record
from screenrecall.store.chroma import Store

REPO = Path(__file__).resolve().parent.parent.parent

FAST_CONFIG: dict[str, dict[str, Any]] = {
    "capture": {"interval_s": 0.25, "heartbeat_s": 1.0},
    "store": {"flush_interval_s": 0.2},
    "watch": {"settle_s": 0.3},
    # Identical frames embed identically (cosine 1.0); a random-weight model puts different
    # screens close together, so only near-exact repeats may count as the same moment here.
    "dedup": {"cosine": 0.9999},
    "model": {"cache": False},
    # OCR costs seconds of CPU per changed frame; the tests that are about OCR turn it on.
    "ocr": {"enabled": False},
}


def toml_of(config: Mapping[str, Mapping[str, Any]]) -> str:
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


def merged(*layers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for section, values in layer.items():
            out.setdefault(section, {}).update(values)
    return out


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Daemon:
    """`screenrecall run` with a config file; the environment (XDG dirs, DISPLAY) is the test's."""

    def __init__(self, config_path: Path, log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.env["PYTHONPATH"] = str(REPO / "daemon")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_running: bool = True) -> Daemon:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "screenrecall", "--config", str(self.config_path), "run"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait_running:
            wait_until(self.is_running_and_ready, 60, "the daemon to report running")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "the daemon is not started"
        return self.process.pid

    @property
    def socket(self) -> Path:
        return Path(self.env["XDG_RUNTIME_DIR"]) / "screenrecall" / "api.sock"

    def wait_api(self, timeout: float = 60.0) -> None:
        """Until the API answers on its socket (api.enabled); fails early if the daemon exits."""
        client = ApiClient(self.socket, timeout=10)
        wait_until(lambda: self.is_running() and self.socket.exists() and client.available(), timeout, "the API")

    def is_running(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"daemon exited {self.process.returncode}:\n{self.log()}")
        return True

    def is_running_and_ready(self) -> bool:
        return self.is_running() and self.status() is not None

    def status(self) -> dict[str, Any] | None:
        path = Path(self.env["XDG_RUNTIME_DIR"]) / "screenrecall" / "status.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data

    def status_after(self, delay_s: float, timeout: float = 15.0) -> dict[str, Any]:
        """The first status written at least delay_s from now (its updated_ms says when): what the
        daemon saw over that time, not a file left from before it (the file is rewritten at once on
        a change, and every 5 s otherwise)."""
        since_ms = int((time.time() + delay_s) * 1000)
        found: dict[str, Any] = {}

        def written() -> bool:
            nonlocal found
            found = self.status() or {}
            return int(found.get("updated_ms", 0)) >= since_ms

        wait_until(written, delay_s + timeout, f"a status written after {delay_s} s")
        return found

    def search(self, *args: str) -> list[dict[str, Any]]:
        """`screenrecall search ARGS --json`, which must succeed; the results."""
        done = self.cli("search", *args, "--json")
        assert done.returncode == 0, done.stderr
        results: list[dict[str, Any]] = json.loads(done.stdout)
        return results

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "screenrecall", "--config", str(self.config_path), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def stop(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds it took)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def stored_records(store_dir: Path) -> list[Record]:
    """Every record, read with our own Store (the daemon must be stopped: one owner at a time)."""
    with Store.open(store_dir) as store:
        return list(store.records(with_text=True))


MakeDaemon = Callable[..., Daemon]


@contextlib.contextmanager
def daemon_factory(root: Path, bundle: Path) -> Iterator[MakeDaemon]:
    """`make(*layers, name="daemon")`: a Daemon on FAST_CONFIG with the bundle and these config layers
    (not started); every one still running at the end is killed."""
    made: list[Daemon] = []

    def make(*layers: dict[str, dict[str, Any]], name: str = "daemon") -> Daemon:
        config = merged(FAST_CONFIG, {"model": {"path": str(bundle)}}, *layers)
        path = root / f"{name}.toml"
        path.write_text(toml_of(config))
        daemon = Daemon(path, root / f"{name}.log")
        made.append(daemon)
        return daemon

    try:
        yield make
    finally:
        for daemon in made:
            if daemon.process is not None and daemon.process.poll() is None:
                daemon.kill()
