"""The sections of the configuration: one frozen, validated model per [section] of config.toml.

Each field's description is what config/default.toml says about it (config_toml generates it).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# What redaction can mask, in priority order on overlap (first wins); ocr.redact implements each.
REDACTION_KINDS = ("token", "card", "password", "email", "iban", "otp", "phone")


def is_loopback(host: str) -> bool:
    """True for a loopback IP literal (a host name could resolve anywhere, so it does not count)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Section(BaseModel):
    """Unknown keys are errors, values are checked at load and frozen afterwards."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ModelConfig(Section):
    path: str = Field("", description="Model bundle dir; empty = $XDG_DATA_HOME/screenrecall/models/default")
    device: str = Field(
        "auto",
        min_length=1,
        description="OpenVINO device: auto (NPU if present, else CPU), CPU, NPU, GPU or a full device string",
    )
    fallback: bool = Field(False, description="Fall back to CPU (one warning) when the named device is missing")
    jobs: int = Field(2, ge=1, le=16, description="Inference requests in flight (AsyncInferQueue size)")
    cache: bool = Field(True, description="Cache compiled models under $XDG_CACHE_HOME/screenrecall/ov-cache")


class CaptureConfig(Section):
    enabled: bool = Field(True, description="Sample the screen at all")
    interval_s: float = Field(1.0, ge=0.1, le=3600, description="Seconds between screen samples")
    monitors: list[int] = Field(default_factory=list, description="1-based monitor numbers; empty = all")
    heartbeat_s: float = Field(60.0, ge=1, le=86400, description="Re-confirm a still screen this often")
    max_queue_frames: int = Field(4, ge=1, le=256, description="Live frames waiting for the encoder")
    backend: Literal["auto", "x11", "portal", "wlroots"] = Field(
        "auto",
        description="Screen capture: auto (by session type), x11 (mss), portal (Wayland ScreenCast), wlroots",
    )

    @field_validator("monitors")
    @classmethod
    def _positive_monitors(cls, value: list[int]) -> list[int]:
        if any(m < 1 for m in value):
            raise ValueError("monitor numbers start at 1")
        return value


class GateConfig(Section):
    settle_s: float = Field(
        3.0,
        ge=0.0,
        le=600,
        description="A change is kept once the next sample shows it unchanged, or after this long of continuous change",
    )
    tile_px: int = Field(32, ge=8, le=512, description="Side of the tiles frames are compared by, pixels")
    min_changed_tiles: int = Field(
        1, ge=1, le=10_000, description="Tiles that must show something new (not blinking, not ticking) to keep a frame"
    )


class WatchConfig(Section):
    folders: list[str] = Field(default_factory=list, description="Folders whose new images are ingested")
    recursive: bool = Field(True, description="Also watch sub-folders")
    extensions: list[str] = Field(
        # No TIFF by default: its tag parser alone can take hundreds of MB on a hostile file.
        default_factory=lambda: ["png", "jpg", "jpeg", "webp", "bmp", "gif"],
        min_length=1,
        description="Image file extensions taken (lower case, no dot)",
    )
    settle_s: float = Field(1.0, ge=0.0, le=600, description="A file must be unchanged this long to be read")
    max_image_pixels: int = Field(89_478_485, ge=1, description="Larger images are refused as decompression bombs")

    @field_validator("extensions")
    @classmethod
    def _known_extensions(cls, value: list[str]) -> list[str]:
        # Checked here, so a typo is a config error naming watch.extensions, not a start-up traceback.
        from screenrecall.capture.untrusted_image import pillow_formats

        pillow_formats(value)  # ValueError names the unknown extension
        return value


class DedupConfig(Section):
    cosine: float = Field(
        0.98,
        ge=0.0,
        le=1.0,
        description="Cosine to the monitor's last record at or above which it is extended",
    )


class StoreConfig(Section):
    path: str = Field("", description="Chroma dir; empty = $XDG_DATA_HOME/screenrecall/store")
    batch_size: int = Field(64, ge=1, le=5000, description="Records written to Chroma in one add")
    flush_interval_s: float = Field(0.25, ge=0.05, le=60, description="Longest a record waits to be written")
    url: str = Field(
        "", description="A shared Chroma server (`chroma run`), e.g. http://127.0.0.1:8000; empty = embedded store"
    )
    host: str = Field("", description="This machine's name on its records; empty = the hostname")

    def host_name(self) -> str:
        return self.host or socket.gethostname()


class OcrConfig(Section):
    enabled: bool = Field(True, description="Read the text of kept frames, so screens are found by their words")
    changed_regions: bool = Field(True, description="Read only where a screen changed; carry the rest over")
    min_score: float = Field(0.5, ge=0.0, le=1.0, description="OCR lines less certain than this are dropped")
    threads: int = Field(1, ge=1, le=64, description="CPU threads OCR may use (it runs below the CLIP path)")
    max_waiting_frames: int = Field(
        4, ge=1, le=64, description="Live frames waiting for OCR; when full, the oldest of the same monitor is skipped"
    )


class RedactionConfig(Section):
    kinds: list[str] = Field(
        default_factory=lambda: ["card", "token", "password", "email"],
        description="What is masked in stored text and window titles: card, token, password, email; "
        "optional: iban, otp (one-time and recovery codes), phone",
    )
    thumbnails: Literal["mask", "drop"] = Field(
        "mask", description="A thumbnail showing a redacted secret: mask those regions, or drop it"
    )

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(REDACTION_KINDS))
        if unknown:
            raise ValueError(f"unknown kind(s) {', '.join(unknown)}; known: {', '.join(REDACTION_KINDS)}")
        return value


class TilesConfig(Section):
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


class ApiConfig(Section):
    enabled: bool = Field(True, description="Serve the local API (search, status, stream) while the daemon runs")
    socket: str = Field("", description="Unix socket path; empty = $XDG_RUNTIME_DIR/screenrecall/api.sock")
    tcp_port: int = Field(0, ge=0, le=65535, description="Also serve on this loopback TCP port (bearer token); 0 = off")
    tcp_host: str = Field("127.0.0.1", description="Loopback address for the TCP port (anything else is refused)")

    @field_validator("tcp_host")
    @classmethod
    def _loopback(cls, value: str) -> str:
        if not is_loopback(value):
            raise ValueError("the API listens on loopback only: use 127.0.0.1 or ::1")
        return value

    stream_buffer: int = Field(256, ge=1, le=100_000, description="Events a slow stream subscriber may fall behind")
    max_upload_mb: float = Field(20, gt=0, le=500, description="Largest query image accepted")


class McpConfig(Section):
    allow_forget: bool = Field(
        False, description="Offer agents the forget tool (deletes what was seen in a time range)"
    )
    awareness_novelty: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="screenrecall://awareness updates only for new records at least this novel (1 - cosine to the "
        "previous frame of that monitor)",
    )
    awareness_events: int = Field(20, ge=1, le=1000, description="Recent novel moments the awareness resource keeps")
    http_port: int = Field(
        0, ge=0, le=65535, description="`screenrecall mcp --http` serves on this loopback port (bearer token)"
    )
    http_host: str = Field("127.0.0.1", description="Loopback address for --http (anything else is refused)")

    @field_validator("http_host")
    @classmethod
    def _loopback(cls, value: str) -> str:
        if not is_loopback(value):
            raise ValueError("the MCP server listens on loopback only: use 127.0.0.1 or ::1")
        return value


class ThumbnailConfig(Section):
    enabled: bool = Field(True, description="Keep a small WebP of each stored frame")
    max_px: int = Field(320, ge=32, le=2048, description="Longest side of a thumbnail, pixels")
    quality: int = Field(70, ge=1, le=100, description="WebP quality")


class FramesConfig(Section):
    enabled: bool = Field(True, description="Keep each record's frame at full resolution (readable in the web UI)")
    max_live_full: int = Field(
        8, ge=1, le=256, description="Full-size frames held in memory on their way to the archive; more get none"
    )


class PrivacyConfig(Section):
    exclude_apps: list[str] = Field(default_factory=list, description="Regexes on the window's application class")
    exclude_titles: list[str] = Field(default_factory=list, description="Regexes on the window title")
    default_exclusions: bool = Field(
        True,
        description="Also exclude private/incognito browser windows (Firefox, Chromium, Chrome, Brave, Edge) "
        "and password managers (KeePassXC, 1Password, Bitwarden)",
    )
    unknown_windows: Literal["pause", "capture"] = Field(
        "pause",
        description="With exclude_apps/exclude_titles set on a desktop that cannot say which window shows: "
        "pause, or capture anyway (the built-in default exclusions alone do not pause: they are then not honoured)",
    )

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


class RetentionConfig(Section):
    days: float = Field(90, ge=0, description="Delete records older than this; 0 = keep forever")
    max_gb: float = Field(10.0, ge=0, description="Disk budget for store and thumbnails; 0 = no budget")
    min_free_gb: float = Field(1.0, ge=0, description="Pause capture while free disk is below this")
    check_interval_s: float = Field(300, ge=1, description="How often housekeeping runs")


class LogConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level")
