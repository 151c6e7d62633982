"""The C library loads by glibc's soname: no ldconfig child (find_library's) for the daemon or the CLI."""

from __future__ import annotations

import subprocess

import pytest

from screenrecall.system import hardening, resident
from screenrecall.system.libc import libc


def test_glibc_loads_by_its_soname_without_starting_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    original = subprocess.Popen.__init__

    def spy(self: subprocess.Popen[bytes], *args: object, **kwargs: object) -> None:
        started.append(args[0] if args else kwargs.get("args"))
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    libc.cache_clear()
    monkeypatch.setattr(subprocess.Popen, "__init__", spy)
    loaded = libc()
    resident.trim_heap()
    hardening.is_dumpable()
    assert loaded is not None and hasattr(loaded, "prctl")
    assert started == []
