"""Shared test set-up: the slow-test switch, isolated XDG dirs, and a leaked-thread guard."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.checkpoints import make_tiny_checkpoint
from tests.support.daemon import MakeDaemon, daemon_factory
from tests.support.xvfb import Xvfb

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow (CI does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    # Deselect rather than skip: a skipped test reads as a missing dependency.
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture(autouse=True)
def xdg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own XDG dirs, so nothing touches the real home."""
    home = tmp_path / "home"
    for name, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        path = home / sub
        path.mkdir(parents=True, mode=0o700)
        monkeypatch.setenv(name, str(path))
    for name in list(os.environ):
        if name.startswith("SCREENRECALL_"):
            monkeypatch.delenv(name)
    return home


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """A test that leaves a thread running has a shutdown bug; fail it."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [
            t for t in set(threading.enumerate()) - before if t.is_alive() and not t.daemon and not _is_library_pool(t)
        ]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


def _is_library_pool(thread: threading.Thread) -> bool:
    # Chroma keeps process-wide executor threads alive by design; they are not ours to stop.
    return thread.name.startswith(("ThreadPoolExecutor", "asyncio_"))


@pytest.fixture
def xvfb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Xvfb]:
    """A fresh 640x480 Xvfb with one monitor; DISPLAY points at it, Wayland variables are cleared."""
    with Xvfb() as server:
        monkeypatch.setenv("DISPLAY", server.display)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
        yield server


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Runs the real `screenrecall` command in a child process (python -m, from this checkout)."""
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = os.pathsep.join([str(REPO / "daemon"), child_env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "screenrecall", *args],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight CLIP saved with save_pretrained, with the real CLIP tokenizer."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("checkpoint") / "tiny-clip")


@pytest.fixture(scope="session")
def tiny_bundle(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint turned into an FP16 bundle by our own `models export --from-dir --fp16`
    (the default, INT8 weights, is exported in tests/encode/test_export.py)."""
    home = tmp_path_factory.mktemp("export-home")
    env = {**os.environ, "XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data")}
    out = home / "bundle"
    done = run_cli("models", "export", "--from-dir", str(tiny_checkpoint), "--fp16", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def make_daemon(tmp_path: Path, tiny_bundle: Path) -> Iterator[MakeDaemon]:
    """`make_daemon(*config_layers, name=...)`: real daemons on the tiny bundle (killed at the end if still up)."""
    with daemon_factory(tmp_path, tiny_bundle) as make:
        yield make
