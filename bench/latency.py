"""Benchmarks capture -> stored latency of the real daemon on a changing 1080p Xvfb screen, via the awareness stream.

Run from the repo root: `python -m bench.latency [--changes N] [--every S]`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import entry
from bench.harness.daemon import daemon_config, daemon_in, running
from bench.harness.display import Painter, screen
from bench.harness.home import private_env
from bench.harness.model import ModelCache
from bench.harness.report import machine, print_table
from bench.harness.timing import p50_p95
from screenrecall.api.client import ApiClient, ApiError
from screenrecall.config import Config
from tests.support.screens.desktop import desktop

INTERVAL_S = 0.5
# A tick reads its clock just before it grabs: a grab that began this much before a change may show it.
GRAB_SLACK_S = 0.05
FIRST_SEED = 100
# Random weights put distinct screens close together (cosine 0.87-0.99 between these desktops), so
# the default 0.98 would extend some records instead of adding them; real CLIP weights would not.
DEDUP_COSINE = 0.9999
# The one-frame run a test makes (see bench/harness/entry.py): one change, short waits.
SMOKE = {"changes": 1, "every": 2 * INTERVAL_S, "warmup": 0.0, "tail": 2.0, "subscribe": 0.5}


@dataclass
class Arrivals:
    """Stream events with the wall-clock time each arrived, filled by a reader thread."""

    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    error: str = ""

    def follow(self, client: ApiClient) -> None:
        try:
            for event in client.stream():
                self.events.append((time.time(), event))  # list.append is atomic under the GIL
        except ApiError as exc:
            self.error = str(exc)  # the daemon stopped: the normal end of a run


@dataclass(frozen=True)
class Match:
    changed_at: float
    captured_at: float
    arrived_at: float

    @property
    def total(self) -> float:
        return self.arrived_at - self.changed_at

    @property
    def waiting(self) -> float:
        """Until the next capture tick saw the change."""
        return self.captured_at - self.changed_at

    @property
    def processing(self) -> float:
        """From the grab to the event: gate, queue, encode, writer batch and flush, stream."""
        return self.arrived_at - self.captured_at


def match(changes: list[float], events: list[tuple[float, dict[str, Any]]]) -> list[Match | None]:
    """For each change, the first new record captured after it and before the next change."""
    records = [(arrived, event["time_ms"] / 1000) for arrived, event in events if event["type"] == "record"]
    found: list[Match | None] = []
    for i, changed in enumerate(changes):
        until = changes[i + 1] - GRAB_SLACK_S if i + 1 < len(changes) else float("inf")
        hit = next(((a, c) for a, c in records if changed - GRAB_SLACK_S <= c < until and a >= changed), None)
        found.append(Match(changed, hit[1], hit[0]) if hit else None)
    return found


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    model = ModelCache.of(args)
    bundle = model.fp16()
    print(f"generating {args.changes + 1} synthetic 1920x1080 desktops (untimed)", file=sys.stderr)
    pictures = [desktop(FIRST_SEED + i) for i in range(args.changes + 1)]
    with screen() as x:
        painter = Painter(x.display)
        pixmaps = [painter.upload(picture) for picture in pictures]
        painter.show(pixmaps[0])
        x.set_active(x.show_window((30, 30, 30), 0, 1052, 1920, 28, title="report.odt - Writer", app="Soffice"))
        env = private_env(workdir, model.xdg_cache)
        sections = daemon_config(
            bundle,
            capture={"interval_s": INTERVAL_S},
            dedup={"cosine": args.dedup},
            ocr={"enabled": not args.no_ocr},
            store={"flush_interval_s": args.flush_interval},
        )
        daemon = daemon_in(workdir, "latency", env, sections)
        with running(daemon) as startup_s:
            print(f"daemon up in {startup_s:.1f} s; warming up {args.warmup:.0f} s", file=sys.stderr)
            time.sleep(args.warmup)
            arrivals = Arrivals()
            reader = threading.Thread(target=arrivals.follow, args=(ApiClient(daemon.socket),), name="stream")
            reader.start()
            time.sleep(args.subscribe)  # stream() does not say when it has subscribed: give the request time
            print(f"{args.changes} changes, one every {args.every} s", file=sys.stderr)
            changes = change_screen(painter, pixmaps[1:], args.every)
            time.sleep(args.tail)
            status = ApiClient(daemon.socket).request("GET", "/v1/status")
        reader.join(15)
        painter.close()
    return report(args, startup_s, match(changes, arrivals.events), arrivals, status)


def change_screen(painter: Painter, pixmaps: Sequence[Any], every: float) -> list[float]:
    """Shows each picture about `every` s after the last; returns when each was on screen (time.time()).

    A pace that is a multiple of the capture interval would hit every tick at the same phase (the
    wait for the tick would be constant); a golden-ratio offset spreads the changes evenly over it.
    """
    start = time.monotonic()
    changes = []
    for i, pixmap in enumerate(pixmaps):
        phase = (i * 0.6180339887) % 1.0 * INTERVAL_S
        time.sleep(max(0.0, start + (i + 1) * every + phase - time.monotonic()))
        changes.append(painter.show(pixmap))
    return changes


def report(
    args: argparse.Namespace, startup_s: float, found: list[Match | None], arrivals: Arrivals, status: dict[str, Any]
) -> dict[str, Any]:
    hits = [m for m in found if m is not None]
    total = p50_p95([m.total for m in hits])
    waiting = p50_p95([m.waiting for m in hits])
    processing = p50_p95([m.processing for m in hits])
    print_table(
        ("change -> record on the stream", "p50 ms", "p95 ms", "max ms"),
        [
            ["total (event arrival - change)", *_cells(total)],
            ["  waiting for the tick (time_ms - change)", *_cells(waiting)],
            ["  processing (arrival - time_ms)", *_cells(processing)],
        ],
    )
    kinds: dict[str, int] = {}
    for _, event in arrivals.events:
        kinds[event["type"]] = kinds.get(event["type"], 0) + 1
    missed = sum(m is None for m in found)
    counters = status["counters"]
    batch_size = Config().store.batch_size
    print(f"\nchanges {len(found)}, matched {len(hits)}, missed {missed}; stream events {kinds}")
    print(f"capture.interval_s {INTERVAL_S}, store.flush_interval_s {args.flush_interval}, ", end="")
    print(f"store.batch_size {batch_size}, dedup.cosine {args.dedup}, ocr {'off' if args.no_ocr else 'on'}")
    print(f"daemon counters: {counters}\n")
    return {
        "bench": "latency",
        "changes": len(found),
        "every_s": args.every,
        "capture_interval_s": INTERVAL_S,
        "flush_interval_s": args.flush_interval,
        "dedup_cosine": args.dedup,
        "ocr": not args.no_ocr,
        "latency": total,
        "waiting_for_tick": waiting,
        "processing": processing,
        "matched": len(hits),
        "missed": missed,
        "events": kinds,
        "frames_dropped": counters.get("frames_dropped", 0),
        "startup_s": round(startup_s, 1),
        "stream_end": arrivals.error,
        "machine": machine(),
    }


def _cells(figures: dict[str, float]) -> list[str]:
    return [f"{figures['p50_ms']:.0f}", f"{figures['p95_ms']:.0f}", f"{figures['max_ms']:.0f}"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--changes", type=int, default=30, help="screen changes")
    parser.add_argument("--every", type=float, default=1.5, help="seconds between changes")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds after start-up before the first change")
    parser.add_argument("--tail", type=float, default=5.0, help="seconds to wait for the last records")
    parser.add_argument("--subscribe", type=float, default=1.5, help="seconds for the stream to subscribe")
    parser.add_argument("--dedup", type=float, default=DEDUP_COSINE, help="dedup.cosine (see DEDUP_COSINE)")
    parser.add_argument("--no-ocr", action="store_true", help="ocr.enabled = false (default: on, as shipped)")
    parser.add_argument(
        "--flush-interval", type=float, default=Config().store.flush_interval_s, help="store.flush_interval_s"
    )
    args = entry.parse(parser, argv, SMOKE)
    if args.changes < 1 or args.every < 2 * INTERVAL_S or args.flush_interval < 0.05:
        parser.error(
            f"--changes >= 1, --every >= twice the capture interval ({INTERVAL_S} s), --flush-interval >= 0.05"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
