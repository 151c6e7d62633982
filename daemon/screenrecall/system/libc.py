"""The C library, loaded once for the few calls Python has no wrapper for (mallopt, malloc_trim, prctl)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def libc() -> ctypes.CDLL | None:
    """glibc by its soname first: find_library() runs ldconfig in a child process, so only if that
    fails (another C library); None when there is none to load."""
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        pass
    found = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(found, use_errno=True) if found else None
    except OSError:
        return None
