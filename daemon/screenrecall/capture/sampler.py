"""First stage for the screen: each tick grabs every monitor, applies privacy and the change gate,
and hands what changed to the encoder's inbox. Run by the scheduler on one dedicated thread."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from screenrecall.capture.backend import Grabber
from screenrecall.capture.gate import ChangeGate, Decision
from screenrecall.capture.privacy import ExclusionFilter, PauseSwitch
from screenrecall.capture.screen import Backoff, DisplayUnavailable, owned_rgb
from screenrecall.capture.window import is_known
from screenrecall.pipeline.inbox import EncodeInbox
from screenrecall.pipeline.messages import Window

logger = logging.getLogger(__name__)


@dataclass
class SamplerStats:
    ticks: int = 0
    grabbed: int = 0
    unchanged: int = 0
    excluded: int = 0
    paused: bool = False
    locked: bool = False  # the desktop session is locked (system/session_lock.py)
    display_error: str = ""
    last_tick_ms: int = 0


class ScreenSampler:
    """Not thread-safe by design: the scheduler runs `tick` on a single-thread executor, which is
    also what mss on X11 needs (its connection belongs to the thread that opened it)."""

    def __init__(
        self,
        grabber: Grabber,
        gate: ChangeGate,
        exclusions: ExclusionFilter,
        pause: PauseSwitch,
        inbox: EncodeInbox,
        *,
        capture_allowed: Callable[[], bool] = lambda: True,
        redact_title: Callable[[str], str] | None = None,
        session_locked: Callable[[], bool] | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._grabber = grabber
        self._gate = gate
        self._exclusions = exclusions
        self._pause = pause
        self._inbox = inbox
        self._capture_allowed = capture_allowed
        self._redact_title = redact_title
        self._session_locked = session_locked
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._retry_at = 0.0
        self.stats = SamplerStats()

    def tick(self) -> None:
        now = self._clock()
        now_ms = int(now * 1000)
        self.stats.ticks += 1
        self.stats.last_tick_ms = now_ms
        self.stats.paused = self._pause.state(now_ms).paused
        if self.stats.paused or not self._capture_allowed() or now < self._retry_at:
            return
        # A locked screen shows the lock dialog and notifications: nothing the user chose to remember.
        self.stats.locked = self._session_locked is not None and self._session_locked()
        if self.stats.locked:
            return
        try:
            frames = self._grabber.grab(now_ms)
        except DisplayUnavailable as exc:
            self._display_lost(now, exc)
            return
        if self.stats.display_error:
            logger.info("display is back; capturing again")
            self.stats.display_error = ""
            self._backoff.reset()
        for frame in frames:
            self.stats.grabbed += 1
            if self._exclusions.blocks(frame.window):
                self.stats.excluded += 1
                continue
            if self._gate.decide(frame) is Decision.UNCHANGED:
                self.stats.unchanged += 1
                continue
            # Kept: copy the pixels out of the grabber's buffer before the next grab reuses it.
            self._inbox.put_frame(replace(frame, pixels=owned_rgb(frame.pixels), window=self._private(frame.window)))

    def _private(self, window: Window) -> Window:
        """The one place a title is redacted: everything downstream (store, stream, search) sees only
        this. Exclusions matched the raw title before; an unknown window has no title to mask."""
        if self._redact_title is None or not window.title or not is_known(window):
            return window
        return replace(window, title=self._redact_title(window.title))

    def _display_lost(self, now: float, exc: DisplayUnavailable) -> None:
        delay = self._backoff.next_delay()
        self._retry_at = now + delay
        if not self.stats.display_error:
            logger.warning("display unavailable (%s); retrying with back-off up to 60 s", exc)
        self.stats.display_error = str(exc)
        logger.debug("next display retry in %.0f s", delay)

    def close(self) -> None:
        self._grabber.close()
