"""How a Record is laid out in Chroma: ids, metadata keys and the conversions both ways."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from chromadb.api.types import Metadata

from screenrecall.pipeline.messages import Embedding, Record, Source, Window

ID_HEX_CHARS = 24  # 96 bits: no collision in any lifetime of screenshots, short in URLs and logs
NO_EMBEDDING: Embedding = np.empty(0, dtype=np.float32)  # metadata-only records


def record_id_for_file(file_key: str) -> str:
    """Same file (path|size|mtime) = same id, so re-ingesting a folder is an idempotent upsert."""
    return _short_hash(f"file\0{file_key}")


def record_id_for_screen(monitor: int, captured_at_ms: int, host: str = "", salt: int = 0) -> str:
    # The host joins the id only when set, so ids from before shared stores stay the same; likewise
    # the salt, which tells apart two moments at one millisecond after the clock went back
    # (pipeline/screen_ids.py).
    prefix = f"screen\0{host}\0" if host else "screen\0"
    suffix = f"\0{salt}" if salt else ""
    return _short_hash(f"{prefix}{monitor}\0{captured_at_ms}{suffix}")


def tile_id(frame_id: str, index: int) -> str:
    return f"{frame_id}:t{index}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:ID_HEX_CHARS]


def to_metadata(record: Record) -> Metadata:
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
        "host": record.host,
        "monitor_geometry": record.geometry,
        "ingested_at": record.kept_since_ms,
    }


def to_records(
    ids: Sequence[str],
    metadatas: Sequence[Metadata] | None,
    embeddings: Any,
    documents: Sequence[str | None] | None = None,
) -> list[Record]:
    """Zips Chroma's columns into Records; embeddings None gives metadata-only records."""
    if metadatas is None:
        raise RuntimeError("Chroma returned records without metadata")
    vectors: Sequence[Any] = [NO_EMBEDDING] * len(ids) if embeddings is None else embeddings
    texts: Sequence[str | None] = [""] * len(ids) if documents is None else documents
    return [
        from_metadata(record_id, metadata, vector, text or "")
        for record_id, metadata, vector, text in zip(ids, metadatas, vectors, texts, strict=True)
    ]


def from_metadata(record_id: str, metadata: Metadata, vector: Any, text: str = "") -> Record:
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
        host=_str(metadata, "host"),
        geometry=_str(metadata, "monitor_geometry"),  # "" in records from before it was kept
        text=text,
        ingested_at_ms=_ingested_at(metadata),
    )


def _ingested_at(metadata: Metadata) -> int:
    # Stored for every record (retention filters on it); 0 in a Record means "when it was captured".
    if "ingested_at" not in metadata:
        return 0
    value = _int(metadata, "ingested_at")
    return 0 if value == _int(metadata, "captured_at") else value


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
