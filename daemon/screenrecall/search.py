"""Recall: a text or image query -> CLIP embedding -> filtered kNN in the store -> merged moments."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from screenrecall.encode.image import EncodeError
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime
from screenrecall.errors import ScreenrecallError
from screenrecall.frames import Embedding, Pixels, Record, Source
from screenrecall.store import Store

MAX_LIMIT = 200
# Hits fetched per result asked for: near-identical neighbours merge into one moment, so the
# top-k must be deeper than the answer.
OVERFETCH = 4
# Two hits of one monitor are one moment when this alike and at most this far apart in time.
MERGE_COSINE = 0.95
MERGE_GAP_MS = 5 * 60 * 1000
APPS_REFRESH_S = 60.0
TILE_FANOUT = 4  # tiles fetched per frame asked for (a 2x2 grid has 4 per frame)


class QueryError(ScreenrecallError):
    """A search request that cannot be answered as asked (bad regex, empty query, ...)."""


@dataclass(frozen=True)
class Filters:
    since_ms: int | None = None  # moments still visible at or after this time
    until_ms: int | None = None  # moments that began at or before this time
    app: str | None = None  # regex on the window's application class
    monitor: int | None = None
    source: Source | None = None
    host: str | None = None


Mode = Literal["hybrid", "visual", "text"]
MODES: tuple[Mode, ...] = ("hybrid", "visual", "text")
RRF_K = 60  # reciprocal rank fusion's constant: damps the weight of the very top ranks


@dataclass(frozen=True)
class Query:
    text: str | None = None
    image: Pixels | None = None
    filters: Filters = field(default_factory=Filters)
    limit: int = 10
    mode: Mode = "hybrid"  # an image query is always visual


@dataclass
class Moment:
    """One or more consecutive, near-identical records of one monitor: what the user saw."""

    record: Record  # the best-scoring record of the moment
    score: float
    first_seen_ms: int
    last_seen_ms: int
    record_ids: list[str]
    snippet: str = ""

    def to_json(self) -> dict[str, Any]:
        r = self.record
        return {
            "snippet": self.snippet,
            "id": r.id,
            "score": round(self.score, 6),
            "captured_at": iso(self.first_seen_ms),
            "last_seen": iso(self.last_seen_ms),
            "captured_at_ms": self.first_seen_ms,
            "last_seen_ms": self.last_seen_ms,
            "source": r.source,
            "monitor": r.monitor,
            "window_title": r.window.title,
            "app": r.window.app,
            "path": r.path,
            "thumbnail": r.thumbnail,
            "host": r.host,
            "record_ids": self.record_ids,
        }


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone().isoformat(timespec="seconds")


class Searcher:
    """Thread-safe: the API serves several requests at once; the encoders lock internally."""

    def __init__(self, store: Store, runtime: ModelRuntime, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._runtime = runtime
        self._clock = clock
        self._apps: set[str] = set()
        self._apps_at = -APPS_REFRESH_S
        self._lock = threading.Lock()

    def note_app(self, app: str) -> None:
        """The writer saw a new record: its app becomes searchable without a rescan."""
        if app:
            with self._lock:
                self._apps.add(app)

    def search(self, query: Query) -> list[Moment]:
        if not 1 <= query.limit <= MAX_LIMIT:
            raise QueryError(f"limit must be 1..{MAX_LIMIT}, not {query.limit}")
        if query.mode not in MODES:
            raise QueryError(f"mode must be one of {', '.join(MODES)}, not {query.mode!r}")
        mode = "visual" if query.image is not None else query.mode
        where = where_clause(query.filters, self._app_names)
        if where is NOTHING:
            return []
        depth = query.limit * OVERFETCH
        visual = self._visual(self.embed(query), depth, where) if mode != "text" else []
        words = terms(query.text or "")
        textual = text_moments(self._store, words, where, depth) if mode != "visual" else []
        moments = fuse(visual, textual) if mode == "hybrid" else (visual or textual)
        for moment in moments:
            moment.snippet = snippet(moment.record.text, words)
        return moments[: query.limit]

    def _visual(self, embedding: Embedding, depth: int, where: dict[str, Any] | None) -> list[Moment]:
        """CLIP ranking; with tiles, a frame scores its best of whole frame and tiles."""
        hits = self._store.query(embedding, depth, where)
        best_tiles = self._store.tiles.query(embedding, depth * TILE_FANOUT, where)
        if best_tiles:
            scores = {record.id: score for record, score in hits}
            records = {record.id: record for record, _ in hits}
            for record in self._store.get_many([i for i in best_tiles if i not in records]):
                records[record.id] = record
            for frame_id, score in best_tiles.items():
                if frame_id in records:
                    scores[frame_id] = max(scores.get(frame_id, -1.0), score)
            hits = [(records[i], scores[i]) for i in scores]
        return merge_moments(hits)

    def embed(self, query: Query) -> Embedding:
        if (query.text is None) == (query.image is None):
            raise QueryError("give exactly one of a text or an image")
        if query.text is not None:
            if not query.text.strip():
                raise QueryError("the query text is empty")
            return self._runtime.text_encoder.encode(query.text)
        assert query.image is not None
        square = letterbox(query.image, self._runtime.image_side)
        result = self._runtime.image_encoder(_ignore, _ignore).encode_batch([square])[0]
        if isinstance(result, EncodeError):
            raise QueryError(f"the query image could not be embedded: {result}")
        return result

    def _app_names(self) -> Iterable[str]:
        with self._lock:
            if self._clock() - self._apps_at > APPS_REFRESH_S:
                self._apps |= self._store.distinct_apps()
                self._apps_at = self._clock()
            return sorted(self._apps)


def _ignore(*_: object) -> None:
    return None


NOTHING: dict[str, Any] = {"$nothing": True}  # sentinel: the filters exclude everything


def where_clause(filters: Filters, app_names: Callable[[], Iterable[str]]) -> dict[str, Any] | None:
    """Chroma `where` for the filters, so they apply inside the kNN rather than after a top-k."""
    clauses: list[dict[str, Any]] = []
    if filters.since_ms is not None:
        clauses.append({"last_seen": {"$gte": filters.since_ms}})
    if filters.until_ms is not None:
        clauses.append({"captured_at": {"$lte": filters.until_ms}})
    for key, value in (("monitor", filters.monitor), ("source", filters.source), ("host", filters.host)):
        if value is not None:
            clauses.append({key: value})
    if filters.app is not None:
        try:
            pattern = re.compile(filters.app, re.IGNORECASE)
        except re.error as exc:
            raise QueryError(f"bad --app regex {filters.app!r}: {exc}") from None
        # Chroma cannot match metadata by regex: resolve it against the (few) known app names.
        names = [name for name in app_names() if pattern.search(name)]
        if not names:
            return NOTHING
        clauses.append({"app": {"$in": names}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def merge_moments(hits: list[tuple[Record, float]]) -> list[Moment]:
    """Merges consecutive near-identical hits of one monitor; best moments first."""
    ordered = sorted(hits, key=lambda hit: (hit[0].host, hit[0].source, hit[0].monitor, hit[0].captured_at_ms))
    moments: list[Moment] = []
    previous: Record | None = None
    for record, score in ordered:
        current = moments[-1] if moments else None
        if current is not None and previous is not None and _same_moment(previous, record, current):
            current.last_seen_ms = max(current.last_seen_ms, record.last_seen_ms)
            current.record_ids.append(record.id)
            if score > current.score:
                current.record, current.score = record, score
        else:
            moments.append(Moment(record, score, record.captured_at_ms, record.last_seen_ms, [record.id]))
        previous = record
    return sorted(moments, key=lambda m: m.score, reverse=True)


def _same_moment(previous: Record, record: Record, moment: Moment) -> bool:
    if record.source != "screen" or (previous.host, previous.source, previous.monitor) != (
        record.host,
        record.source,
        record.monitor,
    ):
        return False
    if record.captured_at_ms - moment.last_seen_ms > MERGE_GAP_MS:
        return False
    alike = float(np.dot(previous.embedding, record.embedding)) if previous.embedding.size else 0.0
    return alike >= MERGE_COSINE


def terms(text: str) -> list[str]:
    """Quoted phrases stay whole; other words stand alone (one-letter words are dropped)."""
    phrases = re.findall(r'"([^"]+)"', text)
    rest = re.sub(r'"[^"]*"', " ", text)
    words = [word for word in re.findall(r"[\w@.#:/\\-]+", rest) if len(word) > 1]
    return [phrase.strip() for phrase in phrases if phrase.strip()] + words


def pattern(term: str) -> str:
    """A case-insensitive regex (Rust syntax) for a term; any run of spaces matches any whitespace."""
    escaped = "".join("\\" + ch if ch in RUST_META else ch for ch in term)
    return "(?i)" + re.sub(r"\s+", r"\\s+", escaped)


RUST_META = set("\\.+*?()|[]{}^$#&-~")


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
    lowered = " ".join(text.lower().split())
    hits = sum(1 + (" " in w) for w in words if " ".join(w.lower().split()) in lowered)
    return hits / sum(1 + (" " in w) for w in words)


def fuse(*rankings: list[Moment]) -> list[Moment]:
    """Reciprocal rank fusion: each list adds 1 / (RRF_K + rank) to a record's score."""
    fused: dict[str, Moment] = {}
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, moment in enumerate(ranking, start=1):
            key = moment.record.id
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank)
            fused.setdefault(key, moment)
    for key, moment in fused.items():
        moment.score = scores[key]
    return sorted(fused.values(), key=lambda m: m.score, reverse=True)


def snippet(text: str, words: list[str], width: int = 160) -> str:
    """The first line of the text that holds a term (else the first line), cut to width."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    lowered = [w.lower() for w in words]
    chosen = next((line for line in lines if any(w in line.lower() for w in lowered)), lines[0])
    return chosen if len(chosen) <= width else chosen[: width - 1] + "…"
