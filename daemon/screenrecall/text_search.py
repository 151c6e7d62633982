"""Finds records by the words OCR read on them: terms, tolerant patterns, ranking and snippets.

OCR confuses a few glyphs (O/0, l/1/I, S/5, rn/m); a term matches any of its confusable spellings,
in the store (Rust regex, via Chroma) and here (Python re) alike.
"""

from __future__ import annotations

import re
from typing import Any

from screenrecall.frames import Record
from screenrecall.moments import Moment
from screenrecall.store import Store

# Characters escaped for both regex engines (Rust accepts an escape before any ASCII punctuation).
RUST_META = set("\\.+*?()|[]{}^$#&-~")
# What OCR reads one glyph as, both ways; lower case, since patterns are case-insensitive.
CONFUSABLE = {"o": "[o0]", "0": "[o0]", "l": "[l1i|]", "1": "[l1i|]", "i": "[l1i|]", "s": "[s5]", "5": "[s5]"}


def terms(text: str) -> list[str]:
    """Quoted phrases stay whole; other words stand alone (one-letter words are dropped)."""
    phrases = re.findall(r'"([^"]+)"', text)
    rest = re.sub(r'"[^"]*"', " ", text)
    words = [word for word in re.findall(r"[\w@.#:/\\-]+", rest) if len(word) > 1]
    return [phrase.strip() for phrase in phrases if phrase.strip()] + words


def pattern(term: str) -> str:
    """A case-insensitive regex, valid in Rust and Python, for a term and its OCR misreadings;
    any run of spaces in the term matches any whitespace."""
    words = term.split()
    return "(?i)" + r"\s+".join(_fold(word.lower()) for word in words)


def _fold(word: str) -> str:
    out = []
    for part in re.split(r"(rn|m)", word):
        if part in ("rn", "m"):
            out.append("(?:rn|m)")
        else:
            out.extend(CONFUSABLE.get(ch, "\\" + ch if ch in RUST_META else ch) for ch in part)
    return "".join(out)


def text_moments(store: Store, words: list[str], where: dict[str, Any] | None, depth: int) -> list[Moment]:
    """Records whose OCR text has every term; if none has all, those with the most terms."""
    if not words:
        return []
    found = store.text_search([pattern(w) for w in words], where, depth)
    if not found and len(words) > 1:
        union: dict[str, Record] = {}
        for word in words:
            for record in store.text_search([pattern(word)], where, depth):
                union[record.id] = record
        found = list(union.values())
    scored = [(record, _term_score(record.text, words)) for record in found]
    scored.sort(key=lambda pair: (pair[1], pair[0].last_seen_ms), reverse=True)
    return [Moment(r, score, r.captured_at_ms, r.last_seen_ms, [r.id]) for r, score in scored[:depth]]


def _term_score(text: str, words: list[str]) -> float:
    """Share of the terms present, a little more for phrases; in 0..1."""
    hits = sum(1 + (" " in w) for w in words if re.search(pattern(w), text))
    return hits / sum(1 + (" " in w) for w in words)


def snippet(text: str, words: list[str], width: int = 160) -> str:
    """The first line of the text that holds a term (else the first line), cut to width."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    patterns = [re.compile(pattern(w)) for w in words]
    chosen = next((line for line in lines if any(p.search(line) for p in patterns)), lines[0])
    return chosen if len(chosen) <= width else chosen[: width - 1] + "…"
