"""The one typed, validated configuration object and how it is loaded.

Layers, later wins: built-in defaults <- $XDG_CONFIG_HOME/screenrecall/config.toml <- --config PATH
<- environment variables SCREENRECALL_<SECTION>__<KEY>.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from screenrecall import paths
from screenrecall.config_sections import (
    REDACTION_KINDS,
    ApiConfig,
    CaptureConfig,
    DedupConfig,
    FramesConfig,
    GateConfig,
    LogConfig,
    McpConfig,
    ModelConfig,
    OcrConfig,
    PrivacyConfig,
    RedactionConfig,
    RetentionConfig,
    Section,
    StoreConfig,
    ThumbnailConfig,
    TilesConfig,
    WatchConfig,
    is_loopback,
)
from screenrecall.errors import ScreenrecallError

ENV_PREFIX = "SCREENRECALL_"

# The sections are importable from here too: the rest of the package asks `config` for them.
__all__ = [
    "REDACTION_KINDS",
    "ApiConfig",
    "CaptureConfig",
    "Config",
    "ConfigError",
    "DedupConfig",
    "FramesConfig",
    "GateConfig",
    "LogConfig",
    "McpConfig",
    "ModelConfig",
    "OcrConfig",
    "PrivacyConfig",
    "RedactionConfig",
    "RetentionConfig",
    "StoreConfig",
    "ThumbnailConfig",
    "TilesConfig",
    "WatchConfig",
    "is_loopback",
    "load",
    "validate",
]


class ConfigError(ScreenrecallError):
    """A config file or value is unusable; the message names the key path and the value."""


class Config(Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    tiles: TilesConfig = Field(default_factory=TilesConfig)
    ocr: OcrConfig = Field(default_factory=OcrConfig)
    redaction: RedactionConfig = Field(default_factory=RedactionConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)
    thumbnails: ThumbnailConfig = Field(default_factory=ThumbnailConfig)
    frames: FramesConfig = Field(default_factory=FramesConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    log: LogConfig = Field(default_factory=LogConfig)

    def model_dir(self) -> Path:
        return Path(self.model.path).expanduser() if self.model.path else paths.default_model_dir()

    def socket_path(self) -> Path:
        return Path(self.api.socket).expanduser() if self.api.socket else paths.runtime_dir() / "api.sock"

    def store_dir(self) -> Path:
        return Path(self.store.path).expanduser() if self.store.path else paths.data_dir() / "store"

    def lock_path(self) -> Path:
        """The store owner's lock file, beside the store directory."""
        store = self.store_dir()
        return store.with_name(store.name + ".lock")


def load(config_path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Builds the effective config; raises ConfigError naming the bad key and value."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    user_file = paths.config_file(environ)
    for source in (user_file, config_path):
        if source is not None and (source == config_path or source.exists()):
            _merge(merged, _read_toml(source))
    _merge(merged, _from_env(environ))
    return validate(merged)


def validate(data: Mapping[str, Any]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        out.setdefault(section, {})[key] = _parse_env_value(raw)
    return out


def _parse_env_value(raw: str) -> Any:
    """TOML literal when it is one (2, true, ["a"]), else the plain string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key")
        else:
            lines.append(f"{key} = {error['input']!r}: {error['msg']}")
    return "invalid config:\n  " + "\n  ".join(lines)
