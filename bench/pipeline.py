"""Benchmarks distinct 1080p frames through the pipeline (inbox -> embedder -> writer -> Chroma) vs the encoder alone.

Run from the repo root: `python -m bench.pipeline [--frames N] [--seconds S]`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import entry
from bench.harness.home import private_home
from bench.harness.model import ModelCache
from bench.harness.report import MEASUREMENT_HEADERS, machine, measurement_row, print_table
from bench.harness.timing import Measurement, Subject, discard, measure, total, warm_up
from bench.pipeline_feed import PipelineFeeder, PipelineRound, StoredLog
from screenrecall import config as config_mod
from screenrecall.encode.image import ImageEncoder
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime, load_runtime
from screenrecall.pipeline.assembly import Pipeline
from screenrecall.pipeline.messages import Pixels, Record, Window
from screenrecall.pipeline.thumbnails import ThumbnailStore, shrink
from screenrecall.store.chroma import Store
from tests.support.screens.desktop import screen_frames

TARGET_RATIO = 0.85
ENCODER = "encoder alone (letterbox + submit)"
# The smallest run a test makes (see bench/harness/entry.py): one short round. Two distinct frames,
# since the writer extends a record when the next frame embeds identically.
SMOKE = {"frames": 2, "seconds": 0.2, "rounds": 1, "warmup_frames": 1}


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
            warm_up(stage)
            measured.append(measure(stage, frames=len(frames), seconds=seconds))
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
    bundle = ModelCache.of(args).fp16()
    print(f"generating {args.frames} synthetic 1920x1080 frames (untimed)", file=sys.stderr)
    frames = screen_frames(args.frames)
    log = StoredLog()
    with private_home(workdir / "home", workdir / "home" / "cache"):
        pipeline = build_pipeline(bundle, args.jobs, args.ocr, log, args.tiles)
        pipeline.start()
        try:
            feeder = PipelineFeeder(pipeline, log, frames)
            subject, encoded = encoder_subject(pipeline.runtime, frames)
            warm_up(subject, frames=3, seconds=min(3.0, args.seconds))
            feeder.warm_up(args.warmup_frames)
            encoder_rounds: list[Measurement] = []
            pipeline_rounds: list[PipelineRound] = []
            per_round_s, per_round_frames = args.seconds / args.rounds, -(-args.frames // args.rounds)
            for _ in range(args.rounds):
                warm_up(subject)
                start = sum(m.frames for m in encoder_rounds)
                encoder_rounds.append(measure(subject, frames=per_round_frames, seconds=per_round_s, start=start))
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
    enc = total(encoder)
    steady = total([r.steady for r in rounds])
    e2e = total([r.end_to_end for r in rounds])
    drain = [r.stored_at - r.fed_until for r in rounds]
    rows = [
        measurement_row(enc, encoder),
        measurement_row(steady, [r.steady for r in rounds]),
        measurement_row(e2e, [r.end_to_end for r in rounds]),
    ]
    if parts:
        rows += [["the pipeline's extra steps, each alone:", "", "", "", "", ""]]
        rows += [measurement_row(part) for part in parts]
    print_table(MEASUREMENT_HEADERS, rows)
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
        "machine": machine(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--frames", type=int, default=32, help="distinct 1920x1080 frames, cycled")
    parser.add_argument("--seconds", type=float, default=40.0, help="timed seconds per path, over all rounds")
    parser.add_argument("--rounds", type=int, default=4, help="the two paths take turns this many times")
    parser.add_argument("--jobs", type=int, default=config_mod.ModelConfig().jobs, help="model.jobs")
    parser.add_argument("--ocr", action="store_true", help="also run the OCR stage (off: the CLIP path alone)")
    parser.add_argument("--tiles", type=int, default=0, help="tiles.grid (2 = 2x2 tiles besides each frame)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip timing the extra steps alone")
    warmup = 2 * config_mod.StoreConfig().batch_size
    parser.add_argument("--warmup-frames", type=int, default=warmup, help=f"stored before the rounds ({warmup})")
    args = entry.parse(parser, argv, SMOKE)
    if args.frames < 1 or args.seconds <= 0 or args.rounds < 1 or args.jobs < 1 or args.warmup_frames < 1:
        parser.error("--frames, --rounds, --jobs, --warmup-frames must be >= 1 and --seconds > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
