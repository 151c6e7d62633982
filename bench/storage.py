"""Replays a scripted working day of 1920x1080 screens through the real pipeline and measures what
the readable frames cost on disk (bytes per hour by activity, MB per 8-hour day) and how fast one
frame is fetched for display.

Run from the repo root: `python -m bench.storage [--minutes 4] [--bundle DIR]`. The last stdout line is JSON.

Each activity is replayed for --minutes of screen time at the default 2 s capture interval, through
the real change gate, inbox, embedder, writer and frame archive; its bytes are scaled to an hour,
and DAY mixes the hours into an 8-hour day. Dedup is set to 1.0, so every frame the gate passes
becomes its own record (a random-weight model cannot judge "the same moment"): an upper bound, as
the real model folds near-identical frames (most typing steps) into one record.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import entry
from bench.harness.home import private_home
from bench.harness.model import ModelCache
from screenrecall import config as config_mod
from screenrecall.capture.gate import ChangeGate, Decision
from screenrecall.pipeline.assembly import Pipeline
from screenrecall.pipeline.frame_archive import FrameArchive
from screenrecall.pipeline.messages import Frame, Window
from tests.support.screens.canvas import Pixels
from tests.support.screens.corpus import corpus
from tests.support.screens.desktop import screen_frame
from tests.support.screens.sequences import chat_incoming, document_typing

INTERVAL_S = 2.0
TARGET_MB_PER_DAY = 150.0
TARGET_FETCH_P95_MS = 50.0
# Hours of each activity in the 8-hour day the README quotes.
DAY = {"typing": 2.0, "reading": 2.0, "browsing": 1.5, "video in a corner": 1.0, "idle": 1.5}
# The smallest run a test makes (see bench/harness/entry.py): three ticks an activity, two fetches.
SMOKE = {"minutes": 0.1, "fetches": 2}


def typing(ticks: int) -> Iterator[Pixels]:
    """A few words typed at the end of a document every tick."""
    for canvas in document_typing(ticks - 1):
        yield canvas.pixels()


def reading(ticks: int) -> Iterator[Pixels]:
    """A page read for 20 s, then the next (scrolling a long document or paging through a PDF)."""
    pages = [s.pixels for s in corpus(ticks // 10 + 2, seed=31) if s.layout in ("document", "code", "form")]
    for tick in range(ticks):
        yield pages[(tick // 10) % len(pages)]


def browsing(ticks: int) -> Iterator[Pixels]:
    """A new page every 6 s, and chat messages arriving in between."""
    pages = [s.pixels for s in corpus(ticks // 3 + 2, seed=41)]
    chat = [c.pixels() for c in chat_incoming(ticks // 6 + 1)]
    for tick in range(ticks):
        yield chat[tick // 6 % len(chat)] if tick % 6 == 5 else pages[tick // 3 % len(pages)]


def video_corner(ticks: int) -> Iterator[Pixels]:
    """A still document with a 480x270 video playing in its bottom-right corner."""
    page = corpus(3, seed=51)[1].pixels
    rng = np.random.default_rng(5)
    ys, xs = np.mgrid[0:270, 0:480].astype(np.float32)
    blobs = [(rng.uniform(0, 270), rng.uniform(0, 480), rng.uniform(40, 160), rng.uniform(0, 255, 3)) for _ in range(5)]
    for tick in range(ticks):
        out = np.zeros((270, 480, 3), dtype=np.float32)
        for cy, cx, r, colour in blobs:
            cy2, cx2 = cy + 30 * np.sin(tick / 3 + cx), cx + 40 * np.cos(tick / 4 + cy)
            out += np.exp(-((ys - cy2) ** 2 + (xs - cx2) ** 2) / (2 * r * r))[..., None] * colour
        frame = page.copy()
        frame[1080 - 300 : 1080 - 30, 1920 - 510 : 1920 - 30] = np.clip(out, 0, 255).astype(np.uint8)
        yield frame


def idle(ticks: int) -> Iterator[Pixels]:
    """Nothing moves: only the gate's heartbeat keeps the record alive."""
    page = corpus(2, seed=61)[0].pixels
    for _ in range(ticks):
        yield page


def busy_desktop(ticks: int) -> Iterator[Pixels]:
    """Worst case, not in the day: a different busy desktop (windows, text, photos) every tick."""
    for tick in range(ticks):
        yield screen_frame(1000 + tick)


ACTIVITIES: dict[str, Callable[[int], Iterator[Pixels]]] = {
    "typing": typing,
    "reading": reading,
    "browsing": browsing,
    "video in a corner": video_corner,
    "idle": idle,
    "busy desktop, new every tick (worst case)": busy_desktop,
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--minutes", type=float, default=4.0, help="screen time replayed per activity")
    parser.add_argument("--bundle", type=Path, help="model bundle (default: the bench's full-size FP16 bundle)")
    parser.add_argument("--fetches", type=int, default=200, help="frames fetched for the latency figure")
    args = entry.parse(parser, argv, SMOKE)
    if args.minutes * 60 < 2 * INTERVAL_S or args.fetches < 1:
        parser.error(f"--minutes must cover at least two {INTERVAL_S:g} s ticks, --fetches >= 1")
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    model = ModelCache.of(args)
    bundle = args.bundle or model.fp16()
    # The pipeline runs in this process: its store and frames go to private dirs under workdir.
    with private_home(workdir, model.xdg_cache):
        return {"bench": "storage", **replay(args, bundle)}


def replay(args: argparse.Namespace, bundle: Path) -> dict[str, Any]:
    config = config_mod.validate(
        {
            "model": {"path": str(bundle), "cache": False},
            "capture": {"max_queue_frames": 256},
            "dedup": {"cosine": 1.0},
            "ocr": {"enabled": False},
            "store": {"flush_interval_s": 0.2},
        }
    )
    pipeline = Pipeline.build(config)
    assert pipeline.frames is not None
    pipeline.start()
    # As the daemon builds it (app.py).
    gate = ChangeGate(
        config.capture.heartbeat_s,
        settle_s=config.gate.settle_s,
        tile_px=config.gate.tile_px,
        min_changed_tiles=config.gate.min_changed_tiles,
    )
    ticks = int(args.minutes * 60 / INTERVAL_S)
    at_ms = int((time.time() - 9 * 3600) * 1000)
    rows: dict[str, dict[str, float]] = {}
    try:
        for name, make in ACTIVITIES.items():
            before_bytes, before_records = _apparent(pipeline.frames), pipeline.writer.stats.added
            before_blocks = pipeline.frames.disk_bytes()
            sent = 0
            for pixels in make(ticks):
                # A fresh array a tick, as the sampler copies each grab out of its buffer.
                frame = Frame(pixels.copy(), at_ms, "screen", monitor=1, window=Window(name, "bench"))
                at_ms += int(INTERVAL_S * 1000)
                if gate.decide(frame) is not Decision.UNCHANGED:
                    pipeline.inbox.put_frame(frame)
                    sent += 1
                    _drain(pipeline)
            _drain(pipeline, settle=True)
            hours = ticks * INTERVAL_S / 3600
            added = pipeline.writer.stats.added - before_records
            apparent = _apparent(pipeline.frames) - before_bytes
            blocks = pipeline.frames.disk_bytes() - before_blocks
            rows[name] = {
                "frames_kept_by_gate": sent,
                "records": added,
                "mb_per_hour": blocks / hours / 1e6,
                "apparent_mb_per_hour": apparent / hours / 1e6,
                "kb_per_record": apparent / max(1, added) / 1e3,
            }
            print(f"{name:42} {sent:4d} kept {added:4d} records {rows[name]['mb_per_hour']:7.1f} MB/h", file=sys.stderr)
        fetch = _fetch_latency(pipeline.frames, pipeline, args.fetches)
        ids = [r.id for r in pipeline.store.records()]
        without = sum(1 for record_id in ids if pipeline.frames.delta(record_id) is None)
    finally:
        pipeline.stop()
    day_mb = sum(rows[name]["mb_per_hour"] * hours for name, hours in DAY.items())
    return {
        "minutes_per_activity": args.minutes,
        "activities": rows,
        "day_mix_hours": DAY,
        "mb_per_8h_day": round(day_mb, 1),
        "records": len(ids),
        "records_without_frame": without,
        "target_mb_per_8h_day": TARGET_MB_PER_DAY,
        "fetch": fetch,
        "target_fetch_p95_ms": TARGET_FETCH_P95_MS,
    }


def _drain(pipeline: Pipeline, settle: bool = False) -> None:
    """Replays at the pipeline's own pace: the next frame goes in once this one is written, as at
    the real 2 s interval (a burst would make the embedder hand the writer more full frames than
    frames.max_live_full, and those records would get no readable frame)."""
    while pipeline.inbox.stats().frames_waiting or pipeline.embedder.in_flight or pipeline.writer.waiting:
        time.sleep(0.01)
    if settle:
        time.sleep(1.0)  # the writer's last flush


def _apparent(archive: FrameArchive) -> int:
    return sum(p.stat().st_size for p in archive.root.rglob("*") if p.is_file())


def _fetch_latency(archive: FrameArchive, pipeline: Pipeline, count: int) -> dict[str, float]:
    """Time to fetch one random frame: what the web UI reads (layout + keyframe + atlas bytes), and
    a full server-side decode to pixels (what `/frame/png` does before encoding)."""
    ids = [r.id for r in pipeline.store.records()]
    random.Random(3).shuffle(ids)
    ids = (ids * (count // max(1, len(ids)) + 1))[:count]
    ui_ms, decode_ms = [], []
    for record_id in ids:
        started = time.perf_counter()
        delta = archive.delta(record_id)
        if delta is None:
            continue
        archive.key_path(delta.key).read_bytes()
        ui_ms.append((time.perf_counter() - started) * 1000)
        archive._decoded.clear()  # a cold decode every time: the worst case
        started = time.perf_counter()
        archive.read(record_id)
        decode_ms.append((time.perf_counter() - started) * 1000)
    return {
        "ui_bytes_p50_ms": round(float(np.percentile(ui_ms, 50)), 2),
        "ui_bytes_p95_ms": round(float(np.percentile(ui_ms, 95)), 2),
        "decode_cold_p50_ms": round(float(np.percentile(decode_ms, 50)), 1),
        "decode_cold_p95_ms": round(float(np.percentile(decode_ms, 95)), 1),
        "fetched": len(ui_ms),
    }


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
