"""XDG locations, and private (0700) directories whatever the umask."""

from __future__ import annotations

import os
from pathlib import Path

from screenrecall import paths


def test_relative_xdg_values_are_ignored(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": "relative/dir"}
    assert paths.data_dir(env) == Path.home() / ".local/share/screenrecall"


def test_runtime_dir_falls_back_to_cache_not_tmp() -> None:
    env = {"XDG_CACHE_HOME": "/c"}
    assert paths.runtime_dir(env) == Path("/c/screenrecall/run")


def test_private_dir_and_missing_parents_are_0700_despite_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        leaf = paths.ensure_private_dir(tmp_path / "a" / "b" / "c")
    finally:
        os.umask(old)
    for directory in (tmp_path / "a", tmp_path / "a" / "b", leaf):
        assert directory.stat().st_mode & 0o777 == 0o700


def test_existing_open_leaf_of_ours_is_tightened(tmp_path: Path) -> None:
    (tmp_path / "screenrecall" / "open").mkdir(parents=True, mode=0o755)
    assert paths.ensure_private_dir(tmp_path / "screenrecall" / "open").stat().st_mode & 0o777 == 0o700
