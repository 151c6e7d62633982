"""Finds records by the words OCR read on them (through the full-text index), and the snippet to show.

OCR confuses a few glyphs (O/0, l/1/I, S/5, rn/m); a term matches any of its confusable spellings:
the index folds them (store/text_fold.py), the snippet's patterns here allow them (Python re).
"""

from __future__ import annotations

import re

from screenrecall.recall.moments import Moment
from screenrecall.store.chroma import Store
from screenrecall.store.text_fold import adjacency, query_terms, terms
from screenrecall.store.text_index import TextFilters

__all__ = ["pattern", "snippet", "terms", "text_ranking"]

# Characters escaped for both regex engines (Rust accepts an escape before any ASCII punctuation).
RUST_META = set("\\.+*?()|[]{}^$#&-~")
# What OCR reads one glyph as, both ways; lower case, since patterns are case-insensitive.
CONFUSABLE = {"o": "[o0]", "0": "[o0]", "l": "[l1i|]", "1": "[l1i|]", "i": "[l1i|]", "s": "[s5]", "5": "[s5]"}


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


def text_ranking(store: Store, text: str, filters: TextFilters, depth: int) -> list[tuple[str, float]]:
    """The depth best record ids for the words of text, from the full-text index, as (id, relevance).

    Relevance first (every term, rarer terms weigh more, the words side by side), then the newest.
    The caller fetches the records it keeps: a hit Chroma no longer has (deleted by another host
    since the last sync) is then dropped.
    """
    if store.text_sync is not None:
        store.text_sync.poke()  # a shared server: other hosts' new records
    found = store.text_index.search(query_terms(text), filters, depth, adjacency(text))
    return [(hit.id, hit.relevance) for hit in found]


def by_score_then_recency(moments: list[Moment]) -> list[Moment]:
    return sorted(moments, key=lambda m: (m.score, m.last_seen_ms), reverse=True)


def snippet(text: str, words: list[str], width: int = 160) -> str:
    """The first line of the text that holds a term (else the first line), cut to width."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    patterns = [re.compile(pattern(w)) for w in words]
    chosen = next((line for line in lines if any(p.search(line) for p in patterns)), lines[0])
    return chosen if len(chosen) <= width else chosen[: width - 1] + "…"
