"""Keeps screen contents out of core dumps: no core file, and a process others cannot ptrace-read."""

from __future__ import annotations

import ctypes
import logging
import resource

from screenrecall.system.libc import libc

logger = logging.getLogger(__name__)

_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4


def _prctl(option: int, arg: int = 0) -> int:
    lib = libc()
    if lib is None:
        raise OSError("no C library to call prctl in")
    result = int(lib.prctl(option, ctypes.c_ulong(arg), 0, 0, 0))
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
