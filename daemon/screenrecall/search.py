"""Recall: a text or image query -> CLIP embedding -> filtered kNN in the store -> merged moments."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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


@dataclass(frozen=True)
class Query:
    text: str | None = None
    image: Pixels | None = None
    filters: Filters = field(default_factory=Filters)
    limit: int = 10


@dataclass
class Moment:
    """One or more consecutive, near-identical records of one monitor: what the user saw."""

    record: Record  # the best-scoring record of the moment
    score: float
    first_seen_ms: int
    last_seen_ms: int
    record_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        r = self.record
        return {
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
        embedding = self.embed(query)
        where = where_clause(query.filters, self._app_names)
        if where is NOTHING:
            return []
        hits = self._store.query(embedding, query.limit * OVERFETCH, where)
        return merge_moments(hits)[: query.limit]

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
