"""Benchmarks whether the real daemon's memory stays flat over an hour of scripted screen activity.

Run from the repo root: `python -m bench.soak [--minutes 60]`. The real daemon (every setting its
default: OCR on, capture every second) on the full-size random-weight ViT-B/32, exported as `models
export` does by default (INT8 weights; `--bundle fp16` for FP16), watches a 1080p
Xvfb with the openbox window manager, while a scripted user repeats a cycle (bench/soak_activity.py):
log lines in a terminal, a page replaced in place, a typed note, then a still screen for the rest of
the cycle. The resident memory and CPU time of the daemon *and its child processes* (the OCR reader)
are sampled every few seconds. Drift compares the steady RSS of the first and the last 10 minutes,
each the median over the still stretches only (the same phase of the cycle): of the daemon and
its children, of the daemon alone, and of the tree while the reader was alive. The verdict (< 5 %)
is the daemon's own: the reader is a new process each cycle, alive for as long as the cycle's frames
take to read (so, on a loaded machine, for most of a still stretch or none of it). At the end, the words
typed in the last cycles are searched. Raw samples go to samples.csv next to result.json in --out.
The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.harness import entry
from bench.harness.daemon import daemon_config, daemon_in, running
from bench.harness.display import Painter, screen
from bench.harness.home import private_env
from bench.harness.model import ModelCache
from bench.harness.proc import memory_breakdown, tree_sample
from bench.harness.report import machine, print_table
from bench.live_recall import found as text_found
from bench.soak_activity import Script, Timings, User
from bench.soak_report import Row, curve, memory_summary, memory_table
from tests.support.daemon import Daemon
from tests.support.desktop import Desktop
from tests.support.screens.desktop import desktop

SMOKE = {"minutes": 0.3, "cycle_s": 9.0, "log_s": 2.0, "page_s": 2.0, "sample_s": 0.5, "settle_s": 0.0,
         "key_delay_ms": 20, "searched_cycles": 1}  # fmt: skip
logger = logging.getLogger("bench.soak")


class Sampler:
    """A thread that samples the daemon's process tree every_s, labelled with what the user is doing."""

    def __init__(self, daemon: Daemon, script: Script, every_s: float) -> None:
        self.rows: list[Row] = []
        self._daemon, self._script, self._every = daemon, script, every_s
        self._stop = threading.Event()
        self._began = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="soak-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            now, phase = time.monotonic(), self._script.phase
            tree = tree_sample(self._daemon.pid)
            added = (self._daemon.status() or {}).get("counters", {}).get("records_added", -1)
            self.rows.append(
                Row(round(now - self._began, 2), phase.cycle, phase.name, round(now - phase.began, 1),
                    round(tree.rss_kb / 1024, 1), round(tree.own_rss_kb / 1024, 1), round(tree.cpu_s, 2),
                    tree.processes, added)
            )  # fmt: skip
            if self._stop.wait(max(0.0, self._began + len(self.rows) * self._every - time.monotonic())):
                return


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    model = ModelCache.of(args)
    timings = Timings(args.cycle_s, args.log_s, args.page_s, key_delay_ms=args.key_delay_ms)
    cycles = max(1, round(args.minutes * 60 / args.cycle_s))
    script, typed = Script(), []
    with screen() as xvfb:
        painter = Painter(xvfb.display)
        painter.show(painter.upload(desktop(3)))  # a wallpaper; openbox draws none
        with Desktop(xvfb.display) as desk:
            env = private_env(workdir / "home", model.xdg_cache)
            bundle = model.int8_weights() if args.bundle == "int8-weights" else model.fp16()
            daemon = daemon_in(workdir, "soak", env, daemon_config(bundle))
            with running(daemon) as startup_s:
                user = User(desk, workdir, script, random.Random(args.seed), timings)
                with Sampler(daemon, script, args.sample_s) as sampler:
                    for index in range(cycles):
                        logger.info("cycle %d of %d", index + 1, cycles)
                        typed.append(user.cycle(index))
                breakdown = memory_breakdown(daemon.pid)
                words = [w for batch in typed[-args.searched_cycles :] for w in batch]
                hits = {word: text_found(daemon, word) for word in words}
                status = daemon.status() or {}
        painter.close()
    out = args.out or args.cache / "soak" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    result = report(args, Found(sampler.rows, cycles, startup_s, status, hits, breakdown, daemon.log()))
    save(out, sampler.rows, result, daemon.log_path)
    return result | {"out": str(out)}


def log_problems(log: str) -> dict[str, Any]:
    lines = log.splitlines()
    errors = [line for line in lines if " ERROR " in line or "Traceback" in line or " CRITICAL " in line]
    warnings = [line for line in lines if " WARNING " in line]
    return {"errors": len(errors), "warnings": len(warnings), "first": (errors + warnings)[:5]}


@dataclass(frozen=True)
class Found:
    rows: list[Row]
    cycles: int
    startup_s: float
    status: dict[str, Any]  # status.json at the end
    hits: dict[str, bool]  # late typed word: found by a text search
    breakdown: dict[str, Any]  # the daemon's own resident memory by kind, at the end
    log: str  # the daemon's


def report(args: argparse.Namespace, found: Found) -> dict[str, Any]:
    summary = memory_summary(found.rows, args.settle_s)
    counters, hits = found.status.get("counters", {}), found.hits
    problems = log_problems(found.log)
    window = f"{summary['window_min']:g} min"
    print_table(("figure", f"first {window}", f"last {window}", "drift %"), memory_table(summary))
    cycles = curve(found.rows, args.settle_s)
    print_table(list(cycles[0]), [[str(v) for v in line.values()] for line in cycles])
    print(f"\n{summary['minutes']:.1f} min in {found.cycles} cycles of {args.cycle_s:.0f} s; records added / "
          f"updated / extended {_records(counters)}; late typed words found {sum(hits.values())} of {len(hits)}; "
          f"daemon log: {problems['errors']} errors, {problems['warnings']} warnings\n")  # fmt: skip
    return {
        "bench": "soak",
        **summary,
        "cycles": found.cycles,
        "cycle_s": args.cycle_s,
        "sample_s": args.sample_s,
        "settle_s": args.settle_s,
        "curve": cycles,
        "startup_s": round(found.startup_s, 1),
        "processes": sorted({r.processes for r in found.rows}),
        "counters": counters,
        "disk_bytes": found.status.get("disk_bytes"),
        "late_words_found": sum(hits.values()),
        "late_words": hits,
        "daemon_log": problems,
        "daemon_memory": found.breakdown,
        "machine": machine(),
    }


def _records(counters: dict[str, Any]) -> str:
    return " / ".join(str(counters.get(f"records_{k}", "?")) for k in ("added", "updated", "extended"))


def save(out: Path, rows: Sequence[Row], result: dict[str, Any], daemon_log: Path) -> None:
    """samples.csv (one row a sample), result.json and the daemon's log, in out."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "samples.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(Row.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    (out / "result.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    shutil.copyfile(daemon_log, out / "daemon.log")
    logger.info("samples, result and daemon log in %s", out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the run (whole cycles)")
    parser.add_argument("--cycle-s", type=float, default=300.0, help="one cycle: log, page, typing, then still")
    parser.add_argument("--log-s", type=float, default=45.0, help="seconds of log lines (one every 1.5 s)")
    parser.add_argument("--page-s", type=float, default=45.0, help="seconds of pages replaced in place (every 5 s)")
    parser.add_argument("--key-delay-ms", type=int, default=180, help="typing speed (xdotool type --delay)")
    parser.add_argument("--sample-s", type=float, default=5.0, help="seconds between samples")
    # The OCR reader exits 30 s after its last read, which may itself take a while on a loaded machine.
    parser.add_argument("--settle-s", type=float, default=60.0, help="still samples count as steady after this")
    parser.add_argument("--searched-cycles", type=int, default=2, help="search the words typed in the last N cycles")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--bundle", choices=["fp16", "int8-weights"], default="int8-weights", help="which export (the default's)"
    )
    parser.add_argument("--out", type=Path, default=None, help="for samples.csv etc. (default CACHE/soak/TIME)")
    args = entry.parse(parser, argv, SMOKE)
    if args.cycle_s < args.log_s + args.page_s + 5:
        parser.error("--cycle-s must leave room after --log-s and --page-s for typing and a still stretch")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    raise SystemExit(main())
