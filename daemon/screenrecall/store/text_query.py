"""Ranking and filter planning over the text index: what a search reads, in which order, and how it scores.

Relevance is the share of the query's IDF-weighted terms a record has (every term = 1), plus a bonus
when the words stand side by side; ties go to the newest. See README "The text index" for why not BM25.
"""

from __future__ import annotations

import heapq
import math
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from screenrecall.store.text_fold import Term

SLOTS = 1024  # rowids per millisecond: ids captured in the same ms get neighbouring rowids
SCORE_CAP = 1000  # per-term matches, newest first, scored when no record has every term
DF_CACHE = 4096  # terms whose document frequency is remembered (for a minute)
DF_CAP = 2000  # document frequencies are counted this far: a term on more records is simply common
PRE_FILTER_MAX = 2000  # a filter leaving at most this many records is resolved to them first
DENSE_FACTOR = 8  # pre-filtered records are walked as a rowid range when it holds at most 8x as many
ADJACENT_BONUS = 0.25  # the query's words side by side outrank the same words apart


@dataclass(frozen=True)
class TextFilters:
    """The search filters as the index applies them; apps is already resolved from the app regex."""

    since_ms: int | None = None  # last_seen >= since
    until_ms: int | None = None  # captured_at <= until
    apps: tuple[str, ...] | None = None
    monitor: int | None = None
    source: str | None = None
    host: str | None = None

    def sql(self) -> tuple[str, list[Any]]:
        """A condition on docs (alias d) and its parameters; "1" when nothing is filtered."""
        parts: list[str] = []
        params: list[Any] = []
        if self.since_ms is not None:
            parts.append("d.last_seen >= ?")
            params.append(self.since_ms)
        if self.until_ms is not None:
            parts.append("d.rowid < ?")  # captured_at <= until, as a rowid bound
            params.append((max(self.until_ms, -1) + 1) * SLOTS)
        if self.apps is not None:
            parts.append(f"d.app IN ({','.join('?' * len(self.apps))})")
            params.extend(self.apps)
        for column in ("monitor", "source", "host"):
            value = getattr(self, column)
            if value is not None:
                parts.append(f"d.{column} = ?")
                params.append(value)
        return (" AND ".join(parts) or "1"), params

    @property
    def empty(self) -> bool:
        return self == TextFilters()


@dataclass(frozen=True)
class TextHit:
    id: str
    relevance: float  # share of the IDF-weighted terms present (1 = all), + ADJACENT_BONUS


@dataclass(frozen=True)
class Span:
    """A rowid range of the index to walk, and the filter condition each record in it must pass."""

    low: int
    high: int
    condition: str
    params: tuple[Any, ...]


class Ranker:
    """Runs searches on a reader connection of the calling thread (given by reader)."""

    def __init__(self, reader: Callable[[], sqlite3.Connection], count: Callable[[], int]) -> None:
        self._reader = reader
        self._count = count
        self._counted, self._counted_at = 0, -math.inf
        self._df: dict[Term, int] = {}  # document frequency per term, cleared with the count

    def search(
        self, terms: Sequence[Term], filters: TextFilters, depth: int, adjacent: Term | None = None
    ) -> list[TextHit]:
        """The depth most relevant records, newest first among equals.

        Relevance: the share of the query's IDF-weighted terms a record has (all terms = 1, rarer
        terms weigh more), + ADJACENT_BONUS when the query's words stand side by side in it.
        """
        if not terms or depth <= 0:
            return []
        plan = self._plan(filters)
        if plan is None:
            return []
        terms = self._exact_when_found(terms)
        frequencies = self._document_frequencies(terms)
        total_records = max(self._approximate_count(), 1)
        weights = [math.log(1.0 + total_records / max(df, 1)) for df in frequencies]
        scores: dict[int, float] = {}
        if isinstance(plan, list):
            self._score_exact(plan, terms, weights, adjacent, scores)
        else:
            self._score_walk(
                plan, terms, weights=weights, frequencies=frequencies, adjacent=adjacent, depth=depth, scores=scores
            )
        best = heapq.nlargest(depth, scores.items(), key=lambda item: (item[1], item[0]))
        ids = self._ids_of([rowid for rowid, _ in best])
        return [TextHit(ids[rowid], score) for rowid, score in best if rowid in ids]

    def _score_walk(
        self, span: Span, terms: Sequence[Term], *, weights: list[float], frequencies: list[int],
        adjacent: Term | None, depth: int, scores: dict[int, float],
    ) -> None:  # fmt: skip
        """Scores the newest matches in span: every term first, then (if too few) those with some."""
        complete: list[int] = []
        if all(frequencies):  # a term no record has: no record has every term
            if adjacent is not None:
                for rowid in self._newest([adjacent], span, depth):
                    scores[rowid] = 1.0 + ADJACENT_BONUS
            complete = self._newest(terms, span, depth)
            for rowid in complete:
                scores.setdefault(rowid, 1.0)
        if len(complete) >= depth or len(terms) < 2:
            return
        # Fewer records than asked have every term: rank those with some, rarer terms first.
        total = sum(weights)
        for term, weight, df in zip(terms, weights, frequencies, strict=True):
            for rowid in self._newest([term], span, SCORE_CAP) if df else []:
                if scores.get(rowid, 0.0) < 1.0:
                    scores[rowid] = scores.get(rowid, 0.0) + weight / total

    def _plan(self, filters: TextFilters) -> Span | list[int] | None:
        """How to apply the filters: a rowid range to walk in FTS5, or the few records to score exactly.

        A selective filter is resolved through the side table's indexes first (pre-filtering); when
        its records lie close together (a time window) FTS5 walks only their rowid range, otherwise
        (a rare app over a year) they are matched one by one. A broad filter is checked on each match
        as FTS5 walks newest first (post-filtering), which stops as soon as enough have passed.
        """
        condition, params = filters.sql()
        # An until bound is a rowid ceiling: FTS5's newest-first walk starts there instead of
        # stepping over every newer match (half a million at 1M records for "until half the span").
        high = 2**63 - 1 if filters.until_ms is None else (max(filters.until_ms, -1) + 1) * SLOTS - 1
        full = Span(-(2**63), high, condition, tuple(params))
        if filters.empty:
            return full
        db = self._reader()
        rows = db.execute(
            f"SELECT d.rowid FROM docs AS d WHERE {condition} LIMIT ?", (*params, PRE_FILTER_MAX + 1)
        ).fetchall()
        if not rows:
            return None
        if len(rows) > PRE_FILTER_MAX:
            return full
        rowids = sorted(row[0] for row in rows)
        inside = db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM docs WHERE rowid BETWEEN ? AND ? LIMIT ?)",
            (rowids[0], rowids[-1], DENSE_FACTOR * len(rowids) + 1),
        ).fetchone()[0]
        if inside <= DENSE_FACTOR * len(rowids):
            return Span(rowids[0], rowids[-1], condition, tuple(params))
        return rowids

    def _newest(self, terms: Sequence[Term], span: Span, limit: int) -> list[int]:
        """Rowids of the newest records in span that pass its condition and have every term."""
        # Unfiltered, FTS5 alone; filtered, each match joins its side-table row (the walk is newest
        # first and stops at the limit, so a broad filter costs a few extra rows, not a scan).
        join = "" if span.condition == "1" else "CROSS JOIN docs AS d ON d.rowid = fts.rowid"
        sql = f"""SELECT fts.rowid FROM fts {join}
            WHERE fts MATCH ? AND fts.rowid BETWEEN ? AND ? AND {span.condition}
            ORDER BY fts.rowid DESC LIMIT ?"""
        match = " AND ".join(term.fts() for term in terms)
        rows = self._reader().execute(sql, (match, span.low, span.high, *span.params, limit))
        return [row[0] for row in rows]

    def _exact_when_found(self, terms: Sequence[Term]) -> list[Term]:
        """A word as written when some record has it, else as a prefix ("invoi" -> "invoices").

        A prefix query merges the doclists of every word it starts, ~10x the cost of one word: it is
        only paid for a word no record has whole.
        """
        out = []
        for term in terms:
            exact = replace(term, prefix=False)
            out.append(exact if term.prefix and self._document_frequencies([exact])[0] else term)
        return out

    def _document_frequencies(self, terms: Sequence[Term]) -> list[int]:
        """Records having each term, counted up to DF_CAP: every common term weighs the least (IDF)."""
        db = self._reader()
        out = []
        for term in terms:
            df = self._df.get(term)
            if df is None:
                df = db.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM fts WHERE fts MATCH ? LIMIT ?)", (term.fts(), DF_CAP)
                ).fetchone()[0]
                if len(self._df) >= DF_CACHE:
                    self._df.clear()
                self._df[term] = int(df)
            out.append(df)
        return out

    def _score_exact(
        self, rowids: list[int], terms: Sequence[Term], weights: list[float], adjacent: Term | None,
        scores: dict[int, float],
    ) -> None:  # fmt: skip
        """Scores a few pre-filtered records against their stored (folded) text, as FTS5 would match."""
        patterns = [term.regex() for term in terms]
        near = adjacent.regex() if adjacent is not None else None
        total = sum(weights)
        db = self._reader()
        for start in range(0, len(rowids), 500):
            batch = rowids[start : start + 500]
            sql = f"SELECT id, c0, c1, c2, c3 FROM fts_content WHERE id IN ({','.join('?' * len(batch))})"
            for rowid, *columns in db.execute(sql, batch):
                text = "\n".join(columns)
                score = sum(w for p, w in zip(patterns, weights, strict=True) if p.search(text)) / total
                if score > 0:
                    scores[rowid] = score + (ADJACENT_BONUS if near is not None and near.search(text) else 0.0)

    def _approximate_count(self) -> int:
        """The record count for IDF, refreshed each minute (an exact count(*) walks a whole index)."""
        now = time.monotonic()
        if now - self._counted_at > 60.0:
            self._counted, self._counted_at = self._count(), now
            self._df.clear()  # document frequencies age with the count
        return self._counted

    def _ids_of(self, rowids: list[int]) -> dict[int, str]:
        if not rowids:
            return {}
        sql = f"SELECT rowid, id FROM docs WHERE rowid IN ({','.join('?' * len(rowids))})"
        return dict(self._reader().execute(sql, rowids).fetchall())
