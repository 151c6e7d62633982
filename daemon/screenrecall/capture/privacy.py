"""What must not be remembered: excluded windows (failing closed) and the pause switch."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from screenrecall import paths
from screenrecall.capture.window import is_known
from screenrecall.pipeline.messages import Window

logger = logging.getLogger(__name__)


# Excluded unless `privacy.default_exclusions = false`: (application class, title) regex pairs, both
# must match ("" matches anything). Private browser windows share their browser's class, so they
# are told apart by the title the browser gives them.
_BROWSERS_CHROMIUM = r"(?i)chrom|brave|edge|vivaldi|opera"
DEFAULT_EXCLUSIONS: tuple[tuple[str, str], ...] = (
    # Firefox and its forks: "Page — Mozilla Firefox Private Browsing", older "(Private Browsing)".
    (r"(?i)firefox|librewolf|waterfox|floorp|navigator", r"(?i)private browsing"),
    (r"(?i)^tor ?browser$", ""),  # every Tor Browser window is private
    # Chromium, Chrome: "(Incognito)"; Brave: "Private"; Edge: "InPrivate".
    (_BROWSERS_CHROMIUM, r"(?i)incognito|inprivate|\(private\)|private (?:tab|window)"),
    # Password managers, by class (native and Flatpak/Electron spellings) and by their title suffix.
    (r"(?i)^(?:keepassxc|org\.keepassxc\.keepassxc|keepass2?|1password|bitwarden)$", ""),
    ("", r"(?i)(?:^| [-—] )(?:keepassxc|1password|bitwarden)$"),
)


class ExclusionFilter:
    """Decides which windows must not be remembered: configured app or title regexes, plus the
    built-in private-browsing and password-manager rules when `defaults` is on.

    `matches` says whether a window is excluded (its area is blacked out wherever it is visible);
    `blocks` decides for a whole frame by the window it is labelled with. When any exclusion is
    active but the window is unknown, the frame is dropped: a privacy filter that lets frames
    through whenever it cannot see is not a filter.
    """

    def __init__(self, apps: Sequence[str], titles: Sequence[str], *, defaults: bool = False) -> None:
        rules = [(p, "") for p in apps] + [("", p) for p in titles]
        rules += list(DEFAULT_EXCLUSIONS) if defaults else []
        self._rules = [(re.compile(app) if app else None, re.compile(title) if title else None) for app, title in rules]
        self.dropped = 0

    @property
    def active(self) -> bool:
        return bool(self._rules)

    def matches(self, window: Window) -> bool:
        """True when this (known) window is excluded."""
        return any(
            (app is None or app.search(window.app)) and (title is None or title.search(window.title))
            for app, title in self._rules
        )

    def blocks(self, window: Window) -> bool:
        if not self.active:
            return False
        blocked = not is_known(window) or self.matches(window)
        if blocked:
            self.dropped += 1
        return blocked


def title_redactor(kinds: Sequence[str]) -> Callable[[str], str] | None:
    """Masks secrets in window titles (a shell puts `mysql -pHunter2` there, a browser an e-mail
    address) with the same kinds as OCR text; None when redaction is off."""
    if not kinds:
        return None
    from screenrecall.ocr.redact import Redactor  # the capture side needs it only when configured

    redactor = Redactor(kinds)
    return lambda title: redactor.redact_text(title)[0]


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

    @classmethod
    def default(cls) -> PauseSwitch:
        """The switch every process shares: the daemon, `screenrecall pause` and the API."""
        return cls(paths.runtime_dir() / "pause.json")

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
