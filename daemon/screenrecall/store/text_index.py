"""The full-text index: SQLite FTS5 over OCR text, window title, app and path, with a side table of filters.

Why FTS5 and not tantivy: it is in the standard library (no native wheel to ship, nothing for the
CLI to import), it commits with the same crash-safe WAL as Chroma's own SQLite, and BM25, phrases,
prefixes and rowid ranges are built in. tantivy would rank a little faster at many millions of
records, at the cost of a Rust extension and a second file format to keep consistent.

Rowids are time-ordered (captured_at_ms * 1024 + a slot), so "newest first" is FTS5's native
rowid-descending walk, and a time window is a rowid range inside the index.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from screenrecall.pipeline.messages import Record
from screenrecall.store.text_fold import FOLD_VERSION, Term, fold
from screenrecall.store.text_query import SLOTS, Ranker, TextFilters, TextHit

__all__ = ["SideFields", "TextFilters", "TextHit", "TextIndex"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs(
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, captured_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL, app TEXT NOT NULL, monitor INTEGER NOT NULL, source TEXT NOT NULL,
    host TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS docs_last_seen ON docs(last_seen);
CREATE INDEX IF NOT EXISTS docs_app ON docs(app);
CREATE INDEX IF NOT EXISTS docs_host ON docs(host);
CREATE INDEX IF NOT EXISTS docs_source ON docs(source);
CREATE INDEX IF NOT EXISTS docs_monitor ON docs(monitor);
CREATE TABLE IF NOT EXISTS pending(id TEXT PRIMARY KEY);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    body, title, app, path, tokenize='unicode61 remove_diacritics 2', prefix='3');
"""
VERSION = f"{SCHEMA_VERSION}.{FOLD_VERSION}"
_BY_ID = "sqlite_autoindex_docs_1"  # the index SQLite makes for docs.id's UNIQUE
_IN_BATCH = 900  # ids per IN (...) list: under SQLite's default limit of host parameters
_INSERT_FTS = "INSERT INTO fts(rowid, body, title, app, path) VALUES (?, ?, ?, ?, ?)"


class SideFields(NamedTuple):
    """What the side table keeps of a record: enough to filter, order and merge hits into moments."""

    captured_at_ms: int
    last_seen_ms: int
    app: str
    monitor: int
    source: str
    host: str


class TextIndex:
    """Thread-safe: one writer connection under a lock; each reading thread has its own connection (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._ranker = Ranker(self._reader, self.count)
        self._db = self._connect()
        with self._db:
            self._db.executescript(_SCHEMA)
        found = self._meta("version")
        self.state = "ok" if found == VERSION else ("missing" if found is None else "old")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL: a commit survives a killed process; a power cut may lose the last ones,
        # which the start-up reconciliation (pending ids, then counts) repairs from Chroma.
        db.execute("PRAGMA synchronous=NORMAL")
        # The WAL shrinks back after each checkpoint: the disk budget counts it.
        db.execute("PRAGMA journal_size_limit=1048576")
        # Forgotten text must not linger in freed pages (the privacy promise of forget).
        db.execute("PRAGMA secure_delete=ON")
        return db

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
            with self._lock:
                self._readers.append(db)
        return db

    # --- writing ------------------------------------------------------------------------------------

    def mark_pending(self, ids: Iterable[str]) -> None:
        """Before a Chroma write: these ids may differ between the two stores until clear_pending."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO pending(id) VALUES (?)", ((i,) for i in ids))

    def pending(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT id FROM pending")]

    def upsert(self, records: Sequence[Record], clear_pending: bool = True) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            for record in records:
                self._insert_one(record)
            if clear_pending:
                self._db.executemany("DELETE FROM pending WHERE id = ?", ((r.id,) for r in records))

    def load(self, records: Sequence[Record]) -> None:
        """upsert for records known to be absent (a rebuild after clear): one statement per table and
        batch instead of four a record (a fifth less CPU, measured at 22k records). A record whose
        rowid is taken (another of the same millisecond and slot) or whose id is already indexed
        goes the way of upsert."""
        rows: dict[int, Record] = {}
        for record in records:
            rows.setdefault(_rowid(record), record)
        with self._lock, self._db:
            self._db.execute("BEGIN")
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((rowid, r.id, r.captured_at_ms, r.last_seen_ms, r.window.app, r.monitor, r.source, r.host)
                 for rowid, r in rows.items()),
            )  # fmt: skip
            if self._db.total_changes - before < len(rows):  # some were ignored: keep the rows that are ours
                marks = ", ".join("?" * len(rows))
                found = dict(self._db.execute(f"SELECT rowid, id FROM docs WHERE rowid IN ({marks})", tuple(rows)))
                rows = {rowid: r for rowid, r in rows.items() if found.get(rowid) == r.id}
            self._db.executemany(_INSERT_FTS, ((rowid, *_fields(r)) for rowid, r in rows.items()))
            placed = {id(record) for record in rows.values()}
            for record in records:
                if id(record) not in placed:
                    self._insert_one(record)

    def _insert_one(self, record: Record) -> None:
        self._delete_one(record.id)
        rowid = self._free_rowid(record)
        self._db.execute(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (rowid, record.id, record.captured_at_ms, record.last_seen_ms, record.window.app,
             record.monitor, record.source, record.host),
        )  # fmt: skip
        self._db.execute(_INSERT_FTS, (rowid, *_fields(record)))

    def _free_rowid(self, record: Record) -> int:
        rowid = _rowid(record)
        while self._db.execute("SELECT 1 FROM docs WHERE rowid = ?", (rowid,)).fetchone():
            rowid += 1  # a neighbour in the same millisecond: the next free slot keeps the order
        return rowid

    def set_text(self, record_id: str, text: str) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE fts SET body = ? WHERE rowid = (SELECT rowid FROM docs WHERE id = ?)", (fold(text), record_id)
            )
            self._db.execute("DELETE FROM pending WHERE id = ?", (record_id,))

    def extend(self, last_seen: Iterable[tuple[str, int]]) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany("UPDATE docs SET last_seen = ? WHERE id = ?", ((ms, i) for i, ms in last_seen))

    def delete(self, ids: Iterable[str]) -> None:
        with self._lock:
            with self._db:
                self._db.execute("BEGIN")
                for record_id in ids:
                    self._delete_one(record_id)
                    self._db.execute("DELETE FROM pending WHERE id = ?", (record_id,))
            # Deletes run when space is wanted (forget, retention, the disk budget): give the WAL
            # back at once rather than at the next automatic checkpoint.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _delete_one(self, record_id: str) -> None:
        row = self._db.execute("SELECT rowid FROM docs WHERE id = ?", (record_id,)).fetchone()
        if row is not None:
            self._db.execute("DELETE FROM fts WHERE rowid = ?", row)
            self._db.execute("DELETE FROM docs WHERE rowid = ?", row)

    def compact(self) -> None:
        """After deletes: merges FTS5's segments, so deleted rows' terms are gone from the file too."""
        with self._lock:
            self._db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def clear(self) -> None:
        """Empties the index (before a rebuild); it stays marked unbuilt until mark_built."""
        # Dropped and made again in one transaction: deleting FTS5 rows one by one cost 7x the CPU at
        # 22k records and grows with the index. secure_delete still zeroes the freed pages, so no
        # forgotten text stays behind.
        with self._lock:
            drop = "".join(f"DROP TABLE IF EXISTS {table};" for table in ("docs", "fts", "pending"))
            self._db.executescript(f"BEGIN; {drop} DELETE FROM meta WHERE key = 'version'; {_SCHEMA} COMMIT;")
        self.state = "missing"

    def mark_built(self) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (VERSION,))
        self.state = "ok"

    # --- reading ------------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._reader().execute("SELECT count(*) FROM docs").fetchone()[0])

    def ids(self) -> Iterator[str]:
        for (record_id,) in self._reader().execute("SELECT id FROM docs"):
            yield record_id

    def id_pages(self, source: str | None, page: int) -> Iterator[list[str]]:
        """Every id (of a source, if given), page by page, keyed on the rowid (docs_source holds it in
        order), so each page is one index seek whatever the store's size; no offset to skip over."""
        db, after = self._reader(), -1
        where = "source = ? AND rowid > ?" if source is not None else "? IS NULL AND rowid > ?"
        while True:
            rows = db.execute(
                f"SELECT rowid, id FROM docs WHERE {where} ORDER BY rowid LIMIT ?", (source, after, page)
            ).fetchall()
            if not rows:
                return
            yield [row[1] for row in rows]
            after = rows[-1][0]

    def candidates(self, filters: TextFilters, bound: int) -> list[str] | None:
        """The ids passing the filters when at most bound do (else None: the filter is not selective)."""
        if filters.empty:
            return None
        condition, params = filters.sql()
        sql = f"SELECT d.id FROM docs AS d WHERE {condition} LIMIT ?"
        rows = self._reader().execute(sql, (*params, bound + 1)).fetchall()
        return None if len(rows) > bound else [row[0] for row in rows]

    def passing(self, record_ids: Sequence[str], filters: TextFilters) -> set[str]:
        """Those of these records that pass the filters."""
        condition, params = filters.sql()
        return {row[0] for row in self._by_id("d.id", record_ids, condition, params)}

    def fields(self, record_ids: Sequence[str]) -> dict[str, SideFields]:
        """The side table's fields of these records (those it has), by id."""
        columns = "d.id, d.captured_at, d.last_seen, d.app, d.monitor, d.source, d.host"
        return {row[0]: SideFields(*row[1:]) for row in self._by_id(columns, record_ids)}

    def _by_id(
        self, columns: str, record_ids: Sequence[str], condition: str = "1", params: Sequence[Any] = ()
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of docs (alias d) for these ids that meet the condition, one indexed lookup each."""
        for start in range(0, len(record_ids), _IN_BATCH):
            batch = record_ids[start : start + _IN_BATCH]
            # By id, always: without statistics SQLite would walk a filter's column index (e.g. the
            # 29k records of a monitor at 100k: 16 ms) instead of looking up the few ids (0.3 ms).
            sql = (
                f"SELECT {columns} FROM docs AS d INDEXED BY {_BY_ID} "
                f"WHERE d.id IN ({','.join('?' * len(batch))}) AND {condition}"
            )
            yield from self._reader().execute(sql, (*batch, *params))

    def search(
        self, terms: Sequence[Term], filters: TextFilters, depth: int, adjacent: Term | None = None
    ) -> list[TextHit]:
        """The depth most relevant records, newest first among equals (see text_query.py)."""
        return self._ranker.search(terms, filters, depth, adjacent)

    def disk_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            try:
                total += Path(f"{self.path}{suffix}").stat().st_blocks * 512
            except FileNotFoundError:
                continue
        return total

    def close(self) -> None:
        with self._lock:
            for db in self._readers:
                db.close()
            self._readers.clear()
            self._db.close()


def _rowid(record: Record) -> int:
    """Time-ordered: the capture millisecond, then a slot from the id (see the module's docstring)."""
    return max(record.captured_at_ms, 0) * SLOTS + zlib.crc32(record.id.encode()) % SLOTS


def _fields(record: Record) -> tuple[str, str, str, str]:
    """The folded text of the fts columns body, title, app, path."""
    return fold(record.text), fold(record.window.title), fold(record.window.app), fold(record.path)
