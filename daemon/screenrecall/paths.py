"""Where screenrecall keeps things: the XDG base directories, created private (0700)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP = "screenrecall"


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
        return Path(value) / APP
    # No runtime dir (e.g. a bare ssh session): fall back to the cache dir, never /tmp.
    return cache_dir(environ) / "run"


def models_dir(environ: Mapping[str, str] | None = None) -> Path:
    return data_dir(environ) / "models"


def default_model_dir(environ: Mapping[str, str] | None = None) -> Path:
    return models_dir(environ) / "default"


def ov_cache_dir(openvino_version: str, environ: Mapping[str, str] | None = None) -> Path:
    # Versioned: a blob compiled by one OpenVINO release must not be loaded by another.
    return cache_dir(environ) / "ov-cache" / openvino_version


def ensure_private_dir(path: Path) -> Path:
    """Creates path and any missing parents 0700 (whatever the umask); makes the leaf 0700."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)
    return path
