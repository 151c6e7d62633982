"""Where screenrecall keeps things: the XDG base directories, created private (0700), trusted only
when they are really ours."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from screenrecall.errors import ScreenrecallError

APP = "screenrecall"

logger = logging.getLogger(__name__)


class UnsafePathError(ScreenrecallError):
    """A directory we would keep private things in is not ours, is a symlink, or others may write it."""


def _base(name: str, fallback: str, environ: Mapping[str, str] | None) -> Path:
    env = os.environ if environ is None else environ
    value = env.get(name, "")
    # The XDG spec says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_file(environ: Mapping[str, str] | None = None) -> Path:
    return _base("XDG_CONFIG_HOME", ".config", environ) / APP / "config.toml"


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    return _base("XDG_DATA_HOME", ".local/share", environ) / APP


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    return _base("XDG_CACHE_HOME", ".cache", environ) / APP


def runtime_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    value = env.get("XDG_RUNTIME_DIR", "")
    if value and os.path.isabs(value):
        problem = _untrusted(Path(value))
        if not problem:
            return Path(value) / APP
        logger.warning("XDG_RUNTIME_DIR=%s is not used: %s; using the cache dir instead", value, problem)
    # No usable runtime dir (a bare ssh session, or one we cannot trust): the cache dir, never /tmp.
    return cache_dir(environ) / "run"


def _untrusted(directory: Path) -> str:
    """Why a runtime dir must not hold our socket, token and pause file ("" = it may): it must be a
    real directory (no symlink), ours, and closed to everyone else (0700), as pam_systemd makes it."""
    try:
        info = directory.lstat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "not a directory (a symlink?)"
    if info.st_uid != os.getuid():
        return f"owned by uid {info.st_uid}, not by us"
    if info.st_mode & 0o077:
        return f"mode {stat.S_IMODE(info.st_mode):o}, open to others"
    return ""


def models_dir(environ: Mapping[str, str] | None = None) -> Path:
    return data_dir(environ) / "models"


def default_model_dir(environ: Mapping[str, str] | None = None) -> Path:
    return models_dir(environ) / "default"


def ov_cache_dir(openvino_version: str, environ: Mapping[str, str] | None = None) -> Path:
    # Versioned: a blob compiled by one OpenVINO release must not be loaded by another.
    return cache_dir(environ) / "ov-cache" / openvino_version


def ensure_private_dir(path: Path) -> Path:
    """Creates path and any missing parents 0700 (whatever the umask), and returns it.

    An existing leaf must be a directory owned by us. One of ours (a path with a `screenrecall`
    component) is tightened to 0700; any other (a custom `api.socket` in $HOME) keeps its mode,
    never chmodded, but is refused when others may write into it (/tmp). A symlink is followed to a
    directory of ours that others cannot write (a data dir moved to another disk), never chmodded,
    and refused for the runtime subdir.
    """
    missing = []
    probe = path
    while not os.path.lexists(probe):
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)
    if missing:
        return path
    if path.is_symlink():
        # A data dir moved to a bigger disk is a symlink, and fine when its target is private and
        # ours; the runtime dir's subdir (socket, token, pause file) must be the real thing.
        if path == runtime_dir():
            raise UnsafePathError(f"{path} is a symlink; refusing to keep the socket and token there")
        _check_mine(path.resolve(), path)
        return path
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"{path} is not a directory; refusing to keep private files there")
    if info.st_uid != os.getuid():
        raise UnsafePathError(f"{path} belongs to uid {info.st_uid}, not to us; refusing to keep private files there")
    if info.st_mode & 0o077:
        if APP in path.parts:
            path.chmod(0o700)  # ours (made by an older version, or under another umask)
        elif info.st_mode & 0o022:
            raise UnsafePathError(
                f"{path} can be written by others (mode {stat.S_IMODE(info.st_mode):o}); choose a private directory"
            )
    return path


def _check_mine(target: Path, named: Path) -> None:
    """Refuses a directory that is not ours, or that others may write into (they could swap our files)."""
    info = target.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"{named} is not a directory; refusing to keep private files there")
    if info.st_uid != os.getuid():
        raise UnsafePathError(f"{named} belongs to uid {info.st_uid}, not to us; refusing to keep private files there")
    if info.st_mode & 0o022:
        raise UnsafePathError(
            f"{named} can be written by others (mode {stat.S_IMODE(info.st_mode):o}); choose a private directory"
        )
