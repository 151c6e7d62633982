"""The query benchmark's store: synthetic records like a desktop makes over 90 days, filled straight
into Chroma with Store.add and cached (the benchmark copies it, so the cache stays as made)."""

from __future__ import annotations

import fcntl
import functools
import json
import shutil
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from screenrecall.pipeline.messages import Record, Source, Window
from screenrecall.store.backfill import marker_beside
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_file, record_id_for_screen
from screenrecall.store.text_sync import index_path

DAY_MS = 86_400_000
SPAN_DAYS = 90
BATCH = 5000  # records per write of bench/text_index.py's own build
# (application class, what its window titles look like, share of the screen records)
APPS = [
    ("firefox", "{w} - Mozilla Firefox", 0.25),
    ("Code", "{w}.py - project - Visual Studio Code", 0.18),
    ("gnome-terminal-server", "user@host: ~/{w}", 0.14),
    ("libreoffice-calc", "{w}.ods - LibreOffice Calc", 0.08),
    ("Slack", "{w} | Slack", 0.10),
    ("thunderbird", "Inbox - {w} - Mozilla Thunderbird", 0.08),
    ("evince", "{w}.pdf", 0.06),
    ("zoom", "Zoom Meeting {w}", 0.04),
    ("org.gnome.Nautilus", "{w} - Files", 0.04),
    ("gimp", "[{w}] (imported)-1.0 (RGB color 8-bit gamma integer, GIMP built-in sRGB, 1 layer) 1920x1080", 0.03),
]
_WORD_TEXT = (
    "the of and to in is for on with as by at from this that be are was it or an not have error warning "
    "invoice payment budget report quarterly revenue meeting agenda notes deploy release build test failed "
    "passed kernel panic memory disk network server client request response timeout config database query "
    "table index user account password login session token email calendar project issue ticket review merge "
    "branch commit python rust java docker kubernetes pod cluster node service api endpoint json yaml file "
    "folder download upload image screenshot photo video call chat message channel thread reply team design "
    "draft final version update install package library module function class method variable value total "
    "amount price order customer supplier acme globex initech contract signed due date overdue reminder"
)
WORDS = _WORD_TEXT.split()


def cached_store(cache: Path, count: int, dim: int) -> tuple[Path, int]:
    """cache/query-store-N/store, made once; returns it and the time its records end at.

    An interrupted build resumes: its records are drawn per batch (see batches), so the
    .partial dir's last batches are simply written again (Store.add upserts).
    """
    root = cache / f"query-store-{count}"
    meta = root / "meta.json"
    if meta.is_file():
        _mark_backfilled(root / "store")  # caches made before the mark was made here
    else:
        partial = root.with_name(root.name + ".partial")
        began = time.monotonic()
        anchor_ms, seconds = fill(partial, count, dim)
        _mark_backfilled(partial / "store")
        info = {"count": count, "anchor_ms": anchor_ms, "build_s": round(seconds, 1)}
        (partial / "meta.json").write_text(json.dumps(info))
        partial.rename(root)
        print(f"built {count} records in {time.monotonic() - began:.0f} s", file=sys.stderr)
    return root / "store", int(json.loads(meta.read_text())["anchor_ms"])


def _mark_backfilled(store: Path) -> None:
    """Store.add writes every record with its ingest time, so the store is marked as done, as a
    daemon's first housekeeping run marks it after finding none missing (store/backfill.py). Unmarked, every
    daemon on a copy would read all the records' metadata once, using a core while it is measured."""
    marker_beside(index_path(store, "")).touch()


def fill(root: Path, count: int, dim: int) -> tuple[int, float]:
    """Writes root/store through Store.add (Chroma and the text index, as the daemon writes them), in
    batches of Chroma's max batch size; a second process draws the next batches meanwhile, as
    Chroma's inserts leave a core idle between batches. Returns (anchor_ms, seconds of writing)."""
    anchor_path = root / "anchor.json"
    if anchor_path.is_file():  # resuming: the same capture times, the batches not yet written
        anchor_ms = int(json.loads(anchor_path.read_text())["anchor_ms"])
    else:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        anchor_ms = int(time.time() * 1000)
        anchor_path.write_text(json.dumps({"anchor_ms": anchor_ms}))
    lock = (root / "build.lock").open("w")  # two builders in one Chroma dir would corrupt it
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"another process is building {root}: wait for it, or stop it first") from None
    with lock, _StopAfterBatch() as stop:
        return anchor_ms, _write(root / "store", count, dim, anchor_ms, stop)


def _write(path: Path, count: int, dim: int, anchor_ms: int, stop: _StopAfterBatch) -> float:
    began = time.monotonic()
    with Store.open(path) as store:
        size = store.max_batch
        done = store.count() // size * size
        if done:
            print(f"  resuming at {done}/{count} records", file=sys.stderr)
        starts = range(done, count, size)
        reached = done
        with ProcessPoolExecutor(1) as drawer:
            # map() would draw every batch ahead at once (1M records: ~3 GB); keep two in flight.
            pending = [drawer.submit(batch, count, start, size, anchor_ms, dim) for start in starts[:2]]
            for n, start in enumerate(starts):
                records = pending.pop(0).result()
                if n + 2 < len(starts):
                    pending.append(drawer.submit(batch, count, starts[n + 2], size, anchor_ms, dim))
                store.add(records)
                reached = start + len(records)
                _progress(start + len(records) - done, count - done, start + len(records), count, began)
                if stop.requested:
                    for future in pending:
                        future.cancel()
                    break
        print(file=sys.stderr)
    if stop.requested:  # the store is closed: the same command resumes from here
        raise SystemExit(f"stopped at {reached}/{count} records; run again to resume")
    return time.monotonic() - began


class _StopAfterBatch:
    """SIGINT or SIGTERM stops the build after the batch being written, with the store closed cleanly
    (a kill during a Chroma write can leave an HNSW segment it cannot open). Python ignores SIGINT in
    a job started with & from a script, so SIGTERM is the one to send there."""

    requested = False

    def __enter__(self) -> _StopAfterBatch:
        self._old = {sig: signal.signal(sig, self._request) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def _request(self, signum: int, _frame: object) -> None:
        self.requested = True
        print(f"\n  signal {signum}: stopping after this batch", file=sys.stderr, flush=True)


def _progress(written: int, to_write: int, total: int, count: int, began: float) -> None:
    seconds = time.monotonic() - began
    rate = written / max(seconds, 1e-9)
    eta = (to_write - written) / max(rate, 1e-9)
    line = f"\r  {total}/{count} records, {rate:.0f}/s, {seconds / 60:.1f} min so far, ~{eta / 60:.0f} min left"
    print(line, end="", file=sys.stderr, flush=True)


@functools.lru_cache(maxsize=1)  # each batch of the drawing process slices the same draw
def capture_times(count: int, anchor_ms: int) -> np.ndarray:
    """Unique, sorted capture times over the span (a screen record's id is (host, monitor, time))."""
    rng = np.random.default_rng(count)
    return np.sort(anchor_ms - rng.choice(SPAN_DAYS * DAY_MS, size=count, replace=False))


def batch(count: int, start: int, size: int, anchor_ms: int, dim: int) -> list[Record]:
    """Records start..start+size of a count-record store: the same ones whatever the process or run."""
    times = capture_times(count, anchor_ms)[start : start + size]
    return synthetic(np.random.default_rng([count, start]), [int(t) for t in times], dim)


def synthetic(rng: np.random.Generator, times: list[int], dim: int) -> list[Record]:
    """Records like a desktop makes: 3 monitors, 10 apps, 2 hosts, 10% folder files, OCR-like text."""
    vectors = rng.standard_normal((len(times), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    shares = np.array([share for _, _, share in APPS])
    records = []
    for captured, vector in zip(times, vectors, strict=True):
        host = "laptop" if rng.random() < 0.2 else "workstation"
        text = " ".join(rng.choice(WORDS, int(rng.integers(20, 160)), p=_ZIPF))
        if rng.random() < 0.1:
            name = f"/home/user/Pictures/Screenshots/Screenshot from {captured}.png"
            key = f"{name}|{int(rng.integers(50_000, 900_000))}|{captured * 1_000_000}"
            source: Source = "folder"
            record_id, monitor, window = record_id_for_file(key), 0, Window()
        else:
            app, title, _ = APPS[int(rng.choice(len(APPS), p=shares / shares.sum()))]
            source, name, key = "screen", "", ""
            monitor = int(rng.choice(3, p=[0.55, 0.31, 0.14])) + 1
            window = Window(title.format(w=rng.choice(WORDS[20:])), app)
            record_id = record_id_for_screen(monitor, captured, host)
        seen = captured + int(rng.integers(0, 120_000))
        thumbnail = f"/home/user/.local/share/screenrecall/thumbnails/{record_id[:2]}/{record_id}.webp"
        records.append(
            Record(
                record_id, vector, captured, seen, source, monitor, name, window, 1920, 1080, thumbnail, key, host, text
            )
        )
    return records


_ZIPF = 1.0 / np.arange(1, len(WORDS) + 1)
_ZIPF /= _ZIPF.sum()
