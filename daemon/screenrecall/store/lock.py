"""Makes one process the store's only owner: an flock on a lock file that holds the owner's pid."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType

from screenrecall.errors import ScreenrecallError

logger = logging.getLogger(__name__)


class StoreLocked(ScreenrecallError):  # noqa: N818 -- the agreed public name
    """Another process owns the store; two Chroma writers on one directory corrupt its index."""


class ProcessLock:
    """An exclusive, non-blocking flock; the kernel releases it when the holder dies, even by kill -9."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Takes the lock at once or raises StoreLocked naming the holder's pid."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already locked by this ProcessLock")
        # Not inherited by children (PEP 446), so a spawned helper cannot keep the store locked.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StoreLocked(_locked_message(holder, self.path)) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        logger.debug("locked %s (pid %d)", self.path, os.getpid())

    def release(self) -> None:
        """Drops the lock; the file stays, because unlinking a lock file races with the next taker."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # an empty file reads as "nobody", not as our stale pid
        finally:
            os.close(fd)  # closing the last descriptor drops the flock
        logger.debug("unlocked %s", self.path)

    def __enter__(self) -> ProcessLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    @staticmethod
    def is_held(path: Path) -> bool:
        """True when some process (this one included) holds the lock; never creates the file."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            # A shared probe: it conflicts with the owner's exclusive lock but not with other probes.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    @staticmethod
    def holder_pid(path: Path) -> int | None:
        """The pid written by the current holder, or None when the lock is free or the pid unreadable."""
        if not ProcessLock.is_held(path):
            return None
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            return _read_pid(fd)
        finally:
            os.close(fd)


def _read_pid(fd: int) -> int | None:
    # The holder writes its pid just after locking: an empty read is that brief window.
    raw = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    return int(raw) if raw.isdigit() else None


def _locked_message(pid: int | None, path: Path) -> str:
    who = f"pid {pid}" if pid is not None else "pid unknown"
    return f"another screenrecall ({who}) owns {path}; stop it first: systemctl --user stop screenrecall"
