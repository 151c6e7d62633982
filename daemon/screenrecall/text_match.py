"""Pairs OCR results with the record their frame became: OCR may finish before or after the writer decides."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeVar

from screenrecall.frames import Embedded, Embedding, TextFound

FrameKey = tuple[str, int, int, str]
V = TypeVar("V")
# Frames remembered on each side; OCR runs seconds behind at most, a few frames per second at most.
KEEP = 256


@dataclass(frozen=True, slots=True)
class Decision:
    record_id: str
    embedding: Embedding
    # False when the frame only extended a record that already has its text. True for a new record,
    # and for an extension of one still without text (its own frame's OCR may have been skipped).
    needs_text: bool


def frame_key(item: Embedded) -> FrameKey:
    frame = item.frame
    return (frame.source, frame.monitor, frame.captured_at_ms, frame.file_key)


class TextMatcher:
    """Writer-thread only. Both sides are bounded: an unmatched entry is forgotten, oldest first."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._decisions: OrderedDict[FrameKey, Decision] = OrderedDict()
        self._early: OrderedDict[FrameKey, TextFound] = OrderedDict()

    def decided(self, key: FrameKey, decision: Decision) -> TextFound | None:
        """Records what a frame became; returns its text if OCR got there first."""
        early = self._early.pop(key, None)
        if early is None:
            self._remember(self._decisions, key, decision)
        return early

    def arrived(self, found: TextFound) -> Decision | None:
        """The decision for the text's frame, or None (the text waits for it)."""
        decision = self._decisions.pop(found.frame_key, None)
        if decision is None:
            self._remember(self._early, found.frame_key, found)
        return decision

    def forget_all(self) -> None:
        self._decisions.clear()
        self._early.clear()

    def _remember(self, table: OrderedDict[FrameKey, V], key: FrameKey, value: V) -> None:
        table[key] = value
        while len(table) > self._keep:
            table.popitem(last=False)
