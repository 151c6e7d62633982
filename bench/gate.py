"""Benchmarks the change gate's cost per frame at 1080p and 4K: still, one new line, a ticking clock, all new.

Frames are given as the grabber gives them (a reversed-channel view of a BGRA buffer), so the gate
reads them as it does in the daemon. Run from the repo root: `python -m bench.gate`. Last line: JSON.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench.harness import entry
from bench.harness.report import print_table
from bench.harness.timing import Subject, discard, measure, warm_up
from screenrecall.capture.gate import ChangeGate
from screenrecall.pipeline.messages import Frame

SMOKE = {"reps": 3, "seconds": 0.05, "sizes": ["1080p"]}
SIZES = {"1080p": (1080, 1920), "4K": (2160, 3840)}


def bgra_screen(height: int, width: int) -> NDArray[np.uint8]:
    rng = np.random.default_rng(1)
    bgra = np.full((height, width, 4), 235, dtype=np.uint8)
    for row in range(40, height - 40, 18):  # lines of "text": dark strokes of random length
        bgra[row : row + 11, 20 : 20 + int(rng.integers(100, width - 40)) : 3, :3] = 30
    return bgra


def frames_of(kind: str, base: NDArray[np.uint8]) -> Callable[[int], Frame]:
    """A frame maker for one scenario; each call is the next tick (1 s later)."""
    height, width = base.shape[:2]
    variants: list[NDArray[np.uint8]] = [base]
    if kind == "one new line":
        line = base.copy()
        line[height // 2 : height // 2 + 11, 20:600:3, :3] = 0
        variants = [base, line]  # alternating: every tick is a change against the kept frame
    elif kind == "ticking clock":
        variants = []
        for second in range(10):
            clock = base.copy()
            clock[height - 30 : height - 17, width - 60 : width - 20, :3] = 20 * second
            variants.append(clock)
    elif kind == "all new":
        variants = [bgra_screen(height, width)[::-1].copy(), base]
    cycle = itertools.cycle(variants)
    return lambda tick: Frame(next(cycle)[..., 2::-1], tick * 1000, "screen", monitor=1)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    del workdir
    rows: dict[str, dict[str, float]] = {}
    for size in args.sizes:
        base = bgra_screen(*SIZES[size])
        for kind in ("still", "one new line", "ticking clock", "all new"):
            gate = ChangeGate(3600, settle_s=0)
            make = frames_of(kind, base)
            gate.decide(make(0))
            ticks = itertools.count(1)
            subject = Subject(f"{size} {kind}", lambda _i, g=gate, m=make, t=ticks: discard(g.decide(m(next(t)))))
            warm_up(subject)
            measured = measure(subject, frames=args.reps, seconds=args.seconds)
            rows[f"{size} {kind}"] = {"ms_per_frame": round(measured.ms_per_frame, 2)}
    print_table(["case", "ms per frame"], [[name, f"{row['ms_per_frame']:.2f}"] for name, row in rows.items()])
    return {"bench": "gate", "cases": rows}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--reps", type=int, default=30, help="frames per case, at least")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per case, at least")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    return entry.parse(parser, argv, SMOKE)


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    raise SystemExit(main())
