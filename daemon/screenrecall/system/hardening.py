"""Keeps screen contents out of core dumps: no core file, and a process others cannot ptrace-read."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import resource

logger = logging.getLogger(__name__)

_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4


def _prctl(option: int, arg: int = 0) -> int:
    try:  # glibc by its soname; find_library() runs ldconfig in a child process
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    result = int(libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0))
    if result < 0:
        raise OSError(ctypes.get_errno(), "prctl failed")
    return result


def make_undumpable() -> None:
    """A crash of a process holding raw frames must not write them to disk (systemd-coredump, a
    `core` file) nor let another process of the user read its memory through /proc or ptrace.

    RLIMIT_CORE 0 stops core files; PR_SET_DUMPABLE 0 also stops core pipes (systemd-coredump
    ignores the limit) and makes /proc/PID/mem and ptrace attach refused for same-uid processes
    without CAP_SYS_PTRACE. Both are irreversible for this process only, which is what we want.
    Failure is logged, never fatal: the unit's LimitCORE=0 still applies.
    """
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (OSError, ValueError) as exc:
        logger.warning("could not turn core dumps off: %s", exc)
    try:
        _prctl(_PR_SET_DUMPABLE, 0)
    except OSError as exc:
        logger.warning("could not make the process non-dumpable: %s", exc)


def is_dumpable() -> bool:
    return _prctl(_PR_GET_DUMPABLE) != 0
