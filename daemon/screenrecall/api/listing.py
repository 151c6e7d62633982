"""`GET /v1/records`: the records seen in a time range, newest first (what agents ask "what was on screen lately")."""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any

from screenrecall.errors import ScreenrecallError
from screenrecall.pipeline.messages import Record
from screenrecall.store.chroma import Store

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class ListingError(ScreenrecallError):
    """A records listing that cannot be answered as asked."""


def listing_where(query: Mapping[str, str]) -> tuple[dict[str, Any] | None, int]:
    """The Chroma filter and the limit for the query string; ListingError names a bad parameter."""
    unknown = set(query) - {"since_ms", "until_ms", "monitor", "source", "limit"}
    if unknown:
        raise ListingError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    clauses: list[dict[str, Any]] = []
    # The same overlap rule as search: a record counts when it was visible at any time in the range.
    since, until = _integer(query, "since_ms"), _integer(query, "until_ms")
    if since is not None:
        clauses.append({"last_seen": {"$gte": since}})
    if until is not None:
        clauses.append({"captured_at": {"$lte": until}})
    if since is not None and until is not None and since > until:
        raise ListingError("since_ms must be <= until_ms")
    monitor = _integer(query, "monitor")
    if monitor is not None:
        clauses.append({"monitor": monitor})
    source = query.get("source")
    if source is not None:
        if source not in ("screen", "folder"):
            raise ListingError("source must be 'screen' or 'folder'")
        clauses.append({"source": source})
    limit = _integer(query, "limit")
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise ListingError(f"limit must be 1..{MAX_LIMIT}")
    if not clauses:
        return None, limit
    return (clauses[0] if len(clauses) == 1 else {"$and": clauses}), limit


def newest_records(store: Store, where: dict[str, Any] | None, limit: int) -> list[Record]:
    """The `limit` records last seen most recently, with their text (Chroma cannot sort: a paged scan)."""
    return heapq.nlargest(limit, store.records(where, with_text=True), key=_last_seen)


def _last_seen(record: Record) -> tuple[int, int]:
    return record.last_seen_ms, record.captured_at_ms


def _integer(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ListingError(f"{name} must be an integer") from None
