"""Runs a check as user nobody in a forked child: root ignores file modes, so tests of them must not."""

from __future__ import annotations

import os
from collections.abc import Callable

NOBODY = 65534


def as_nobody(check: Callable[[], str]) -> str:
    """check()'s answer, computed in a child that dropped to nobody (needs root to drop)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        answer = b"child failed"
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            answer = check().encode()
        finally:
            os.write(write_end, answer)
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer_bytes = pipe.read()
    os.waitpid(pid, 0)
    return answer_bytes.decode()
