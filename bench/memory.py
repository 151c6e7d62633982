"""Benchmarks the real daemon's memory over a scripted session: dense text screens, then a still screen.

Run from the repo root: `python -m bench.memory [--dense N] [--still S] [--modes ocr,no-ocr]`.
The full-size random-weight ViT-B/32 (bench/harness/model.py) exported as `models export` does by
default (INT8 weights; `--bundle fp16` for FP16) on the CPU, a 1080p Xvfb screen.
Memory is the resident set of the daemon *and its child processes* (an OCR reader may run in one),
sampled every 0.25 s: peak is the largest sampled sum, steady the median of the still phase's last half.
The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import entry
from bench.harness.daemon import daemon_config, daemon_in, running
from bench.harness.display import SCREEN, Painter, screen
from bench.harness.home import private_env
from bench.harness.model import ModelCache
from bench.harness.proc import memory_breakdown, tree_sample
from bench.harness.report import machine
from tests.support.screens import terminal
from tests.support.screens.desktop import desktop

SMOKE = {"dense": 1, "per_screen": 1.0, "still": 1.0, "settle": 1.0, "modes": "no-ocr"}

TARGET_STEADY_MB = 500.0
TARGET_PEAK_MB = 900.0
TARGET_NO_OCR_MB = 350.0
_WORDS = ["invoice", "deploy", "kernel", "meeting", "budget", "pipeline", "error", "commit", "review", "merge"]


def dense_screen(seed: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """A full 1080p terminal packed with text: the worst case for the OCR detector and recogniser."""
    rng = np.random.default_rng(seed)
    lines = [" ".join(rng.choice(_WORDS, 14)) + f" {seed:04d}-{row:03d}" for row in range(60)]
    return terminal(lines, SCREEN, font_size=15)


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, str, int]] = []  # (seconds since start, phase, kB)
        self._began = time.monotonic()

    def sample_for(self, seconds: float, phase: str) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.samples.append((time.monotonic() - self._began, phase, tree_sample(self.pid).rss_kb))
            time.sleep(0.25)

    def mb(self, phase: str) -> list[float]:
        return [kb / 1024 for _, p, kb in self.samples if p == phase]


def session(args: argparse.Namespace, workdir: Path, ocr: bool) -> dict[str, Any]:
    model = ModelCache.of(args)
    bundle = model.int8_weights() if args.bundle == "int8-weights" else model.fp16()
    name = "ocr" if ocr else "no-ocr"
    screens = [dense_screen(seed) for seed in range(args.dense)]
    with screen() as x:
        painter = Painter(x.display)
        painter.show(painter.upload(desktop(3)))
        env = private_env(workdir / name, model.xdg_cache)
        sections = daemon_config(bundle, capture={"interval_s": 1.0}, ocr={"enabled": ocr})
        daemon = daemon_in(workdir / name, name, env, sections)
        with running(daemon) as startup_s:
            sampler = Sampler(daemon.pid)
            sampler.sample_for(args.settle, "started")
            for pixels in screens:
                painter.show(painter.upload(pixels))
                sampler.sample_for(args.per_screen, "dense")
            painter.show(painter.upload(desktop(3)))
            sampler.sample_for(args.still, "still")
            breakdown = memory_breakdown(daemon.pid)
        painter.close()
    still = sampler.mb("still")
    tail = still[len(still) // 2 :] or still
    every = [kb / 1024 for _, _, kb in sampler.samples]
    step = max(1, len(sampler.samples) // 60)
    return {
        "mode": name,
        "bundle": args.bundle,
        "startup_s": round(startup_s, 1),
        "started_mb": round(float(np.median(sampler.mb("started"))), 0),
        "dense_max_mb": round(max(sampler.mb("dense")), 0),
        "peak_mb": round(max(every), 0),
        "steady_mb": round(float(np.median(tail)), 0),
        "end_mb": round(every[-1], 0),
        "daemon_breakdown": breakdown,
        "curve_mb": [(round(t, 1), phase, round(kb / 1024)) for t, phase, kb in sampler.samples[::step]],
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results = [session(args, workdir, ocr=(mode == "ocr")) for mode in args.modes.split(",")]
    print("mode      started  dense max   peak  steady  (MB, daemon + children)", file=sys.stderr)
    for r in results:
        started, dense, peak, steady = r["started_mb"], r["dense_max_mb"], r["peak_mb"], r["steady_mb"]
        print(f"{r['mode']:8} {started:8.0f} {dense:10.0f} {peak:6.0f} {steady:7.0f}", file=sys.stderr)
    return {
        "bench": "memory",
        "machine": machine(),
        "targets_mb": {"steady_ocr": TARGET_STEADY_MB, "peak_ocr": TARGET_PEAK_MB, "steady_no_ocr": TARGET_NO_OCR_MB},
        "dense_screens": args.dense,
        "per_screen_s": args.per_screen,
        "still_s": args.still,
        "results": results,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--dense", type=int, default=6, help="distinct dense text screens shown")
    parser.add_argument("--per-screen", type=float, default=6.0, help="seconds each dense screen is shown")
    parser.add_argument("--still", type=float, default=60.0, help="seconds of still screen after them")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after start-up before the first screen")
    parser.add_argument("--modes", default="ocr,no-ocr", help="comma-separated: ocr, no-ocr")
    parser.add_argument(
        "--bundle", choices=["fp16", "int8-weights"], default="int8-weights", help="which export (the default's)"
    )
    return entry.parse(parser, argv, SMOKE)


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    raise SystemExit(main())
