"""The shared entry of the benchmarks: common options (--smoke, --cache), a temp dir, the JSON line last.

A benchmark declares its options on `parser()`, and in SMOKE the option values of its --smoke run:
one frame (or the fewest that exercise every path) on the tiny CLIP, so a test can run it in seconds.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.harness.model import CACHE
from bench.harness.report import emit_json

Run = Callable[[argparse.Namespace, Path], dict[str, Any]]


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark has."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny run on a tiny random-weight CLIP: checks that the benchmark works; its figures mean nothing",
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help="model and store cache (default bench/.cache)")
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None, smoke: Mapping[str, Any]) -> argparse.Namespace:
    """Parses argv; with --smoke, the benchmark's smoke values replace the sizes and durations."""
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in smoke.items():
            setattr(args, name, value)
    return args


def bench_main(argv: Sequence[str] | None, parse_args: Callable[[Sequence[str] | None], Any], run: Run) -> int:
    """Parse, run in a private temp dir, print the JSON result as the last line on stdout."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="screenrecall-bench-") as workdir:
        result = run(args, Path(workdir))
    emit_json({**result, "smoke": True} if args.smoke else result)
    return 0
