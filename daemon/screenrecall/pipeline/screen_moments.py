"""Decides what a screen frame adds to the memory: a new record, an update of the monitor's current
record, or only more time seen.

A record is a moment: the frame it shows (thumbnail) and the text of that frame. The rule keeps
every word a user saw findable, with a picture that shows it, in as few records as that allows:
- it looks different (CLIP below the dedup cosine), or too long has passed: a NEW record;
- it shows no word the current record lacks: EXTEND the current record (last_seen moves on);
- it shows new words and lost none (a line printed, a word typed): UPDATE the current record in
  place to this frame and its text; nothing the record showed is lost by that;
- it shows new words and lost some (a page replaced, a scroll): a NEW record, so the old words stay
  findable with the old picture.
Without OCR text (OCR off, or its answer never came) only the look decides: EXTEND or NEW.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from screenrecall.pipeline.messages import Embedding, Record

# Words as OCR text splits into them. One- and two-digit numbers are left out of the comparison: a
# ticking clock or a counter must not make a moment look new, and nobody searches for "34".
_WORD = re.compile(r"\w+")
_TRIVIAL = re.compile(r"\d{1,2}")


class Verdict(enum.Enum):
    NEW = "new"
    UPDATE = "update"
    EXTEND = "extend"


@dataclass(slots=True)
class Current:
    """A monitor's current moment: its record as last written, and that record's words."""

    record: Record
    words: frozenset[str]

    @classmethod
    def of(cls, record: Record) -> Current:
        return cls(record, words_of(record.text))


def words_of(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.casefold()) if len(w) > 1 and not _TRIVIAL.fullmatch(w))


def judge(
    current: Current | None,
    embedding: Embedding,
    text: str | None,
    at_ms: int,
    *,
    dedup_cosine: float,
    max_gap_ms: int | None,
    watched_ms: int = 0,
) -> Verdict:
    """watched_ms: the last time a frame of this monitor came through, even one not placed (skipped)."""
    if current is None:
        return Verdict.NEW
    gap = at_ms - max(current.record.last_seen_ms, watched_ms)
    # A gap (a pause, the daemon stopped) ends a moment even when the screen looks the same:
    # the record must not claim the screen was seen while nobody was looking.
    if max_gap_ms is not None and gap > max_gap_ms:
        return Verdict.NEW
    if current.record.embedding.size == 0 or float(embedding @ current.record.embedding) < dedup_cosine:
        return Verdict.NEW
    if text is None:
        return Verdict.EXTEND
    words = words_of(text)
    new = words - current.words
    if not new:
        return Verdict.EXTEND
    return Verdict.NEW if _lost(current.words - words, new) else Verdict.UPDATE


def _lost(missing: frozenset[str], new: frozenset[str]) -> bool:
    """Whether words went away; a word that grew (typing "hel" -> "hello") is not lost."""
    return any(not any(word.startswith(gone) for word in new) for gone in missing)
