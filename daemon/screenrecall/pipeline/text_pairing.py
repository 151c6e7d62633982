"""Pairs each embedded frame with OCR's answer for it: either may arrive first.

Nothing is evicted to make room: the OCR stage answers every frame it was offered (read, skipped or
failed), and the inbox lets only a bounded number of files past the encoder at a time, so both
sides stay small by back-pressure. A frame may wait long (files queue behind each other for OCR on
a busy machine), so only a frame waiting past MAX_WAIT_S (a bug) is given up; a text whose frame
never comes (its encoding failed) is dropped after MAX_EARLY_S. Both are counted, never silent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from screenrecall.pipeline.messages import Embedded, FrameKey, TextFound

# A frame waits for its own read and those queued before it: 32 files at ~10 s each on a loaded
# machine. Past an hour, OCR is not coming.
MAX_WAIT_S = 3600.0
# A frame follows its text within milliseconds (the encoder is fast), unless its encoding failed.
MAX_EARLY_S = 120.0


@dataclass(frozen=True, slots=True)
class Pair:
    item: Embedded
    text: TextFound | None  # None: the frame was never sent to OCR, or its answer never came


class TextPairing:
    """Writer-thread only."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        max_wait_s: float = MAX_WAIT_S,
        max_early_s: float = MAX_EARLY_S,
    ) -> None:
        self._clock = clock
        self._max_wait = max_wait_s
        self._max_early = max_early_s
        self._waiting: dict[FrameKey, tuple[float, Embedded]] = {}
        self._early: dict[FrameKey, tuple[float, TextFound]] = {}
        self.given_up = 0

    def embedded(self, item: Embedded) -> Pair | None:
        """The frame and its text when both are here (or no text is coming); else None (it waits)."""
        if not item.text_expected:
            return Pair(item, None)
        early = self._early.pop(item.frame_key, None)
        if early is not None:
            return Pair(item, early[1])
        self._waiting[item.frame_key] = (self._clock(), item)
        return None

    def text(self, found: TextFound) -> Pair | None:
        waiting = self._waiting.pop(found.frame_key, None)
        if waiting is not None:
            return Pair(waiting[1], found)
        self._early[found.frame_key] = (self._clock(), found)
        return None

    def expired(self) -> list[Pair]:
        """Frames whose text did not come in time, as pairs without text; stale early texts dropped."""
        now = self._clock()
        late = [key for key, (since, _) in self._waiting.items() if since < now - self._max_wait]
        pairs = [Pair(self._waiting.pop(key)[1], None) for key in late]
        stale = [key for key, (since, _) in self._early.items() if since < now - self._max_early]
        for key in stale:
            del self._early[key]
        self.given_up += len(late) + len(stale)
        return pairs

    def drain(self) -> list[Pair]:
        """At stop: every frame still waiting, as a pair without text; nothing is left behind."""
        pairs = [Pair(item, None) for _, item in self._waiting.values()]
        self._waiting.clear()
        self._early.clear()
        return pairs

    @property
    def waiting(self) -> int:
        return len(self._waiting)
