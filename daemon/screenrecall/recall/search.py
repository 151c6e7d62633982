"""Recall: a query -> the visual half (visual.py) and the words' half (text_search.py), fused -> moments."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

from screenrecall.encode.image import EncodeError
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime
from screenrecall.errors import ScreenrecallError
from screenrecall.pipeline.messages import Embedding, Pixels, Source
from screenrecall.recall.moments import Moment, merge_moments, sketches
from screenrecall.recall.text_search import by_score_then_recency, snippet, terms, text_ranking
from screenrecall.recall.visual import Ranking, nearest
from screenrecall.store.chroma import Store
from screenrecall.store.text_index import TextFilters

MAX_LIMIT = 200
# Hits fetched per result asked for: near-identical neighbours merge into one moment, so the
# top-k must be deeper than the answer.
OVERFETCH = 4
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
        textual_soon: _Beside[Ranking] | None = None
        if mode == "hybrid" and query.text:
            # The words' half runs beside CLIP's text encoding: both wait in native code (SQLite,
            # OpenVINO) that lets the other thread run, so a hybrid query costs the slower half.
            textual_soon = _Beside(lambda: text_ranking(self._store, query.text or "", text_filters, depth))
        try:
            visual = nearest(self._store, self.embed(query), depth, where, text_filters) if mode != "text" else []
        except BaseException:
            if textual_soon is not None:
                textual_soon.join()  # no thread outlives its query, even a failed one
            raise
        textual: Ranking = []
        if textual_soon is not None:
            textual = textual_soon.result()
        elif mode == "text" and query.text:
            textual = text_ranking(self._store, query.text, text_filters, depth)
        # Fused per record, then merged into moments, so a moment's text and look count together.
        # Text first into the fusion: on equal fused scores the frame that has the words wins.
        ranked = fuse_hits(textual, visual) if mode == "hybrid" else (visual or textual)
        moments = self._moments(ranked, query.limit)
        words = terms(query.text or "")
        for moment in moments:
            moment.snippet = snippet(moment.record.text, words)
        return moments

    def _moments(self, ranked: Ranking, limit: int) -> list[Moment]:
        """The best `limit` moments: merged from sketches of every ranked record, then the shown
        moments' best records fetched whole (their window, path, text)."""
        sketched = sketches(self._store, [record_id for record_id, _ in ranked])
        hits = [(sketched[record_id], score) for record_id, score in ranked if record_id in sketched]
        ordered = by_score_then_recency(merge_moments(hits))
        shown: list[Moment] = []
        # In rounds: a sketch from the side table alone may be of a record Chroma has just deleted
        # (a forget or expiry under way, or another host's on a shared server); the next ones fill in.
        start = 0
        while len(shown) < limit and start < len(ordered):
            batch = ordered[start : start + limit - len(shown)]
            start += len(batch)
            whole = {record.id: record for record in self._store.get_many([moment.record.id for moment in batch])}
            for moment in batch:
                if moment.record.id in whole:
                    moment.record = whole[moment.record.id]
                    shown.append(moment)
        return shown

    def _text_filters(self, filters: Filters) -> TextFilters:
        apps = None
        if filters.app is not None:
            pattern = re.compile(filters.app, re.IGNORECASE)  # where_clause has checked it compiles
            apps = tuple(name for name in self._app_names() if pattern.search(name))
        return TextFilters(filters.since_ms, filters.until_ms, apps, filters.monitor, filters.source, filters.host)

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


def fuse_hits(*rankings: Ranking) -> Ranking:
    """Reciprocal rank fusion: each ranking adds 1 / (RRF_K + rank) to a record's score."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (record_id, _) in enumerate(ranking, start=1):
            scores[record_id] = scores.get(record_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda hit: hit[1], reverse=True)
