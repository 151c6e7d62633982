"""Once per store: gives records written before `ingested_at` existed that metadata key.

Retention deletes by `last_seen < cutoff AND ingested_at < cutoff`, and a Chroma filter never
matches a record that lacks a key, so without it such records were kept forever. A screen record
was ingested when it was captured, so it gets its `captured_at`. A folder record's ingest time was
not kept; its `captured_at` is the file's mtime, which could be years back and would expire it at
once after an upgrade, so it gets the time of the backfill: kept one more retention period, never
less than the user was promised.

Run by the first housekeeping run in chunks (resting between them; a stop leaves the rest for the
next start, which carries on: records that have the key are skipped); a marker beside the text
index says it is done, so later starts do not read every record's metadata again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from chromadb.api.types import Metadata

from screenrecall.pipeline.chunks import Chunks
from screenrecall.store.chroma import Store

logger = logging.getLogger(__name__)

KEY = "ingested_at"


def marker(store: Store) -> Path:
    # Beside the text index: one per store dir, and on a shared server one per server URL.
    return marker_beside(store.text_index.path)


def marker_beside(index: Path) -> Path:
    return index.with_name(index.name + ".ingested-at-done")


def backfill_ingested_at(store: Store, chunks: Chunks, now_ms: int) -> int:
    """Sets the key where it is missing; returns how many records got it. Raises StoppedError (chunks.py)
    when the daemon stops midway, before the marker is written."""
    done = marker(store)
    if done.exists():
        return 0
    filled = 0
    for ids in _id_pages(store, chunks.records):
        updates: dict[str, Metadata] = {}
        for record_id, metadata in store.raw_metadata(ids).items():
            if KEY in metadata or not _ours(store, metadata):
                continue
            captured = metadata.get("captured_at")
            at = captured if metadata.get("source") == "screen" and isinstance(captured, int) else now_ms
            updates[record_id] = {KEY: at}
        store.merge_metadata(updates)
        filled += len(updates)
        chunks.rest()
    done.touch()
    if filled:
        logger.info("gave %d records from an older version their ingest time (retention can expire them)", filled)
    return filled


def _ours(store: Store, metadata: Metadata) -> bool:
    # On a shared server each host backfills its own records, as it expires only its own.
    return store.scope_host is None or metadata.get("host") == store.scope_host


def _id_pages(store: Store, page: int) -> Iterator[list[str]]:
    if store.index_in_step():
        yield from store.text_index.id_pages(None, page)  # keyset-paged, see Store.known_file_keys
        return
    ids = sorted(store.ids())
    for start in range(0, len(ids), page):
        yield ids[start : start + page]
