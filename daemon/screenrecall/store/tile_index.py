"""The tiles collection: grid tiles' embeddings, linked to their frame record by frame_id."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Metadata, Where

from screenrecall.pipeline.messages import Embedding, Record
from screenrecall.store.layout import tile_id, to_metadata

# Metadata copied onto tiles so the same filters apply to them inside the kNN.
TILE_KEYS = ("captured_at", "last_seen", "monitor", "source", "host", "app")


class TileIndex:
    """Owned by the Store; every method is a no-op while no frame has tiles."""

    def __init__(self, collection: Collection, max_batch: int, shared: bool = False) -> None:
        self._col = collection
        self._max_batch = max_batch
        self._shared = shared  # on a shared server other hosts add tiles: nothing is remembered
        self._any: bool | None = None
        self._versions = itertools.count(1)  # next() is atomic: adds and deletes come from several threads
        self._version = 0  # renewed after each add or delete: a count taken across one is not kept

    def count(self) -> int:
        return self._col.count()

    def any(self) -> bool:
        """Whether some frame has tiles: asked by every search, so remembered between this store's
        own writes (a Chroma count costs ~1 ms even on an empty collection)."""
        known = self._any
        if known is not None and not self._shared:
            return known
        version = self._version
        found = self._col.count() > 0
        if version == self._version:  # no add or delete finished meanwhile
            self._any = found
        return found

    def add(self, records: Sequence[Record]) -> None:
        ids: list[str] = []
        embeddings: list[Embedding] = []
        metadatas: list[Metadata] = []
        for record in records:
            base = to_metadata(record)
            for index, tile in enumerate(record.tiles):
                ids.append(tile_id(record.id, index))
                embeddings.append(tile)
                tile_metadata: Metadata = {"frame_id": record.id, "tile": index, **{k: base[k] for k in TILE_KEYS}}
                metadatas.append(tile_metadata)
        if not ids:
            return
        try:
            for start in range(0, len(ids), self._max_batch):
                end = start + self._max_batch
                self._col.upsert(
                    ids=ids[start:end], embeddings=np.stack(embeddings[start:end]), metadatas=metadatas[start:end]
                )
        finally:  # counted again at the next search: even a failed upsert may have added some
            self._changed()

    def query(self, embedding: Embedding, k: int, where: Mapping[str, Any] | None = None) -> dict[str, float]:
        """The best tile similarity of each frame among the k nearest tiles: frame id -> cosine."""
        if k <= 0 or self._col.count() == 0:
            return {}
        result = self._col.query(
            query_embeddings=np.asarray(embedding, dtype=np.float32).reshape(1, -1),
            n_results=k,
            where=_where(where) if where else None,
            include=["metadatas", "distances"],
        )
        best: dict[str, float] = {}
        for metadata, distance in zip(result["metadatas"][0], result["distances"][0], strict=True):  # type: ignore[index]
            frame_id = str(metadata["frame_id"])
            best[frame_id] = max(best.get(frame_id, -1.0), 1.0 - float(distance))
        return best

    def extend(self, batch: Sequence[tuple[str, int]]) -> None:
        if self._col.count() == 0:
            return
        found = self._col.get(where=_where({"frame_id": {"$in": [rid for rid, _ in batch]}}), include=["metadatas"])
        seen = dict(batch)
        metadatas: list[Metadata] = [{"last_seen": seen[str(m["frame_id"])]} for m in found["metadatas"] or []]
        if found["ids"]:
            self._col.update(ids=found["ids"], metadatas=metadatas)

    def delete(self, frame_ids: list[str]) -> None:
        if frame_ids and self._col.count():
            try:
                self._col.delete(where=_where({"frame_id": {"$in": frame_ids}}))
            finally:
                self._changed()

    def _changed(self) -> None:
        self._version = next(self._versions)
        self._any = None


def _where(filters: Mapping[str, Any]) -> Where:
    return cast(Where, dict(filters))
