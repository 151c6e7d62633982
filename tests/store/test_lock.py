"""Tests for the single-owner process lock, with a real second process holding it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from screenrecall.store.lock import ProcessLock, StoreLocked

DAEMON_DIR = Path(__file__).resolve().parents[2] / "daemon"

HOLDER = """
import sys, time
from pathlib import Path
from screenrecall.store.lock import ProcessLock
lock = ProcessLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / "store.lock"


@pytest.fixture
def holder(lock_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A second process that holds the lock until killed."""
    env = {**os.environ, "PYTHONPATH": str(DAEMON_DIR)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_acquire_writes_our_pid_into_a_private_file(lock_path: Path) -> None:
    with ProcessLock(lock_path) as lock:
        assert lock.held
        assert lock_path.read_text().strip() == str(os.getpid())
        assert stat.S_IMODE(lock_path.stat().st_mode) == 0o600


def test_refuses_when_another_process_holds_it_and_names_the_holder(
    lock_path: Path, holder: subprocess.Popen[str]
) -> None:
    lock = ProcessLock(lock_path)
    with pytest.raises(StoreLocked) as info:
        lock.acquire()
    message = str(info.value)
    assert f"pid {holder.pid}" in message
    assert str(lock_path) in message
    assert "systemctl --user stop screenrecall" in message
    assert not lock.held


def test_lock_is_freed_when_the_holder_is_killed(lock_path: Path, holder: subprocess.Popen[str]) -> None:
    assert ProcessLock.is_held(lock_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    with ProcessLock(lock_path):
        assert lock_path.read_text().strip() == str(os.getpid())


def test_is_held_sees_another_process_and_does_not_keep_the_lock(
    lock_path: Path, holder: subprocess.Popen[str]
) -> None:
    assert ProcessLock.is_held(lock_path)
    assert ProcessLock.holder_pid(lock_path) == holder.pid
    # The probe must not have left anything held: the holder still owns it alone.
    assert ProcessLock.is_held(lock_path)


def test_is_held_is_false_for_a_missing_file_and_does_not_create_it(lock_path: Path) -> None:
    assert not ProcessLock.is_held(lock_path)
    assert ProcessLock.holder_pid(lock_path) is None
    assert not lock_path.exists()


def test_release_lets_the_next_owner_in_and_clears_the_pid(lock_path: Path) -> None:
    first = ProcessLock(lock_path)
    first.acquire()
    assert ProcessLock.is_held(lock_path)
    first.release()
    assert not ProcessLock.is_held(lock_path)
    assert lock_path.read_text() == ""
    assert ProcessLock.holder_pid(lock_path) is None
    with ProcessLock(lock_path):
        assert ProcessLock.is_held(lock_path)


def test_a_second_lock_in_the_same_process_is_refused(lock_path: Path) -> None:
    with ProcessLock(lock_path), pytest.raises(StoreLocked, match=f"pid {os.getpid()}"):
        ProcessLock(lock_path).acquire()


def test_context_manager_releases_on_error(lock_path: Path) -> None:
    with pytest.raises(ValueError, match="boom"), ProcessLock(lock_path):
        raise ValueError("boom")
    assert not ProcessLock.is_held(lock_path)


def test_release_is_idempotent(lock_path: Path) -> None:
    lock = ProcessLock(lock_path)
    lock.release()
    lock.acquire()
    lock.release()
    lock.release()
    assert not lock.held
