"""Private XDG dirs (data, config, runtime) under a temp dir, so a benchmark never touches the user's store;
the compiled-model cache is shared between runs."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

_DIRS = {"XDG_CONFIG_HOME": "config", "XDG_DATA_HOME": "data", "XDG_RUNTIME_DIR": "run"}


def private_dirs(root: Path, xdg_cache: Path) -> dict[str, str]:
    """Makes the dirs (0700); returns the XDG variables naming them."""
    dirs = {name: root / sub for name, sub in _DIRS.items()} | {"XDG_CACHE_HOME": xdg_cache}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {name: str(path) for name, path in dirs.items()}


def private_env(root: Path, xdg_cache: Path) -> dict[str, str]:
    """os.environ for a child daemon: private XDG dirs, no SCREENRECALL_* overrides, X11 only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCREENRECALL_")}
    env.pop("WAYLAND_DISPLAY", None)
    return env | private_dirs(root, xdg_cache)


@contextmanager
def private_home(root: Path, xdg_cache: Path) -> Iterator[None]:
    """The same dirs for this process (paths.py reads os.environ), restored afterwards."""
    dirs = private_dirs(root, xdg_cache)
    with restored_environ(dirs):
        os.environ.update(dirs)
        yield


@contextmanager
def restored_environ(names: Iterable[str]) -> Iterator[None]:
    """These variables of os.environ as they were before, whatever the block set or removed."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
