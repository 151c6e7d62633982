"""What must not be remembered: excluded windows (failing closed) and the pause switch."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from screenrecall import paths
from screenrecall.capture.window import is_known
from screenrecall.frames import Window

logger = logging.getLogger(__name__)


class ExclusionFilter:
    """Drops frames whose active window matches an excluded app or title regex.

    When exclusions are configured but the window is unknown, the frame is dropped too: a privacy
    filter that lets frames through whenever it cannot see is not a filter.
    """

    def __init__(self, apps: Sequence[str], titles: Sequence[str]) -> None:
        self._apps = [re.compile(p) for p in apps]
        self._titles = [re.compile(p) for p in titles]
        self.dropped = 0

    @property
    def active(self) -> bool:
        return bool(self._apps or self._titles)

    def blocks(self, window: Window) -> bool:
        if not self.active:
            return False
        blocked = (
            not is_known(window)
            or any(p.search(window.app) for p in self._apps)
            or any(p.search(window.title) for p in self._titles)
        )
        if blocked:
            self.dropped += 1
        return blocked


@dataclass(frozen=True)
class PauseState:
    paused: bool
    until_ms: int | None = None  # None while paused = until resumed


class PauseSwitch:
    """Pause state kept in a 0600 file, so `screenrecall pause` works from another process and
    survives a daemon restart (a pause the user asked for must not end because systemd restarted us).
    """

    def __init__(self, path: Path) -> None:
        self._path = path

    def pause(self, for_s: float | None = None) -> PauseState:
        until = None if for_s is None else int((time.time() + for_s) * 1000)
        self._write({"paused": True, "until_ms": until})
        return PauseState(True, until)

    def resume(self) -> PauseState:
        self._path.unlink(missing_ok=True)
        return PauseState(False)

    def state(self, now_ms: int | None = None) -> PauseState:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            until = data.get("until_ms")
            paused = bool(data.get("paused")) and (until is None or now_ms < int(until))
        except FileNotFoundError:
            return PauseState(False)
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            # An unreadable pause file means someone asked for a pause: stay paused, say why.
            logger.warning("pause file %s unreadable (%s); staying paused", self._path, exc)
            return PauseState(True)
        return PauseState(paused, until if paused else None)

    def _write(self, data: dict[str, object]) -> None:
        paths.ensure_private_dir(self._path.parent)
        partial = self._path.with_suffix(".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        partial.replace(self._path)
