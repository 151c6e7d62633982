"""Keeps Records in an embedded Chroma collection: the only module that talks to chromadb."""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, cast

import chromadb
import numpy as np
from chromadb.api.client import Client
from chromadb.api.collection_configuration import CreateCollectionConfiguration
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Include, Metadata, Where
from chromadb.config import Settings

from . import paths
from .frames import Embedding, Record, Source, Window

logger = logging.getLogger(__name__)

COLLECTION = "frames"
SPACE: Final = "cosine"
ID_HEX_CHARS = 24  # 96 bits: no collision in any lifetime of screenshots, short in URLs and logs
NO_EMBEDDING: Embedding = np.empty(0, dtype=np.float32)  # metadata-only records
_META: Include = ["metadatas"]
_FULL: Include = ["metadatas", "embeddings"]
_CONFIGURATION: CreateCollectionConfiguration = {"hnsw": {"space": SPACE}}


def record_id_for_file(file_key: str) -> str:
    """Same file (path|size|mtime) = same id, so re-ingesting a folder is an idempotent upsert."""
    return _short_hash(f"file\0{file_key}")


def record_id_for_screen(monitor: int, captured_at_ms: int) -> str:
    return _short_hash(f"screen\0{monitor}\0{captured_at_ms}")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:ID_HEX_CHARS]


def _open_client(path: Path) -> Client:
    """The one place a Chroma client is made (a server-mode HttpClient would be chosen here)."""
    # Telemetry off explicitly: in 1.5.9 the Posthog client is a no-op, but an upgrade must not change that.
    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    if not isinstance(client, Client):
        raise TypeError(f"unexpected Chroma client {type(client).__name__}")
    return client


class Store:
    """One process's handle on the store dir; callers hold the ProcessLock, Chroma must have one owner."""

    def __init__(self, path: Path, client: Client, collection: Collection) -> None:
        self.path = path
        self._client = client
        self._collection: Collection | None = collection
        self.max_batch = client.get_max_batch_size()

    @classmethod
    def open(cls, path: Path) -> Store:
        paths.ensure_private_dir(path)
        client = _open_client(path)
        # embedding_function=None: we pass embeddings; the default would download an ONNX model.
        collection = client.get_or_create_collection(COLLECTION, embedding_function=None, configuration=_CONFIGURATION)
        _check_space(collection, path)
        store = cls(path, client, collection)
        logger.info("store %s open: %d records, max batch %d", path, store.count(), store.max_batch)
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
        for start in range(0, len(unique), self.max_batch):
            batch = unique[start : start + self.max_batch]
            self._col.upsert(
                ids=[record.id for record in batch],
                embeddings=np.stack([record.embedding for record in batch]).astype(np.float32),
                metadatas=[_to_metadata(record) for record in batch],
            )

    def extend(self, last_seen: Mapping[str, int]) -> None:
        """Moves last_seen of existing records; other metadata is kept, unknown ids are ignored by Chroma."""
        items = list(last_seen.items())
        for start in range(0, len(items), self.max_batch):
            batch = items[start : start + self.max_batch]
            metadatas: list[Metadata] = [{"last_seen": ms} for _, ms in batch]
            self._col.update(ids=[record_id for record_id, _ in batch], metadatas=metadatas)

    def get(self, record_id: str) -> Record | None:
        result = self._col.get(ids=[record_id], include=_FULL)
        records = _records(result["ids"], result["metadatas"], result["embeddings"])
        return records[0] if records else None

    def count(self) -> int:
        return self._col.count()

    def latest(self, monitor: int, since_ms: int) -> Record | None:
        """The newest screen record of a monitor captured at or after since_ms, with its embedding."""
        where = _where({"$and": [{"source": "screen"}, {"monitor": monitor}, {"captured_at": {"$gte": since_ms}}]})
        # Chroma cannot sort: scan the (short) window's metadata, then fetch the winner's embedding.
        newest = max(self._scan(where), key=_captured_at, default=None)
        return None if newest is None else self.get(newest.id)

    def records(self, where: Mapping[str, Any] | None = None) -> Iterator[Record]:
        """Every (matching) record, metadata only, paged."""
        return self._scan(_where(where) if where else None)

    def known_file_keys(self) -> set[str]:
        return {record.file_key for record in self._scan({"source": "folder"}) if record.file_key}

    def query(self, embedding: Embedding, k: int, where: Mapping[str, Any] | None = None) -> list[tuple[Record, float]]:
        """The k nearest records as (record, cosine similarity), most similar first."""
        if k <= 0:
            return []
        result = self._col.query(
            query_embeddings=np.asarray(embedding, dtype=np.float32).reshape(1, -1),
            n_results=k,
            where=_where(where) if where else None,
            include=[*_FULL, "distances"],
        )
        metadatas, embeddings, distances = result["metadatas"], result["embeddings"], result["distances"]
        if metadatas is None or embeddings is None or distances is None:
            raise RuntimeError("Chroma returned a query without the fields asked for")
        records = _records(result["ids"][0], metadatas[0], embeddings[0])
        # Chroma's cosine distance is 1 - cosine similarity; it already orders nearest first.
        return [(record, 1.0 - float(dist)) for record, dist in zip(records, distances[0], strict=True)]

    def delete_before(self, ms: int) -> list[Record]:
        """Deletes records last seen before ms; returns them without embeddings (for thumbnail clean-up)."""
        where = _where({"last_seen": {"$lt": ms}})
        deleted: list[Record] = []
        while True:
            # Always from offset 0: each round deletes what the previous one returned.
            result = self._col.get(where=where, limit=self.max_batch, include=_META)
            batch = _records(result["ids"], result["metadatas"], None)
            if not batch:
                return deleted
            self._col.delete(ids=[record.id for record in batch])
            deleted.extend(batch)

    def oldest(self, n: int) -> list[Record]:
        """The n records captured first, oldest first, without embeddings."""
        if n <= 0:
            return []
        # Chroma cannot sort. Any n records bound the answer: the n oldest were all captured at or
        # before the newest of them. Storage order is roughly capture order, so the window stays small.
        sample = list(itertools.islice(self._scan(None, page=n), n))
        if len(sample) < n:
            return sorted(sample, key=_captured_at)
        bound = max(record.captured_at_ms for record in sample)
        return heapq.nsmallest(n, self._scan(_where({"captured_at": {"$lte": bound}})), key=_captured_at)

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), self.max_batch):
            self._col.delete(ids=list(ids[start : start + self.max_batch]))

    def disk_bytes(self) -> int:
        """Bytes the store dir takes on disk (allocated blocks: HNSW files are preallocated)."""
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
        self._collection = None
        self._client.close()
        logger.info("store %s closed", self.path)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _scan(self, where: Where | None, page: int = 0) -> Iterator[Record]:
        """Every matching record's metadata, a page at a time, so memory stays flat as the store grows."""
        page = min(page, self.max_batch) if page > 0 else self.max_batch
        offset = 0
        while True:
            result = self._col.get(where=where, limit=page, offset=offset, include=_META)
            yield from _records(result["ids"], result["metadatas"], None)
            if len(result["ids"]) < page:
                return
            offset += page


def _captured_at(record: Record) -> int:
    return record.captured_at_ms


def _check_space(collection: Collection, path: Path) -> None:
    # configuration_json, not configuration: with embedding_function=None Chroma 1.5.9 stores a "legacy"
    # function entry and the parsed property emits a DeprecationWarning on every read.
    space = (collection.configuration_json.get("hnsw") or {}).get("space", SPACE)
    if space != SPACE:
        # The space is fixed at creation; similarities from another space would be silently wrong.
        raise RuntimeError(f"{path}: collection {COLLECTION!r} uses {space!r} distance, expected {SPACE!r}")


def _where(filters: Mapping[str, Any]) -> Where:
    # Chroma's Where is a recursive union mypy cannot infer from a literal; Chroma validates it at call.
    return cast(Where, dict(filters))


def _to_metadata(record: Record) -> Metadata:
    # Empty strings are valid Chroma 1.5.9 metadata (only empty lists are refused), so no sentinels.
    return {
        "captured_at": record.captured_at_ms,
        "last_seen": record.last_seen_ms,
        "source": record.source,
        "monitor": record.monitor,
        "path": record.path,
        "window_title": record.window.title,
        "app": record.window.app,
        "width": record.width,
        "height": record.height,
        "thumbnail": record.thumbnail,
        "file_key": record.file_key,
    }


def _records(ids: Sequence[str], metadatas: Sequence[Metadata] | None, embeddings: Any) -> list[Record]:
    """Zips Chroma's columns into Records; embeddings None gives metadata-only records."""
    if metadatas is None:
        raise RuntimeError("Chroma returned records without metadata")
    vectors: Sequence[Any] = [NO_EMBEDDING] * len(ids) if embeddings is None else embeddings
    return [
        _from_metadata(record_id, metadata, vector)
        for record_id, metadata, vector in zip(ids, metadatas, vectors, strict=True)
    ]


def _from_metadata(record_id: str, metadata: Metadata, vector: Any) -> Record:
    return Record(
        id=record_id,
        embedding=np.asarray(vector, dtype=np.float32),  # Chroma hands back float64
        captured_at_ms=_int(metadata, "captured_at"),
        last_seen_ms=_int(metadata, "last_seen"),
        source=_source(metadata),
        monitor=_int(metadata, "monitor"),
        path=_str(metadata, "path"),
        window=Window(title=_str(metadata, "window_title"), app=_str(metadata, "app")),
        width=_int(metadata, "width"),
        height=_int(metadata, "height"),
        thumbnail=_str(metadata, "thumbnail"),
        file_key=_str(metadata, "file_key"),
    )


def _int(metadata: Metadata, key: str) -> int:
    value = metadata.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"record metadata {key!r} is {value!r}, expected an int")
    return value


def _str(metadata: Metadata, key: str) -> str:
    value = metadata.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"record metadata {key!r} is {value!r}, expected a str")
    return value


def _source(metadata: Metadata) -> Source:
    value = metadata.get("source")
    if value not in ("screen", "folder"):
        raise ValueError(f"record metadata 'source' is {value!r}, expected 'screen' or 'folder'")
    return cast(Source, value)
