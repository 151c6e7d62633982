"""Keeps Records in Chroma (embedded, or a shared `chroma run` server): the only module that talks to chromadb."""

from __future__ import annotations

import heapq
import itertools
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import urlparse

import chromadb
import httpx
import numpy as np
from chromadb.api.client import Client
from chromadb.api.collection_configuration import CreateCollectionConfiguration
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Include, Metadata, Where, WhereDocument
from chromadb.config import Settings

from screenrecall import paths
from screenrecall.errors import ScreenrecallError
from screenrecall.frames import Embedding, Record
from screenrecall.schema import to_metadata, to_records
from screenrecall.tile_index import TileIndex

logger = logging.getLogger(__name__)

COLLECTION = "frames"
APPS = "apps"
TILES = "tiles"  # embeddings of frames' grid tiles, linked by frame_id (see tile_index.py)
SPACE: Final = "cosine"
_META: Include = ["metadatas"]
_FULL: Include = ["metadatas", "embeddings", "documents"]
_TEXT: Include = ["metadatas", "documents"]
_CONFIGURATION: CreateCollectionConfiguration = {"hnsw": {"space": SPACE}}


def _open_client(path: Path, url: str) -> Client:
    """The one place a Chroma client is made: embedded in path, or a server when url is set."""
    # Telemetry off explicitly: in 1.5.9 the Posthog client is a no-op, but an upgrade must not change that.
    settings = Settings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise StoreError(f"store.url = {url!r}: expected http://HOST:PORT or https://HOST:PORT")
        secure = parsed.scheme == "https"
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname, port=parsed.port or (443 if secure else 8000), ssl=secure, settings=settings
            )
        except ValueError as exc:  # what chromadb raises when nothing answers
            raise StoreError(f"cannot reach the Chroma server at {url}: {exc}") from None
    else:
        client = chromadb.PersistentClient(path=str(path), settings=settings)
    if not isinstance(client, Client):
        raise TypeError(f"unexpected Chroma client {type(client).__name__}")
    return client


def close_client(client: Client) -> None:
    """Client.close() leaves an HttpClient's connection pools open (chromadb 1.5.9): close them too."""
    owners = (client, getattr(client, "_admin_client", None))
    sessions = [getattr(getattr(owner, "_server", None), "_session", None) for owner in owners]
    client.close()
    for session in sessions:
        if isinstance(session, httpx.Client):
            session.close()


class StoreError(ScreenrecallError):
    """The store cannot be opened or reached."""


class Store:
    """One process's handle on the store dir; callers hold the ProcessLock, Chroma must have one owner."""

    def __init__(self, path: Path, client: Client, url: str = "") -> None:
        self.path = path
        self.url = url
        self._client = client
        self.max_batch = client.get_max_batch_size()
        # embedding_function=None: we pass embeddings; the default would download an ONNX model.
        frames = client.get_or_create_collection(COLLECTION, embedding_function=None, configuration=_CONFIGURATION)
        _check_space(frames, path)
        self._collection: Collection | None = frames
        # The few distinct app names, kept apart so an --app regex resolves without a full scan.
        self._apps = client.get_or_create_collection(APPS, embedding_function=None)
        self._known_apps: set[str] = set()
        tiles = client.get_or_create_collection(TILES, embedding_function=None, configuration=_CONFIGURATION)
        self.tiles = TileIndex(tiles, self.max_batch)

    @classmethod
    def open(cls, path: Path, url: str = "") -> Store:
        if not url:
            paths.ensure_private_dir(path)
        store = cls(path, _open_client(path, url), url)
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
        self._col.update(ids=[record_id], embeddings=embedding.reshape(1, -1), documents=[text])

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

    def delete_range(self, since_ms: int, until_ms: int) -> list[Record]:
        """Forgets every record visible at any time in [since_ms, until_ms]; returns them (no embeddings)."""
        where = _where({"$and": [{"captured_at": {"$lte": until_ms}}, {"last_seen": {"$gte": since_ms}}]})
        return self._delete_where(where)

    def extend(self, last_seen: Mapping[str, int]) -> None:
        """Moves last_seen of existing records; other metadata is kept, unknown ids are ignored by Chroma."""
        items = list(last_seen.items())
        for start in range(0, len(items), self.max_batch):
            batch = items[start : start + self.max_batch]
            metadatas: list[Metadata] = [{"last_seen": ms} for _, ms in batch]
            self._col.update(ids=[record_id for record_id, _ in batch], metadatas=metadatas)
            self.tiles.extend(batch)

    def get(self, record_id: str) -> Record | None:
        result = self._col.get(ids=[record_id], include=_FULL)
        records = to_records(result["ids"], result["metadatas"], result["embeddings"], result["documents"])
        return records[0] if records else None

    def count(self) -> int:
        return self._col.count()

    def latest(self, monitor: int, since_ms: int) -> Record | None:
        """The newest screen record of a monitor captured at or after since_ms, with its embedding."""
        where = _where({"$and": [{"source": "screen"}, {"monitor": monitor}, {"captured_at": {"$gte": since_ms}}]})
        # Chroma cannot sort: scan the (short) window's metadata, then fetch the winner's embedding.
        newest = max(self._scan(where), key=_captured_at, default=None)
        return None if newest is None else self.get(newest.id)

    def records(self, where: Mapping[str, Any] | None = None, with_text: bool = False) -> Iterator[Record]:
        """Every (matching) record without its embedding, paged; with its OCR text if asked."""
        return self._scan(_where(where) if where else None, include=_TEXT if with_text else _META)

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
        documents = result["documents"]
        if metadatas is None or embeddings is None or distances is None or documents is None:
            raise RuntimeError("Chroma returned a query without the fields asked for")
        records = to_records(result["ids"][0], metadatas[0], embeddings[0], documents[0])
        # Chroma's cosine distance is 1 - cosine similarity; it already orders nearest first.
        return [(record, 1.0 - float(dist)) for record, dist in zip(records, distances[0], strict=True)]

    def delete_before(self, ms: int) -> list[Record]:
        """Deletes records last seen before ms; returns them without embeddings (for thumbnail clean-up)."""
        return self._delete_where(_where({"last_seen": {"$lt": ms}}))

    def _delete_where(self, where: Where) -> list[Record]:
        deleted: list[Record] = []
        while True:
            # Always from offset 0: each round deletes what the previous one returned.
            result = self._col.get(where=where, limit=self.max_batch, include=_META)
            batch = to_records(result["ids"], result["metadatas"], None)
            if not batch:
                return deleted
            self._col.delete(ids=[record.id for record in batch])
            self.tiles.delete([record.id for record in batch])
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
            batch = list(ids[start : start + self.max_batch])
            self._col.delete(ids=batch)
            self.tiles.delete(batch)

    def disk_bytes(self) -> int:
        """Bytes the store dir takes on disk (allocated blocks: HNSW files are preallocated); 0 for a server."""
        if self.url:
            return 0
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
        close_client(self._client)
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
