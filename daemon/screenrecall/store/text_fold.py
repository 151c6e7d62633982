"""How OCR text and queries are folded before FTS5 sees them: case, OCR confusions, unsegmented scripts.

The same fold runs at index time and at query time, so a query matches every spelling OCR may have
produced for it. Standard library only: the query side runs in the API process on every search.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Bumped whenever the fold changes: an index folded otherwise must be rebuilt (TextIndex checks it).
FOLD_VERSION = 1

# What OCR reads one glyph as, folded to one spelling: O/0, l/1/I (and i), S/5; "rn" reads as "m".
_CONFUSIONS = str.maketrans({"0": "o", "1": "l", "i": "l", "5": "s"})
# "||" touching a word is OCR's "ll" ("he||o"); a single "|" is far more often a separator
# ("Inbox|Mail", "a | b") and stays one.
_PIPE_IN_WORD = re.compile(r"(?<=[^\W_])\|\|+|\|\|+(?=[^\W_])")
# Scripts written without spaces between words (CJK, kana, Hangul runs, Thai, Lao, Myanmar, Khmer):
# FTS5's unicode61 makes a whole run one token, so a 2-character word inside it could never match.
# Overlapping bigrams at index and query time make any substring of >= 2 characters a phrase of bigrams.
_UNSEGMENTED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+"
)
_TOKENS = re.compile(r"[^\W_]+")
# Quoted phrases stay whole; other words stand alone (the same split as the regex matching had).
_PHRASE = re.compile(r'"([^"]+)"')
_WORD = re.compile(r"[\w@.#:/\\'-]+")
PREFIX_MIN = 3  # shorter prefixes expand to most of the vocabulary: exact match only


def fold(text: str) -> str:
    """Text as the index stores it: NFKC, lower case, OCR confusions folded, unsegmented runs as bigrams."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PIPE_IN_WORD.sub(lambda m: "l" * len(m.group()), text)
    text = text.translate(_CONFUSIONS).replace("rn", "m")
    return _UNSEGMENTED.sub(_bigrams, text)


def _bigrams(match: re.Match[str]) -> str:
    run = match.group()
    if len(run) == 1:
        return f" {run} "
    return " " + " ".join(run[i : i + 2] for i in range(len(run) - 1)) + " "


def terms(text: str) -> list[str]:
    """Quoted phrases stay whole; other words stand alone (one-letter words are dropped)."""
    phrases = [phrase.strip() for phrase in _PHRASE.findall(text) if phrase.strip()]
    rest = _PHRASE.sub(" ", text)
    return phrases + [word for word in _WORD.findall(rest) if len(word) > 1]


@dataclass(frozen=True)
class Term:
    """One search term as folded tokens; prefix: its last token may be the start of a longer word."""

    tokens: tuple[str, ...]
    prefix: bool = False

    def fts(self) -> str:
        """An FTS5 phrase: always quoted, so FTS5 never parses user syntax (`zoom.us`, `a-b`, `NOT`)."""
        return '"' + " ".join(self.tokens) + '"' + ("*" if self.prefix else "")

    def regex(self) -> re.Pattern[str]:
        """The same match over folded text, for the few records scored outside FTS5."""
        body = r"[\W_]+".join(re.escape(token) for token in self.tokens)
        return re.compile(r"(?<![^\W_])" + body + ("" if self.prefix else r"(?![^\W_])"))


def to_term(text: str, quoted: bool) -> Term | None:
    """A term folded like the index; None when it folds to nothing FTS5 indexes (punctuation only)."""
    tokens = tuple(_TOKENS.findall(fold(text)))
    if not tokens:
        return None
    # An unquoted word may be the start of a longer one ("invoi"): FTS5's prefix query covers both.
    prefix = not quoted and len(tokens[-1]) >= PREFIX_MIN and not _UNSEGMENTED.search(tokens[-1])
    return Term(tokens, prefix)


def query_terms(text: str) -> list[Term]:
    """Each term of a search text, folded; empty and repeated terms dropped."""
    quoted = {phrase.strip() for phrase in _PHRASE.findall(text)}
    out: list[Term] = []
    for word in terms(text):
        term = to_term(word, word in quoted)
        if term is not None and term not in out:
            out.append(term)
    return out


def adjacency(text: str) -> Term | None:
    """The unquoted words of a query as one phrase: a record that has them side by side ranks first."""
    words = [word for word in _WORD.findall(_PHRASE.sub(" ", text)) if len(word) > 1]
    term = to_term(" ".join(words), quoted=True) if len(words) > 1 else None
    return term if term is not None and len(term.tokens) > 1 else None
