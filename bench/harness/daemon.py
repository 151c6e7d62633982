"""The real daemon as a child process for the daemon benchmarks (tests.support.daemon.Daemon),
on the benchmark's bundle, with a config file written from sections."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.daemon import Daemon, merged, toml_of

logger = logging.getLogger(__name__)
Sections = Mapping[str, Mapping[str, Any]]


def daemon_config(bundle: Path, **overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The bundle on the CPU with the compiled-model cache on; everything else the defaults."""
    return merged({"model": {"path": str(bundle), "device": "CPU", "cache": True}}, overrides)


def daemon_in(workdir: Path, name: str, env: Mapping[str, str], sections: Sections) -> Daemon:
    """A Daemon with its config in workdir/NAME.toml and its log in workdir/daemon.log (not started)."""
    config = workdir / f"{name}.toml"
    config.write_text(toml_of(sections), encoding="utf-8")
    return Daemon(config, workdir / "daemon.log", env)


@contextmanager
def running(daemon: Daemon, timeout: float = 180.0) -> Iterator[float]:
    """Starts the daemon, yields the seconds until its API answered, and always stops it."""
    began = time.monotonic()
    try:
        daemon.start(wait_running=False)
        daemon.wait_api(timeout)
        yield time.monotonic() - began
    finally:
        code = _stop(daemon)
        if code != 0:
            logger.warning("the daemon exited %d; its log ends:\n%s", code, daemon.log()[-3000:])


def _stop(daemon: Daemon, timeout: float = 30.0) -> int:
    """SIGTERM, then SIGKILL if it does not stop in time; returns the exit code."""
    if daemon.process is None:
        return 0
    if daemon.process.poll() is not None:
        return daemon.process.returncode
    try:
        return daemon.stop(timeout)[0]
    except subprocess.TimeoutExpired:
        logger.warning("the daemon did not stop within %.0f s; killing it", timeout)
        daemon.kill()
        return daemon.process.returncode


def cli(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m screenrecall --config FILE ARGS` against the daemon; a failure ends the benchmark."""
    done = daemon.cli(*args)
    done.check_returncode()
    return done
