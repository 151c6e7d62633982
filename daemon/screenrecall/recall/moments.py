"""Moments: what a search returns — consecutive, near-identical records of one monitor merged."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np

from screenrecall.pipeline.messages import Record, Source, Window
from screenrecall.store.chroma import Store
from screenrecall.store.text_index import SideFields

# Two hits of one monitor are one moment when this alike and at most this far apart in time.
MERGE_COSINE = 0.95
MERGE_GAP_MS = 5 * 60 * 1000
_NOT_READ = np.zeros(0, dtype=np.float32)  # a sketch's embedding that no merge decision needs


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
            "monitor_geometry": r.geometry,
            "record_ids": self.record_ids,
        }


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone().isoformat(timespec="seconds")


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
    if not (previous.embedding.size and record.embedding.size):
        return False
    return float(np.dot(previous.embedding, record.embedding)) >= MERGE_COSINE


def sketches(store: Store, record_ids: list[str]) -> dict[str, Record]:
    """Records with what merging needs (time, host, source, monitor, app, and the embedding where a
    merge could ask for it) and nothing else, from the text index's side table: ~0.3 ms for 80 hits,
    where Chroma's embeddings cost ~5 ms and its whole records ~18. Only hits that follow another of
    their monitor within MERGE_GAP_MS can merge, so only theirs (and that one's) embeddings are read.
    A record the side table lacks (a shared server's index lagging a sync) comes whole from Chroma;
    one Chroma lacks while its embedding is asked for (just deleted) is left out."""
    fields = store.text_index.fields(record_ids)
    whole = {record.id: record for record in store.get_many([i for i in record_ids if i not in fields])}
    # Whole records come with their embedding, but a neighbour of theirs may need its own read.
    every = {**fields, **{record_id: _side_fields(record) for record_id, record in whole.items()}}
    wanted = [record_id for record_id in mergeable(every) if record_id not in whole]
    embeddings = store.embeddings(wanted)
    found = {
        record_id: Record(
            id=record_id,
            embedding=embeddings.get(record_id, _NOT_READ),
            captured_at_ms=row.captured_at_ms,
            last_seen_ms=row.last_seen_ms,
            source=cast(Source, row.source),
            monitor=row.monitor,
            path="",
            window=Window(app=row.app),
            width=0,
            height=0,
            host=row.host,
        )
        for record_id, row in fields.items()
        if record_id in embeddings or record_id not in wanted
    }
    found.update(whole)
    return found


def _side_fields(record: Record) -> SideFields:
    return SideFields(
        record.captured_at_ms, record.last_seen_ms, record.window.app, record.monitor, record.source, record.host
    )


def mergeable(fields: Mapping[str, SideFields]) -> list[str]:
    """The screen hits merge_moments could join to the hit before them: same host and monitor, within
    MERGE_GAP_MS of the last sighting of the run they follow (a superset of what it merges)."""
    screens = [(row.host, row.monitor, row.captured_at_ms, i) for i, row in fields.items() if row.source == "screen"]
    wanted: set[str] = set()
    previous: tuple[str, int, str] | None = None
    run_seen_ms = 0
    for host, monitor, captured_ms, record_id in sorted(screens):
        if previous is not None and previous[:2] == (host, monitor) and captured_ms - run_seen_ms <= MERGE_GAP_MS:
            wanted.update((previous[2], record_id))
            run_seen_ms = max(run_seen_ms, fields[record_id].last_seen_ms)
        else:
            run_seen_ms = fields[record_id].last_seen_ms
        previous = (host, monitor, record_id)
    return [record_id for record_id in fields if record_id in wanted]
