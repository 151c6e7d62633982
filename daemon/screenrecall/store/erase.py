"""Makes deleted records unreadable on disk, not just invisible: Chroma's log, its full-text index,
and the free pages SQLite leaves behind.

Chroma 1.5 deletes a record from its tables, but three copies of its text stay readable in
chroma.sqlite3 (measured: tests/store/test_erase.py): (1) the write-ahead log (`embeddings_queue`)
keeps every add with its document and metadata until the vector index persists, ~1000 writes later;
(2) FTS5 keeps deleted documents' terms in its index segments until they are merged; (3) SQLite
leaves deleted rows' bytes in free pages and cells. So: the log rows of deleted ids lose their
metadata (the vector index replays only their vectors, and their delete follows), FTS5 is
optimised, and the file is rewritten by VACUUM with secure_delete on.

Safe while Chroma runs in this process (its own `chroma utils vacuum` does the same): every table
VACUUM touches has an INTEGER PRIMARY KEY, so no rowid changes; we wait for Chroma's locks.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

CHROMA_DB = "chroma.sqlite3"
_FTS = "embedding_fulltext_search"
_BUSY_TIMEOUT_S = 30.0
_CHUNK = 500  # ids per statement, under SQLite's variable limit


def _connect(db: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(db, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    # Zeroes what this connection deletes or overwrites (the log's old metadata cells).
    connection.execute("PRAGMA secure_delete=ON")
    return connection


def scrub_log(db: Path, ids: Sequence[str]) -> int:
    """Drops the document and metadata from Chroma's log rows of these ids; returns rows changed."""
    if not ids or not db.exists():
        return 0
    changed = 0
    connection = _connect(db)
    try:
        connection.execute("BEGIN IMMEDIATE")
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))  # only placeholders go into the statement text
            query = f"UPDATE embeddings_queue SET metadata = NULL WHERE metadata IS NOT NULL AND id IN ({marks})"
            changed += connection.execute(query, chunk).rowcount
        connection.execute("COMMIT")
    finally:
        connection.close()
    return changed


def compact(db: Path) -> float:
    """Merges Chroma's FTS5 index (dropping deleted documents' terms) and rewrites the file; returns seconds."""
    if not db.exists():
        return 0.0
    started = time.monotonic()
    connection = _connect(db)
    try:
        if _has_table(connection, _FTS):
            connection.execute(f"INSERT INTO {_FTS}({_FTS}) VALUES ('optimize')")
        vacuum(connection)
    finally:
        connection.close()
    seconds = time.monotonic() - started
    logger.info("compacted %s in %.1f s", db.name, seconds)
    return seconds


def vacuum(connection: sqlite3.Connection) -> None:
    """VACUUM with secure_delete on, and the WAL (if any) truncated: for every SQLite file we own."""
    connection.execute("PRAGMA secure_delete=ON")
    connection.execute("VACUUM")
    if connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _has_table(connection: sqlite3.Connection, name: str) -> bool:
    row = connection.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    return row is not None
