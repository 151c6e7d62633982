"""Recall: a text or image query -> CLIP embedding -> filtered kNN in the store -> merged moments."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from screenrecall.encode.image import EncodeError
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime
from screenrecall.errors import ScreenrecallError
from screenrecall.frames import Embedding, Pixels, Source
from screenrecall.moments import Moment, merge_moments
from screenrecall.store import Store
from screenrecall.text_search import snippet, terms, text_moments

MAX_LIMIT = 200
# Hits fetched per result asked for: near-identical neighbours merge into one moment, so the
# top-k must be deeper than the answer.
OVERFETCH = 4
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
        # Text first into the fusion: on equal fused scores the frame that has the words wins.
        moments = fuse(textual, visual) if mode == "hybrid" else (visual or textual)
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
