"""Recall: a text or image query -> CLIP embedding -> filtered kNN in the store -> merged moments."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

import numpy as np

from screenrecall.encode.image import EncodeError
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime
from screenrecall.errors import ScreenrecallError
from screenrecall.pipeline.messages import Embedding, Pixels, Record, Source
from screenrecall.recall.moments import Moment, merge_moments
from screenrecall.recall.text_search import by_score_then_recency, snippet, terms, text_hits
from screenrecall.store.chroma import Store
from screenrecall.store.text_index import TextFilters

MAX_LIMIT = 200
# Hits fetched per result asked for: near-identical neighbours merge into one moment, so the
# top-k must be deeper than the answer.
OVERFETCH = 4
APPS_REFRESH_S = 60.0
TILE_FANOUT = 4  # tiles fetched per frame asked for (a 2x2 grid has 4 per frame)
# A filter leaving at most this many records is scored exactly on their embeddings: cheaper than
# Chroma's filtered HNSW walk, which slows down the more selective the filter is.
VISUAL_PRE_FILTER_MAX = 200
# A broad filter (at least this share of the records) is applied after an unfiltered kNN that
# fetches enough neighbours for `depth` of them to pass (POST_FILTER_SLACK x the expected need).
POST_FILTER_MIN_SHARE = 0.15  # below it (10 % measured), Chroma's filtered walk was as fast
POST_FILTER_SLACK = 2.0
POST_FILTER_MAX_K = 1000


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
T = TypeVar("T")
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
        text_filters = self._text_filters(query.filters)
        textual_soon: _Beside[list[tuple[Record, float]]] | None = None
        if mode == "hybrid" and query.text:
            # The words' half runs beside CLIP's text encoding: both wait in native code (SQLite,
            # OpenVINO) that lets the other thread run, so a hybrid query costs the slower half.
            textual_soon = _Beside(lambda: text_hits(self._store, query.text or "", text_filters, depth))
        try:
            visual = self._visual(self.embed(query), depth, where, text_filters) if mode != "text" else []
        except BaseException:
            if textual_soon is not None:
                textual_soon.join()  # no thread outlives its query, even a failed one
            raise
        words = terms(query.text or "")
        textual: list[tuple[Record, float]] = []
        if textual_soon is not None:
            textual = textual_soon.result()
        elif mode == "text" and query.text:
            textual = text_hits(self._store, query.text, text_filters, depth)
        # Fused per record, then merged into moments, so a moment's text and look count together.
        # Text first into the fusion: on equal fused scores the frame that has the words wins.
        hits = fuse_hits(textual, visual) if mode == "hybrid" else (visual or textual)
        moments = by_score_then_recency(merge_moments(hits))
        for moment in moments:
            moment.snippet = snippet(moment.record.text, words)
        return moments[: query.limit]

    def _text_filters(self, filters: Filters) -> TextFilters:
        apps = None
        if filters.app is not None:
            pattern = re.compile(filters.app, re.IGNORECASE)  # where_clause has checked it compiles
            apps = tuple(name for name in self._app_names() if pattern.search(name))
        return TextFilters(filters.since_ms, filters.until_ms, apps, filters.monitor, filters.source, filters.host)

    def _visual(
        self, embedding: Embedding, depth: int, where: dict[str, Any] | None, filters: TextFilters
    ) -> list[tuple[Record, float]]:
        """CLIP ranking; with tiles, a frame scores its best of whole frame and tiles."""
        # (Not on a shared server: there the index may lag other hosts' writes by a sync.)
        if where is not None and self._store.text_sync is None and self._store.tiles.count() == 0:
            # Pre-filtering: a selective filter (a 2-hour window in a year) resolves to its few
            # records through the text index's side table; they are scored exactly.
            few = self._store.text_index.candidates(filters, VISUAL_PRE_FILTER_MAX)
            if few is not None:
                return _exact(embedding, self._store.get_many(few), depth)
            # Post-filtering: Chroma's filtered HNSW walk costs more than fetching a few times
            # the neighbours unfiltered and dropping those that do not pass.
            passed = self._post_filtered(embedding, depth, filters)
            if passed is not None:
                return passed
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
        return sorted(hits, key=lambda hit: hit[1], reverse=True)

    def _post_filtered(
        self, embedding: Embedding, depth: int, filters: TextFilters
    ) -> list[tuple[Record, float]] | None:
        """The depth nearest records that pass, or None when the filter is too narrow for this."""
        share = self._store.text_index.share(filters)
        if share <= 0.0 or share < POST_FILTER_MIN_SHARE:
            return None
        k = min(POST_FILTER_MAX_K, math.ceil(depth / share * POST_FILTER_SLACK))
        passed = [(record, score) for record, score in self._store.query(embedding, k) if _passes(record, filters)]
        # Too few passed (the estimate was off): Chroma's filtered walk is exact.
        return passed[:depth] if len(passed) >= depth else None

    def warm(self) -> None:
        """Gets the text model ready (compiled, tokenizer run once) before a query needs it: it is
        dropped when idle, and compiling it again costs the next query about a second."""
        self._runtime.text_encoder.encode("warm")

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


class _Beside(Generic[T]):
    """Runs work on a thread of its own, started now; result() joins it (one per query: a thread
    costs ~0.1 ms, and nothing outlives the query that started it)."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._work = work
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="search-text-half")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def join(self) -> None:
        self._thread.join()

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return cast(T, self._value)


def _passes(record: Record, filters: TextFilters) -> bool:
    """The filters of where_clause, on a record in hand."""
    checks = (
        filters.since_ms is None or record.last_seen_ms >= filters.since_ms,
        filters.until_ms is None or record.captured_at_ms <= filters.until_ms,
        filters.apps is None or record.window.app in filters.apps,
        filters.monitor is None or record.monitor == filters.monitor,
        filters.source is None or record.source == filters.source,
        filters.host is None or record.host == filters.host,
    )
    return all(checks)


def _exact(embedding: Embedding, records: list[Record], depth: int) -> list[tuple[Record, float]]:
    """Cosine similarity of each record to the query (both are unit vectors), best depth first."""
    if not records:
        return []
    scores = np.stack([record.embedding for record in records]) @ np.asarray(embedding, dtype=np.float32)
    order = np.argsort(-scores)[:depth]
    return [(records[i], float(scores[i])) for i in order]


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


def fuse_hits(*rankings: list[tuple[Record, float]]) -> list[tuple[Record, float]]:
    """Reciprocal rank fusion of records: each ranking adds 1 / (RRF_K + rank) to a record's score."""
    records: dict[str, Record] = {}
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (record, _) in enumerate(ranking, start=1):
            scores[record.id] = scores.get(record.id, 0.0) + 1.0 / (RRF_K + rank)
            # Text hits come with the same record (and embedding) as visual ones: the first is kept.
            records.setdefault(record.id, record)
    return sorted(((records[key], score) for key, score in scores.items()), key=lambda hit: hit[1], reverse=True)
