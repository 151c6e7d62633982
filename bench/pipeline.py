"""Benchmarks distinct 1080p frames through the pipeline (inbox -> embedder -> writer -> Chroma) vs the encoder alone.

Run from the repo root: `python bench/pipeline.py [--frames N] [--seconds S]`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import daemon_support
from common import Measurement, Pixels, Subject
from daemon_support import discard
from screenrecall import config as config_mod
from screenrecall.encode.image import ImageEncoder
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime, load_runtime
from screenrecall.frames import Frame, Record, Window
from screenrecall.pipeline import Pipeline
from screenrecall.store import Store
from screenrecall.thumbnails import ThumbnailStore, shrink

TARGET_RATIO = 0.85
ENCODER, PIPELINE = "encoder alone (letterbox + submit)", "pipeline, stored (steady)"
# A burst within this of the previous stored-callback is the same writer flush.
SAME_FLUSH_S = 0.05


@dataclass
class StoredLog:
    """What the writer reported: (perf_counter, records stored so far) at each new record."""

    stamps: list[tuple[float, int]] = field(default_factory=list)
    extended: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def on_stored(self, record: Record, is_new: bool) -> None:
        # The writer's thread, right after a flush: count and return.
        with self.lock:
            if not is_new:
                self.extended += 1
                return
            self.stamps.append((time.perf_counter(), len(self.stamps) + 1))
            self.changed.notify_all()

    @property
    def stored(self) -> int:
        with self.lock:
            return len(self.stamps)

    def wait_stored(self, count: int, timeout: float) -> float:
        """Blocks until `count` records are stored; returns the perf_counter of the last one."""
        with self.lock:
            if not self.changed.wait_for(lambda: len(self.stamps) >= count, timeout):
                raise TimeoutError(f"only {len(self.stamps)}/{count} records stored after {timeout:.0f} s")
            return self.stamps[count - 1][0]


@dataclass(frozen=True)
class PipelineRound:
    fed: int
    began: float
    fed_until: float
    stored_at: float  # when the last fed frame was stored
    steady: Measurement  # records stored between the first and the last flush while feeding

    @property
    def end_to_end(self) -> Measurement:
        return Measurement("pipeline, end to end", self.fed, self.stored_at - self.began)


class PipelineFeeder:
    """Feeds frames into the inbox only when it has room, so nothing is dropped, and times the writer."""

    def __init__(self, pipeline: Pipeline, log: StoredLog, frames: Sequence[Pixels]) -> None:
        self.pipeline = pipeline
        self.log = log
        self.frames = frames
        self.fed = 0
        self.room = pipeline.config.capture.max_queue_frames
        # Unique capture times: a record id is (monitor, captured_at_ms), so equal times would merge.
        self.clock_ms = int(time.time() * 1000) - 3_600_000

    def feed(self, count: int) -> None:
        inbox = self.pipeline.inbox
        for _ in range(count):
            while inbox.stats().frames_waiting >= self.room:
                time.sleep(0.002)  # the embedder takes one every ~20 ms: 2 ms keeps the queue full
            self.clock_ms += 1
            pixels = self.frames[self.fed % len(self.frames)]
            frame = Frame(pixels, self.clock_ms, "screen", monitor=1, window=Window("bench frame", "bench"))
            if not inbox.put_frame(frame):
                raise RuntimeError("the inbox dropped a frame although it had room")
            self.fed += 1

    def round(self, *, frames: int, seconds: float) -> PipelineRound:
        start_stored = self.log.stored
        start_fed = self.fed
        began = time.perf_counter()
        while self.fed - start_fed < frames or time.perf_counter() - began < seconds:
            self.feed(1)
        fed_until = time.perf_counter()
        stored_at = self.log.wait_stored(start_stored + self.fed - start_fed, timeout=120)
        with self.log.lock:
            mine = [(t, n) for t, n in self.log.stamps[start_stored:] if t <= fed_until]
        return PipelineRound(self.fed - start_fed, began, fed_until, stored_at, _steady(mine))

    def warm_up(self, count: int) -> None:
        self.feed(count)
        self.log.wait_stored(self.fed, timeout=120)


def _steady(stamps: list[tuple[float, int]]) -> Measurement:
    """Records stored in flushes after the first one, over the time between the first and the last flush."""
    if len(stamps) < 2:
        return Measurement(PIPELINE, 0, 0.0)
    first_end = 0
    while first_end + 1 < len(stamps) and stamps[first_end + 1][0] - stamps[first_end][0] < SAME_FLUSH_S:
        first_end += 1
    t0, n0 = stamps[first_end]
    t1, n1 = stamps[-1]
    return Measurement(PIPELINE, n1 - n0, t1 - t0)


def encoder_subject(runtime: ModelRuntime, frames: Sequence[Pixels]) -> tuple[Subject, list[int]]:
    done: list[int] = []  # list.append is atomic under the GIL
    errors: list[Exception] = []
    encoder: ImageEncoder[int] = runtime.image_encoder(
        lambda tag, _e: done.append(tag), lambda _t, exc: errors.append(exc)
    )
    side = encoder.input_side

    def step(i: int) -> None:
        encoder.submit(letterbox(frames[i % len(frames)], side), i)

    def finish() -> None:
        encoder.wait_all()
        if errors:
            raise RuntimeError(f"the encoder failed: {errors[0]}")

    return Subject(ENCODER, step, finish), done


def breakdown(runtime: ModelRuntime, frames: Sequence[Pixels], workdir: Path, seconds: float) -> list[Measurement]:
    """The pipeline's steps beyond the encoder path, each alone on this thread: what they cost per frame."""
    rng = np.random.default_rng(0)
    small = [shrink(f, config_mod.ThumbnailConfig().max_px) for f in frames]
    thumbnails = ThumbnailStore(workdir / "breakdown-thumbnails", config_mod.ThumbnailConfig().quality)
    batch = config_mod.StoreConfig().batch_size
    vectors = rng.standard_normal((batch, runtime.embedding_dim)).astype(np.float32)
    records = [
        Record(f"r{i}", v / np.linalg.norm(v), i, i, "screen", 1, "", Window("t", "a"), 1920, 1080, "thumb")
        for i, v in enumerate(vectors)
    ]
    side = runtime.image_side
    with Store.open(workdir / "breakdown-store") as store:

        def add_batch(i: int) -> None:
            store.add([dataclasses.replace(r, id=f"{i}-{r.id}") for r in records])

        stages = [
            Subject("  letterbox 1080p -> 224", lambda i: discard(letterbox(frames[i % len(frames)], side))),
            Subject("  shrink 1080p -> thumbnail", lambda i: discard(shrink(frames[i % len(frames)], 320))),
            Subject("  thumbnail WebP write", lambda i: discard(thumbnails.write(f"t{i:06d}", small[i % len(small)]))),
            Subject(f"  Chroma add, {batch} per batch", add_batch),
        ]
        measured = []
        for stage in stages:
            common.warm_up(stage)
            measured.append(common.measure(stage, frames=len(frames), seconds=seconds))
    # The Chroma row timed batches: report it per record.
    last = measured[-1]
    measured[-1] = Measurement(last.path, last.frames * batch, last.seconds)
    return measured


def build_pipeline(bundle: Path, jobs: int, ocr: bool, log: StoredLog, tiles: int = 0) -> Pipeline:
    """The daemon's pipeline on a fresh store in private XDG dirs, dedup off, thumbnails on."""
    config = config_mod.validate(
        {
            "model": {"path": str(bundle), "device": "CPU", "cache": False, "jobs": jobs},
            # 1.0: only bit-identical embeddings extend a record; every distinct frame is stored.
            "dedup": {"cosine": 1.0},
            "ocr": {"enabled": ocr},
            "tiles": {"grid": tiles},
            "thumbnails": {"enabled": True},
        }
    )
    runtime = load_runtime(config.model, config.model_dir())
    return Pipeline.build(config, on_stored=log.on_stored, runtime=runtime)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    os.environ.update(daemon_support.private_env(workdir, shared_cache=False))
    bundle = common.bundles().fp16
    print(f"generating {args.frames} synthetic 1920x1080 frames (untimed)", file=sys.stderr)
    frames = common.screen_frames(args.frames)
    log = StoredLog()
    pipeline = build_pipeline(bundle, args.jobs, args.ocr, log, args.tiles)
    pipeline.start()
    try:
        feeder = PipelineFeeder(pipeline, log, frames)
        subject, encoded = encoder_subject(pipeline.runtime, frames)
        common.warm_up(subject, frames=3, seconds=3.0)
        feeder.warm_up(2 * pipeline.config.store.batch_size)
        encoder_rounds: list[Measurement] = []
        pipeline_rounds: list[PipelineRound] = []
        per_round_s, per_round_frames = args.seconds / args.rounds, -(-args.frames // args.rounds)
        for _ in range(args.rounds):
            common.warm_up(subject)
            start = sum(m.frames for m in encoder_rounds)
            encoder_rounds.append(common.measure(subject, frames=per_round_frames, seconds=per_round_s, start=start))
            pipeline_rounds.append(feeder.round(frames=per_round_frames, seconds=per_round_s))
        inbox = pipeline.inbox.stats()
        found = {
            "dropped": inbox.frames_dropped,
            "stored": log.stored,
            "fed": feeder.fed,
            "extended": log.extended,
            "store_count": pipeline.store.count(),
            "encoder_embedded": len([t for t in encoded if t >= 0]),
            "write_failures": pipeline.writer.stats.write_failures,
        }
    finally:
        pipeline.stop()
    parts = [] if args.no_breakdown else breakdown(pipeline.runtime, frames, workdir, args.seconds / 12)
    return report(args, encoder_rounds, pipeline_rounds, parts, found)


def report(
    args: argparse.Namespace,
    encoder: list[Measurement],
    rounds: list[PipelineRound],
    parts: list[Measurement],
    found: dict[str, Any],
) -> dict[str, Any]:
    enc = common.total(encoder)
    steady = common.total([r.steady for r in rounds])
    e2e = common.total([r.end_to_end for r in rounds])
    drain = [r.stored_at - r.fed_until for r in rounds]
    rows = [
        common.measurement_row(enc, encoder),
        common.measurement_row(steady, [r.steady for r in rounds]),
        common.measurement_row(e2e, [r.end_to_end for r in rounds]),
    ]
    if parts:
        rows += [["the pipeline's extra steps, each alone:", "", "", "", "", ""]]
        rows += [common.measurement_row(part) for part in parts]
    common.print_table(common.MEASUREMENT_HEADERS, rows)
    ratio, ratio_e2e = steady.fps / enc.fps, e2e.fps / enc.fps
    per_round = [p.steady.fps / e.fps for e, p in zip(encoder, rounds, strict=True)]
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(f"\npipeline/encoder (steady): {ratio:.2f} ({verdict} the {TARGET_RATIO} target); per round: ", end="")
    print(", ".join(f"{r:.2f}" for r in per_round))
    print(f"pipeline/encoder (end to end, incl. the last flush wait): {ratio_e2e:.2f}")
    print(f"last flush wait after feeding stopped: {', '.join(f'{d:.2f} s' for d in drain)}")
    ok = found["dropped"] == 0 and found["stored"] == found["fed"] == found["store_count"]
    print(f"fed {found['fed']}, stored {found['stored']}, in Chroma {found['store_count']}, dropped {found['dropped']}")
    print(f"extended {found['extended']}, write failures {found['write_failures']}\n")
    return {
        "bench": "pipeline",
        "frames": args.frames,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "jobs": args.jobs,
        "ocr": args.ocr,
        "tiles_grid": args.tiles,
        "encoder_fps": round(enc.fps, 2),
        "pipeline_fps": round(steady.fps, 2),
        "pipeline_end_to_end_fps": round(e2e.fps, 2),
        "ratio": round(ratio, 3),
        "ratio_end_to_end": round(ratio_e2e, 3),
        "ratio_per_round": [round(r, 3) for r in per_round],
        "target_ratio": TARGET_RATIO,
        "fps_per_round": {
            "encoder": [round(m.fps, 1) for m in encoder],
            "pipeline": [round(r.steady.fps, 1) for r in rounds],
        },
        "last_flush_wait_s": [round(d, 2) for d in drain],
        "breakdown_ms": {part.path.strip(): round(part.ms_per_frame, 2) for part in parts},
        "all_stored": ok,
        **found,
        "machine": common.machine(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=32, help="distinct 1920x1080 frames, cycled")
    parser.add_argument("--seconds", type=float, default=40.0, help="timed seconds per path, over all rounds")
    parser.add_argument("--rounds", type=int, default=4, help="the two paths take turns this many times")
    parser.add_argument("--jobs", type=int, default=config_mod.ModelConfig().jobs, help="model.jobs")
    parser.add_argument("--ocr", action="store_true", help="also run the OCR stage (off: the CLIP path alone)")
    parser.add_argument("--tiles", type=int, default=0, help="tiles.grid (2 = 2x2 tiles besides each frame)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip timing the extra steps alone")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.seconds <= 0 or args.rounds < 1 or args.jobs < 1:
        parser.error("--frames, --rounds, --jobs must be >= 1 and --seconds > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return daemon_support.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
