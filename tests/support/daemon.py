"""Runs the real daemon (`python -m screenrecall run`) in a child process, and reads its store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from screenrecall.frames import Record
from screenrecall.store import Store

REPO = Path(__file__).resolve().parent.parent.parent

FAST_CONFIG = {
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

    def is_running_and_ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"daemon exited {self.process.returncode}:\n{self.log()}")
        return self.status() is not None

    def status(self) -> dict[str, Any] | None:
        path = Path(self.env["XDG_RUNTIME_DIR"]) / "screenrecall" / "status.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data

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
