"""What the daemon is doing, in one snapshot: written to a private file for `screenrecall status`
and summarised for systemd's STATUS= line."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from screenrecall import paths

STATUS_FILE = "status.json"


@dataclass
class Status:
    running: bool
    pid: int = 0
    updated_ms: int = 0
    device: str = ""
    records: int = 0
    last_frame_ms: int = 0
    paused: bool = False
    locked: bool = False  # capture paused while the desktop session is locked
    disk_low: bool = False
    display_error: str = ""
    disk_bytes: int = 0
    free_bytes: int = 0
    queues: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for systemd's STATUS= (shown by `systemctl --user status`)."""
        if self.display_error:
            state = f"waiting for the display: {self.display_error}"
        elif self.paused:
            state = "paused"
        elif self.locked:
            state = "paused: the session is locked"
        elif self.disk_low:
            state = "capture paused: disk almost full"
        else:
            state = "capturing"
        dropped = self.counters.get("frames_dropped", 0)
        return f"{state}; {self.records} records; {dropped} frames dropped; device {self.device}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def human(self) -> str:
        lines = [
            f"daemon:      {f'running (pid {self.pid})' if self.running else 'not running'}",
            f"records:     {self.records}",
            f"last frame:  {_when(self.last_frame_ms)}",
            f"paused:      {'yes' if self.paused else 'no'}{' (disk almost full)' if self.disk_low else ''}"
            f"{' (session locked)' if self.locked else ''}",
            f"device:      {self.device or '-'}",
            f"disk use:    {self.disk_bytes / 1e6:.1f} MB (free {self.free_bytes / 1e9:.1f} GB)",
        ]
        if self.display_error:
            lines.append(f"display:     {self.display_error}")
        if self.queues:
            lines.append("queues:      " + ", ".join(f"{k} {v}" for k, v in sorted(self.queues.items())))
        if self.counters:
            lines.append("counters:    " + ", ".join(f"{k} {v}" for k, v in sorted(self.counters.items())))
        return "\n".join(lines)


def _when(ms: int) -> str:
    if not ms:
        return "never"
    ago = max(0.0, time.time() - ms / 1000)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))
    return f"{stamp} ({ago:.0f} s ago)"


def status_path() -> Path:
    return paths.runtime_dir() / STATUS_FILE


def write(status: Status, target: Path | None = None) -> None:
    target = target or status_path()
    paths.ensure_private_dir(target.parent)
    partial = target.with_suffix(".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(status.to_json())
    partial.replace(target)


def read(target: Path | None = None) -> Status | None:
    try:
        data: dict[str, Any] = json.loads((target or status_path()).read_text(encoding="utf-8"))
        return Status(**data)
    except (OSError, ValueError, TypeError):
        return None
