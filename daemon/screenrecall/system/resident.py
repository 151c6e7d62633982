"""Keeps the daemon's resident memory near what it really uses (glibc's heap, model files).

Three leaks of resident memory that are not leaks of objects, each measured by bench/memory.py:
- glibc gives every thread that allocates its own arena (up to 8 per core) and rarely returns
  their free pages: OpenVINO's worker threads, the stages and the API all allocate;
- freed heap memory stays mapped until malloc_trim() gives it back;
- the model's weight files are read through mmap while compiling; the CPU plugin keeps its own
  copy, but the file's pages stay counted in the daemon's RSS until the kernel needs them.
All of it is glibc and Linux specific; elsewhere every call here does nothing and says so.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
import time
from collections.abc import Iterable
from pathlib import Path

from screenrecall.system.libc import libc

logger = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # glibc's mallopt parameter number
MALLOC_ARENAS = 2
TRIM_EVERY_S = 30.0


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (has mallopt and malloc_trim)."""
    found = libc()
    return found if found is not None and hasattr(found, "malloc_trim") and hasattr(found, "mallopt") else None


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Caps glibc's malloc arenas (call before threads start; later ones obey it too)."""
    glibc = _glibc()
    return glibc is not None and bool(glibc.mallopt(_M_ARENA_MAX, arenas))


def trim_heap() -> bool:
    """Gives the heap's free pages back to the system; True when some were."""
    glibc = _glibc()
    return glibc is not None and bool(glibc.malloc_trim(0))


def drop_file_pages(folders: Iterable[Path]) -> int:
    """Drops the resident pages of this process's read-only mappings of files under `folders` (the
    model bundle, OpenVINO's model cache); returns the bytes advised.

    Only mappings without write permission: their pages are clean copies of the file, so the
    kernel reads them again if anything touches them later (a private, writable mapping could hold
    changes that dropping would lose).
    """
    prefixes = tuple(os.path.realpath(folder) + os.sep for folder in folders)
    dropped = 0
    for start, end, perms, path in _mappings():
        if path.startswith(prefixes) and "w" not in perms and _madvise_dontneed(start, end - start):
            dropped += end - start
    return dropped


def _mappings() -> list[tuple[int, int, str, str]]:
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/"):
            start, end = (int(part, 16) for part in fields[0].split("-"))
            found.append((start, end, fields[1], fields[5]))
    return found


def _madvise_dontneed(start: int, length: int) -> bool:
    glibc = _glibc()
    if glibc is None:
        return False
    done: bool = glibc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(length), mmap.MADV_DONTNEED) == 0
    if not done:
        logger.debug("madvise(DONTNEED) failed: %s", os.strerror(ctypes.get_errno()))
    return done


class PeriodicTrim:
    """Trims the heap at most every `every_s` seconds, from a loop that comes round often."""

    def __init__(self, every_s: float = TRIM_EVERY_S) -> None:
        self._every_s = every_s
        self._due = time.monotonic() + every_s
        self.trims = 0

    def maybe(self) -> bool:
        now = time.monotonic()
        if now < self._due:
            return False
        self._due = now + self._every_s
        self.trims += 1
        return trim_heap()
