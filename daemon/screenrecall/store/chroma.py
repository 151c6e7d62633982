"""Keeps Records in Chroma (embedded, or a shared `chroma run` server): with chroma_client.py, the only
modules that talk to chromadb."""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from chromadb.api.client import Client
from chromadb.api.collection_configuration import CreateCollectionConfiguration
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Include, Metadata, Where, WhereDocument
from chromadb.errors import InternalError

from screenrecall import paths
from screenrecall.pipeline.messages import Embedding, Record
from screenrecall.store import erase, hnsw_slack
from screenrecall.store.chroma_client import SPACE, StoreError, check_space, close_client, open_client
from screenrecall.store.forget_ledger import ForgetLedger
from screenrecall.store.layout import to_metadata, to_records
from screenrecall.store.text_index import TextIndex
from screenrecall.store.text_sync import Progress, ServerSync, index_path, reconcile
from screenrecall.store.tile_index import TileIndex

logger = logging.getLogger(__name__)

__all__ = ["COLLECTION", "Store", "StoreError", "UnknownIdsError", "close_client"]  # two live in chroma_client

COLLECTION = "frames"
APPS = "apps"
TILES = "tiles"  # embeddings of frames' grid tiles, linked by frame_id (see tile_index.py)
_META: Include = ["metadatas"]
_FULL: Include = ["metadatas", "embeddings", "documents"]
_TEXT: Include = ["metadatas", "documents"]
_CONFIGURATION: CreateCollectionConfiguration = {"hnsw": {"space": SPACE}}


class UnknownIdsError(Exception):
    """Chroma has not some of the ids a walk was restricted to (deleted since they were listed)."""


class Store:
    """One process's handle on the store dir; callers hold the ProcessLock, Chroma must have one owner."""

    def __init__(self, path: Path, client: Client, url: str = "") -> None:
        self.path = path
        self.url = url
        # On a server shared by several machines: deletions by time, age or budget (forget,
        # retention, the disk budget) touch only this host's records; None touches every record.
        self.scope_host: str | None = None
        self._client = client
        self.max_batch = client.get_max_batch_size()
        # embedding_function=None: we pass embeddings; the default would download an ONNX model.
        frames = client.get_or_create_collection(COLLECTION, embedding_function=None, configuration=_CONFIGURATION)
        check_space(frames, path, COLLECTION)
        self._collection: Collection | None = frames
        # The few distinct app names, kept apart so an --app regex resolves without a full scan.
        self._apps = client.get_or_create_collection(APPS, embedding_function=None)
        self._known_apps: set[str] = set()
        tiles = client.get_or_create_collection(TILES, embedding_function=None, configuration=_CONFIGURATION)
        self.tiles = TileIndex(tiles, self.max_batch, shared=bool(url))
        self._compaction_due, self._compacted_at = False, -math.inf  # see erase_traces()
        self.ledger: ForgetLedger | None = None  # told what was forgotten, so it is not written again
        # The full-text index (text_index.py), written with every record; see text_sync.py for how
        # it stays consistent with Chroma and, on a shared server, with other hosts' writes.
        self.text_index = TextIndex(index_path(path, url))
        self.text_sync = ServerSync(self) if url else None

    @classmethod
    def open(cls, path: Path, url: str = "", text_progress: Progress | None = None) -> Store:
        """text_progress: told of each batch when the text index has to be built at open."""
        paths.ensure_private_dir(path)  # with a server too: this host's text index lives here
        if not url:
            hnsw_slack.zero_slack(path)  # what an earlier run left there (see store/hnsw_slack.py)
        store = cls(path, open_client(path, url), url)
        reconcile(store, text_progress)
        logger.info("store %s open: %d records, max batch %d", url or path, store.count(), store.max_batch)
        return store

    @property
    def telemetry_enabled(self) -> bool:
        return bool(self._client.get_settings().anonymized_telemetry)

    @property
    def _col(self) -> Collection:
        if self._collection is None:
            raise RuntimeError(f"store {self.path} is closed")
        return self._collection

    def add(self, records: Sequence[Record]) -> None:
        """Upserts; returns once Chroma has committed every batch (its SQLite log survives kill -9)."""
        # One upsert must not name an id twice (Chroma raises); the last version of a record wins.
        unique = list({record.id: record for record in records}.values())
        self.text_index.mark_pending(record.id for record in unique)
        for start in range(0, len(unique), self.max_batch):
            batch = unique[start : start + self.max_batch]
            self._col.upsert(
                ids=[record.id for record in batch],
                embeddings=np.stack([record.embedding for record in batch]).astype(np.float32),
                metadatas=[to_metadata(record) for record in batch],
                documents=[record.text for record in batch],
            )
        self._note_apps(record.window.app for record in unique)
        self.tiles.add([record for record in unique if record.tiles])
        self.text_index.upsert(unique)

    def get_many(self, record_ids: Sequence[str]) -> list[Record]:
        if not record_ids:
            return []
        result = self._col.get(ids=list(record_ids), include=_FULL)
        return to_records(result["ids"], result["metadatas"], result["embeddings"], result["documents"])

    def _note_apps(self, names: Iterable[str]) -> None:
        new = sorted({name for name in names if name} - self._known_apps)
        if new:
            self._apps.upsert(ids=new, embeddings=np.ones((len(new), 1), dtype=np.float32))
            self._known_apps.update(new)

    def set_text(self, record_id: str, text: str, embedding: Embedding) -> None:
        """Sets a stored record's OCR text (Chroma wants the embedding along with a new document)."""
        self.text_index.mark_pending([record_id])
        self._col.update(ids=[record_id], embeddings=embedding.reshape(1, -1), documents=[text])
        self.text_index.set_text(record_id, text)

    def text_search(self, patterns: Sequence[str], where: Mapping[str, Any] | None, limit: int) -> list[Record]:
        """Records whose text matches every regex (Rust syntax), with the filters; text, no embeddings."""
        clauses: list[dict[str, str]] = [{"$regex": pattern} for pattern in patterns]
        if not clauses:
            return []
        document = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        result = self._col.get(
            where=_where(where) if where else None,
            where_document=cast(WhereDocument, document),
            limit=limit,
            include=_TEXT,
        )
        return to_records(result["ids"], result["metadatas"], None, result["documents"])

    def distinct_apps(self) -> set[str]:
        """Every application class that has a record (may include apps whose records were deleted)."""
        return set(self._apps.get(include=[])["ids"])

    def delete_range(self, since_ms: int, until_ms: int, all_hosts: bool = False) -> list[Record]:
        """Forgets every record visible at any time in [since_ms, until_ms]; returns them (no embeddings).
        On a shared server only this host's, unless all_hosts (asked for explicitly: forget --all-hosts)."""
        where = _where({"$and": [{"captured_at": {"$lte": until_ms}}, {"last_seen": {"$gte": since_ms}}]})
        deleted = self._delete_where(where if all_hosts else self._scoped(where))
        if self.ledger is not None:
            self.ledger.forgot_range(since_ms, until_ms, deleted)
        self.erase_traces([record.id for record in deleted], compact_now=True)  # a forget erases at once
        return deleted

    def extend(self, last_seen: Mapping[str, int]) -> None:
        """Moves last_seen of existing records; other metadata is kept, unknown ids are ignored by Chroma."""
        items = list(last_seen.items())
        for start in range(0, len(items), self.max_batch):
            batch = items[start : start + self.max_batch]
            metadatas: list[Metadata] = [{"last_seen": ms} for _, ms in batch]
            self._col.update(ids=[record_id for record_id, _ in batch], metadatas=metadatas)
            self.tiles.extend(batch)
            self.text_index.extend(batch)

    def get(self, record_id: str) -> Record | None:
        result = self._col.get(ids=[record_id], include=_FULL)
        records = to_records(result["ids"], result["metadatas"], result["embeddings"], result["documents"])
        return records[0] if records else None

    def count(self) -> int:
        return self._col.count()

    def status_count(self) -> int:
        """The record count the status shows, rewritten every few seconds: the local text index's,
        which every write keeps in step with Chroma and open() reconciled with it (~0.05 ms, where
        Chroma's own count costs ~11 ms at 100k records and grows with them, stealing CPU from
        searches). Chroma's own count on a shared server (other hosts write there) or while the
        index is being built."""
        if self.url or self.text_index.state != "ok":
            return self.count()
        return self.text_index.count()

    def latest(self, monitor: int, since_ms: int) -> Record | None:
        """The newest screen record of a monitor captured at or after since_ms, with its embedding; on a
        shared server this host's (another machine's monitor 1 is not ours to extend or update)."""
        where = _where({"$and": [{"source": "screen"}, {"monitor": monitor}, {"captured_at": {"$gte": since_ms}}]})
        where = self._scoped(where)
        # Chroma cannot sort: scan the (short) window's metadata, then fetch the winner's embedding.
        newest = max(self._scan(where), key=_captured_at, default=None)
        return None if newest is None else self.get(newest.id)

    def records(self, where: Mapping[str, Any] | None = None, with_text: bool = False) -> Iterator[Record]:
        """Every (matching) record without its embedding, paged; with its OCR text if asked."""
        return self._scan(_where(where) if where else None, include=_TEXT if with_text else _META)

    def ids(self) -> set[str]:
        """Every record id: the start-up sweep of orphan thumbnails. From the text index when it
        mirrors the store (0.05 s at 100k records; open() reconciled the two, so equal counts mean
        the same ids); else from Chroma a page at a time, by offset, which rescans what it skips
        (1.5 s at 100k, growing faster than the store)."""
        if self.index_in_step():
            return set(self.text_index.ids())
        found: set[str] = set()
        offset = 0
        while True:
            page = self._col.get(limit=self.max_batch, offset=offset, include=[])["ids"]
            found.update(page)
            if len(page) < self.max_batch:
                return found
            offset += self.max_batch

    def known_file_keys(self) -> set[str]:
        """The file keys of every folder record. Chroma pages only by offset, which rescans what it
        skips (quadratic at scale), so the ids come keyset-paged from the text index, which open()
        made a mirror of the store, and their metadata from Chroma by id."""
        if not self.index_in_step():
            return {record.file_key for record in self._scan({"source": "folder"}) if record.file_key}
        keys: set[str] = set()
        for ids in self.text_index.id_pages("folder", self.max_batch):
            keys.update(
                str(meta.get("file_key") or "") for meta in self._col.get(ids=ids, include=_META)["metadatas"] or []
            )
        keys.discard("")
        return keys

    def index_in_step(self) -> bool:
        """The text index holds as many records as the store (open() reconciled the two)."""
        return self.text_index.state == "ok" and self.text_index.count() == self.count()

    def raw_metadata(self, record_ids: Sequence[str]) -> dict[str, Metadata]:
        """Records' metadata as stored, keys that are missing left missing (store/backfill.py)."""
        result = self._col.get(ids=list(record_ids), include=_META)
        return dict(zip(result["ids"], result["metadatas"] or [], strict=True))

    def merge_metadata(self, updates: Mapping[str, Metadata]) -> None:
        """Sets the given metadata keys of existing records; their other keys are kept."""
        if updates:
            self._col.update(ids=list(updates), metadatas=list(updates.values()))

    def nearest(
        self, embedding: Embedding, k: int, where: Mapping[str, Any] | None = None, among: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """The k nearest record ids as (id, cosine similarity), most similar first; only records
        passing where, and only these ids if among is given.

        Ids and distances only: Chroma reading the records' metadata, documents and embeddings costs
        4-8x the walk itself (k=1000 at 100k: 151 ms vs 19 ms), so callers fetch only the records
        they keep (get_many)."""
        if k <= 0 or (among is not None and not among):
            return []
        try:
            result = self._col.query(
                query_embeddings=np.asarray(embedding, dtype=np.float32).reshape(1, -1),
                ids=None if among is None else list(among),
                n_results=k if among is None else min(k, len(among)),
                where=_where(where) if where else None,
                include=["distances"],
            )
        except InternalError as exc:  # Chroma refuses a walk among ids when one of them is gone
            if among is None:
                raise
            raise UnknownIdsError(str(exc)) from exc
        distances = result["distances"]
        if distances is None:
            raise RuntimeError("Chroma returned a query without the distances asked for")
        # Chroma's cosine distance is 1 - cosine similarity; it already orders nearest first.
        return [(record_id, 1.0 - float(dist)) for record_id, dist in zip(result["ids"][0], distances[0], strict=True)]

    def embeddings(self, record_ids: Sequence[str]) -> dict[str, Embedding]:
        """The embeddings of these records (those that exist), without their metadata or text."""
        if not record_ids:
            return {}
        result = self._col.get(ids=list(record_ids), include=["embeddings"])
        found = result["embeddings"]
        if found is None:
            raise RuntimeError("Chroma returned a get without the embeddings asked for")
        return {
            record_id: np.asarray(vector, dtype=np.float32)
            for record_id, vector in zip(result["ids"], found, strict=True)
        }

    def delete_before(self, ms: int, limit: int = 0) -> list[Record]:
        """Deletes records last seen, and ingested, before ms (at most limit of them, if given);
        returns them without embeddings.

        Ingest time counts too: last year's screenshot ingested today is kept for the retention period
        from today (its captured_at and last_seen stay its mtime, for display and filters).
        """
        deleted = self._delete_where(
            self._scoped(_where({"$and": [{"last_seen": {"$lt": ms}}, {"ingested_at": {"$lt": ms}}]})), limit
        )
        if self.ledger is not None:
            self.ledger.forgot_records(deleted)
        self.erase_traces([record.id for record in deleted])
        return deleted

    def _scoped(self, where: Where) -> Where:
        mine = self._host_only()
        return where if mine is None else _where({"$and": [where, mine]})

    def _host_only(self) -> Where | None:
        return None if self.scope_host is None else _where({"host": self.scope_host})

    def _delete_where(self, where: Where, limit: int = 0) -> list[Record]:
        deleted: list[Record] = []
        while not limit or len(deleted) < limit:
            # Always from offset 0: each round deletes what the previous one returned.
            page = min(self.max_batch, limit - len(deleted)) if limit else self.max_batch
            result = self._col.get(where=where, limit=page, include=_META)
            batch = to_records(result["ids"], result["metadatas"], None)
            if not batch:
                return deleted
            self.text_index.mark_pending(record.id for record in batch)
            self._col.delete(ids=[record.id for record in batch])
            self.tiles.delete([record.id for record in batch])
            self.text_index.delete(record.id for record in batch)
            deleted.extend(batch)
        return deleted

    def oldest(self, n: int) -> list[Record]:
        """The n records captured first, oldest first, without embeddings."""
        if n <= 0:
            return []
        # Chroma cannot sort. Any n records bound the answer: the n oldest were all captured at or
        # before the newest of them. Storage order is roughly capture order, so the window stays small.
        sample = list(itertools.islice(self._scan(self._host_only(), page=n), n))
        if len(sample) < n:
            return sorted(sample, key=_captured_at)
        bound = max(record.captured_at_ms for record in sample)
        scoped = self._scoped(_where({"captured_at": {"$lte": bound}}))
        return heapq.nsmallest(n, self._scan(scoped), key=_captured_at)

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), self.max_batch):
            batch = list(ids[start : start + self.max_batch])
            self.text_index.mark_pending(batch)
            self._col.delete(ids=batch)
            self.tiles.delete(batch)
            self.text_index.delete(batch)
        self.erase_traces(ids)

    def erase_traces(self, ids: Sequence[str], compact_now: bool = False) -> None:
        """After a delete: the records' text leaves Chroma's log at once; the rest (FTS segments, free
        pages) goes at the next compact() (store/erase.py). A server's files are not ours to touch."""
        if self.url or not ids:
            return
        erase.scrub_log(self.path / erase.CHROMA_DB, ids)
        self._compaction_due = True
        if compact_now:
            self.compact()

    def compact(self, min_interval_s: float = 0.0) -> None:
        """Rewrites the store's SQLite file if records were deleted since the last time (and that was
        at least min_interval_s ago): a full rewrite, so retention asks for it rarely."""
        if not self._compaction_due or time.monotonic() - self._compacted_at < min_interval_s:
            return
        erase.compact(self.path / erase.CHROMA_DB)
        self.text_index.compact()
        self._compaction_due, self._compacted_at = False, time.monotonic()

    def disk_bytes(self) -> int:
        """Bytes the store dir takes on disk (allocated blocks: HNSW files are preallocated; the text index
        included); with a server, only the local text index."""
        if self.url:
            return self.text_index.disk_bytes()
        total = 0
        for root, _dirs, files in os.walk(self.path):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except FileNotFoundError:
                    continue  # Chroma replaced the file while we walked
        return total

    def close(self) -> None:
        """Drops our reference to Chroma's System; the last one stops it (SQLite closed, HNSW unloaded).

        The dir can then be reopened, here or by the next lock owner. Idempotent.
        """
        if self._collection is None:
            return
        if self.text_sync is not None:
            self.text_sync.close()
        self._collection = None
        close_client(self._client)
        if not self.url:
            hnsw_slack.zero_slack(self.path)
        self.text_index.close()
        logger.info("store %s closed", self.path)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _scan(self, where: Where | None, page: int = 0, include: Include = _META) -> Iterator[Record]:
        """Every matching record's metadata, a page at a time, so memory stays flat as the store grows."""
        page = min(page, self.max_batch) if page > 0 else self.max_batch
        offset = 0
        while True:
            result = self._col.get(where=where, limit=page, offset=offset, include=include)
            yield from to_records(result["ids"], result["metadatas"], None, result["documents"])
            if len(result["ids"]) < page:
                return
            offset += page


def _captured_at(record: Record) -> int:
    return record.captured_at_ms


def _where(filters: Mapping[str, Any]) -> Where:
    # Chroma's Where is a recursive union mypy cannot infer from a literal; Chroma validates it at call.
    return cast(Where, dict(filters))
