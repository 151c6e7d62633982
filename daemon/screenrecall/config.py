"""The one typed, validated configuration object and how it is loaded.

Layers, later wins: built-in defaults <- $XDG_CONFIG_HOME/screenrecall/config.toml <- --config PATH
<- environment variables SCREENRECALL_<SECTION>__<KEY>.
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from screenrecall import paths
from screenrecall.errors import ScreenrecallError

ENV_PREFIX = "SCREENRECALL_"


class ConfigError(ScreenrecallError):
    """A config file or value is unusable; the message names the key path and the value."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ModelConfig(_Section):
    path: str = Field("", description="Model bundle dir; empty = $XDG_DATA_HOME/screenrecall/models/default")
    device: str = Field(
        "auto",
        min_length=1,
        description="OpenVINO device: auto (NPU if present, else CPU), CPU, NPU, GPU or a full device string",
    )
    fallback: bool = Field(False, description="Fall back to CPU (one warning) when the named device is missing")
    jobs: int = Field(2, ge=1, le=16, description="Inference requests in flight (AsyncInferQueue size)")
    cache: bool = Field(True, description="Cache compiled models under $XDG_CACHE_HOME/screenrecall/ov-cache")


class CaptureConfig(_Section):
    enabled: bool = Field(True, description="Sample the screen at all")
    interval_s: float = Field(2.0, ge=0.1, le=3600, description="Seconds between screen samples")
    monitors: list[int] = Field(default_factory=list, description="1-based monitor numbers; empty = all")
    heartbeat_s: float = Field(60.0, ge=1, le=86400, description="Re-confirm a still screen this often")
    max_queue_frames: int = Field(4, ge=1, le=256, description="Live frames waiting for the encoder")

    @field_validator("monitors")
    @classmethod
    def _positive_monitors(cls, value: list[int]) -> list[int]:
        if any(m < 1 for m in value):
            raise ValueError("monitor numbers start at 1")
        return value


class GateConfig(_Section):
    threshold: float = Field(
        0.01,
        ge=0.0,
        le=1.0,
        description="Mean absolute grey-level change (0..1) below which a frame is unchanged",
    )


class WatchConfig(_Section):
    folders: list[str] = Field(default_factory=list, description="Folders whose new images are ingested")
    recursive: bool = Field(True, description="Also watch sub-folders")
    extensions: list[str] = Field(
        default_factory=lambda: ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"],
        min_length=1,
        description="Image file extensions taken (lower case, no dot)",
    )
    settle_s: float = Field(1.0, ge=0.0, le=600, description="A file must be unchanged this long to be read")
    max_image_pixels: int = Field(89_478_485, ge=1, description="Larger images are refused as decompression bombs")


class DedupConfig(_Section):
    cosine: float = Field(
        0.98,
        ge=0.0,
        le=1.0,
        description="Cosine to the monitor's last record at or above which it is extended",
    )


class StoreConfig(_Section):
    path: str = Field("", description="Chroma dir; empty = $XDG_DATA_HOME/screenrecall/store")
    batch_size: int = Field(64, ge=1, le=5000, description="Records written to Chroma in one add")
    flush_interval_s: float = Field(0.25, ge=0.05, le=60, description="Longest a record waits to be written")
    url: str = Field(
        "", description="A shared Chroma server (`chroma run`), e.g. http://127.0.0.1:8000; empty = embedded store"
    )
    host: str = Field("", description="This machine's name on its records; empty = the hostname")

    def host_name(self) -> str:
        return self.host or socket.gethostname()


class OcrConfig(_Section):
    enabled: bool = Field(True, description="Read the text of kept frames, so screens are found by their words")
    changed_regions: bool = Field(True, description="Read only where a screen changed; carry the rest over")
    min_score: float = Field(0.5, ge=0.0, le=1.0, description="OCR lines less certain than this are dropped")
    threads: int = Field(1, ge=1, le=64, description="CPU threads OCR may use (it runs below the CLIP path)")
    max_waiting_frames: int = Field(2, ge=1, le=64, description="Live frames waiting for OCR; older ones are skipped")


class RedactionConfig(_Section):
    kinds: list[str] = Field(
        default_factory=lambda: ["card", "token", "password", "email"],
        description="What is masked in stored text: card, token, password, email",
    )
    thumbnails: Literal["mask", "drop"] = Field(
        "mask", description="A thumbnail showing a redacted secret: mask those regions, or drop it"
    )

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        from screenrecall.redact import KINDS

        unknown = sorted(set(value) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
        return value


class TilesConfig(_Section):
    grid: int = Field(
        0,
        ge=0,
        le=4,
        description="Also embed each frame as grid x grid tiles (2 = 2x2, 5 inferences a frame); 0 = off",
    )

    @field_validator("grid")
    @classmethod
    def _not_one(cls, value: int) -> int:
        if value == 1:
            raise ValueError("a 1x1 grid is the whole frame: use 0 (off) or 2..4")
        return value


class ApiConfig(_Section):
    enabled: bool = Field(True, description="Serve the local API (search, status, stream) while the daemon runs")
    socket: str = Field("", description="Unix socket path; empty = $XDG_RUNTIME_DIR/screenrecall/api.sock")
    tcp_port: int = Field(0, ge=0, le=65535, description="Also serve on this loopback TCP port (bearer token); 0 = off")
    tcp_host: str = Field("127.0.0.1", description="Loopback address for the TCP port (anything else is refused)")

    @field_validator("tcp_host")
    @classmethod
    def _loopback(cls, value: str) -> str:
        from screenrecall.api.security import is_loopback

        if not is_loopback(value):
            raise ValueError("the API listens on loopback only: use 127.0.0.1 or ::1")
        return value

    stream_buffer: int = Field(256, ge=1, le=100_000, description="Events a slow stream subscriber may fall behind")
    max_upload_mb: float = Field(20, gt=0, le=500, description="Largest query image accepted")


class ThumbnailConfig(_Section):
    enabled: bool = Field(True, description="Keep a small WebP of each stored frame")
    max_px: int = Field(320, ge=32, le=2048, description="Longest side of a thumbnail, pixels")
    quality: int = Field(70, ge=1, le=100, description="WebP quality")


class PrivacyConfig(_Section):
    exclude_apps: list[str] = Field(default_factory=list, description="Regexes on the window's application class")
    exclude_titles: list[str] = Field(default_factory=list, description="Regexes on the window title")

    @field_validator("exclude_apps", "exclude_titles")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        import re

        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from exc
        return value


class RetentionConfig(_Section):
    days: float = Field(90, ge=0, description="Delete records older than this; 0 = keep forever")
    max_gb: float = Field(10.0, ge=0, description="Disk budget for store and thumbnails; 0 = no budget")
    min_free_gb: float = Field(1.0, ge=0, description="Pause capture while free disk is below this")
    check_interval_s: float = Field(300, ge=1, description="How often housekeeping runs")


class LogConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level")


class Config(_Section):
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
    thumbnails: ThumbnailConfig = Field(default_factory=ThumbnailConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    log: LogConfig = Field(default_factory=LogConfig)

    def model_dir(self) -> Path:
        return Path(self.model.path).expanduser() if self.model.path else paths.default_model_dir()

    def socket_path(self) -> Path:
        return Path(self.api.socket).expanduser() if self.api.socket else paths.runtime_dir() / "api.sock"

    def store_dir(self) -> Path:
        return Path(self.store.path).expanduser() if self.store.path else paths.data_dir() / "store"


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
