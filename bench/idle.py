"""Benchmarks the real daemon on a still 1080p Xvfb screen: CPU share of one core and resident memory.

Run from the repo root: `python -m bench.idle [--seconds S] [--profile]`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mss

from bench.harness import entry, proc
from bench.harness.daemon import daemon_config, daemon_in, running
from bench.harness.display import Painter, screen
from bench.harness.home import private_env
from bench.harness.model import ModelCache
from bench.harness.proc import ProcSample
from bench.harness.report import machine, print_table
from bench.harness.timing import Measurement, Subject, discard, measure, warm_up
from screenrecall.capture.gate import ChangeGate
from screenrecall.capture.screen import ScreenGrabber
from screenrecall.capture.window import WindowProbe
from screenrecall.config import Config
from tests.support.screens.desktop import desktop
from tests.support.xvfb import Xvfb

TARGET_CPU_PERCENT = 1.0
TARGET_RSS_MB = 500.0
THREADS_SHOWN = 8
# The one-frame run a test makes (see bench/harness/entry.py): a second's window, one rep per tick step.
SMOKE = {"seconds": 1.0, "warmup": 1.0, "profile": False, "tick_reps": 1, "tick_seconds": 0.0}


def paint_still_screen(x: Xvfb) -> None:
    """A screen-like desktop with a terminal of real text, and an active window with a title."""
    painter = Painter(x.display)
    try:
        painter.show(painter.upload(desktop(7)))
    finally:
        painter.close()
    # A thin window over the taskbar: the active window the probe reads (title, class) every tick.
    x.set_active(x.show_window((30, 30, 30), 0, 1052, 1920, 28, title="notes.txt - Editor", app="Gedit"))


def sample_window(pid: int, seconds: float) -> tuple[list[ProcSample], dict[int, tuple[str, float]]]:
    """/proc samples once a second, and each thread's CPU seconds used in the window."""
    before = proc.thread_cpu(pid)
    samples = [proc.proc_sample(pid)]
    end = samples[0].at + seconds
    while (now := time.monotonic()) < end:
        time.sleep(min(1.0, end - now))
        samples.append(proc.proc_sample(pid))
    after = proc.thread_cpu(pid)
    used = {tid: (name, cpu - before.get(tid, (name, 0.0))[1]) for tid, (name, cpu) in after.items()}
    return samples, used


def python_thread_names(pid: int) -> dict[int, str]:
    """OS thread id -> Python thread name, from `py-spy dump` (empty when py-spy is not installed)."""
    try:
        dump = subprocess.run(
            ["py-spy", "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError:
        return {}
    names: dict[int, str] = {}
    for match in re.finditer(r'^Thread (0x[0-9A-Fa-f]+|\d+) \([^)]*\): "([^"]*)"', dump.stdout, re.MULTILINE):
        ident = match.group(1)
        names[int(ident, 16) if ident.startswith("0x") else int(ident)] = match.group(2)
    return names


def profile(pid: int, seconds: float, out: Path) -> list[tuple[str, int]]:
    """py-spy record (non-blocking) of the Python stacks; returns the hottest frames of our own code."""
    command = ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    command += ["--nonblocking", "--threads", "--format", "raw", "--output", str(out)]
    subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        frames = stack.split(";")
        # The innermost frame of our package says which of our steps the sample is in.
        mine = [f for f in frames if "screenrecall/" in f]
        ours[_short(mine[-1]) if mine else _short(frames[-1])] += int(count)
    return [("(all active samples)", total), *ours.most_common(15)]


def _short(frame: str) -> str:
    return re.sub(r"\(.*?([\w./-]*?/)?([\w.]+\.py):(\d+)\)", r"(\2:\3)", frame).strip()


def tick_breakdown(reps: int = 50, seconds: float = 0.5) -> list[Measurement]:
    """What one capture tick of a still screen does, each step alone in this process (daemon stopped)."""
    grabber = ScreenGrabber((), WindowProbe())
    probe, gate = WindowProbe(), ChangeGate(3600, settle_s=Config().gate.settle_s)
    now_ms = int(time.time() * 1000)
    frame = grabber.grab(now_ms)[0]
    gate.decide(frame)
    with mss.MSS() as sct:
        monitor = sct.monitors[1]
        steps = [
            Subject("mss grab only (XShm, BGRA)", lambda _i: discard(sct.grab(monitor))),
            Subject("ScreenGrabber.grab (mss, BGRA->RGB, window x2)", lambda _i: discard(grabber.grab(now_ms))),
            Subject("WindowProbe.current (one read)", lambda _i: discard(probe.current())),
            Subject("ChangeGate.decide (exact, by tiles)", lambda _i: discard(gate.decide(frame))),
        ]
        measured = []
        for step in steps:
            warm_up(step)
            measured.append(measure(step, frames=reps, seconds=seconds))
    grabber.close()
    probe.close()
    return measured


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    model = ModelCache.of(args)
    bundle = model.fp16()
    with screen() as x:
        paint_still_screen(x)
        env = private_env(workdir, model.xdg_cache)
        sections = daemon_config(
            bundle, capture={"interval_s": 1.0}, api={"enabled": True}, ocr={"enabled": not args.no_ocr}
        )
        daemon = daemon_in(workdir, "idle", env, sections)
        status_path = Path(env["XDG_RUNTIME_DIR"]) / "screenrecall" / "status.json"
        with running(daemon) as startup_s:
            print(f"daemon up in {startup_s:.1f} s; warming up {args.warmup:.0f} s", file=sys.stderr)
            time.sleep(args.warmup)
            first_status = json.loads(status_path.read_text())
            print(f"measuring {args.seconds:.0f} s", file=sys.stderr)
            samples, threads = sample_window(daemon.pid, args.seconds)
            last_status = json.loads(status_path.read_text())
            names = python_thread_names(daemon.pid)
            memory = proc.memory_breakdown(daemon.pid)
            hot = profile(daemon.pid, args.seconds, workdir / "idle.pyspy") if args.profile else []
        steps = tick_breakdown(args.tick_reps, args.tick_seconds)
    found = Found(startup_s, samples, threads, names, hot, first_status, last_status, memory, steps)
    return report(args, found)


@dataclass(frozen=True)
class Found:
    startup_s: float
    samples: list[ProcSample]
    threads: dict[int, tuple[str, float]]  # tid: (OS name, CPU seconds in the window)
    names: dict[int, str]  # tid: Python thread name
    hot: list[tuple[str, int]]
    first: dict[str, Any]  # status.json at the start of the window
    last: dict[str, Any]  # and at its end
    memory: dict[str, Any]
    steps: list[Measurement]


def report(args: argparse.Namespace, found: Found) -> dict[str, Any]:
    samples = found.samples
    cpu = proc.cpu_percent(samples[0], samples[-1])
    per_second = [proc.cpu_percent(a, b) for a, b in itertools.pairwise(samples)]
    rss_mb, hwm_mb = samples[-1].rss_kb / 1024, max(s.hwm_kb for s in samples) / 1024
    counters = {k: v - found.first["counters"].get(k, 0) for k, v in found.last["counters"].items()}
    memory = found.memory
    print_table(
        ("figure", "value", "target"),
        [
            ["CPU, % of one core (mean)", f"{cpu:.2f}", f"<= {TARGET_CPU_PERCENT:g}"],
            ["CPU, busiest second", f"{max(per_second):.1f}", ""],
            ["RSS at the end, MB", f"{rss_mb:.0f}", f"<= {TARGET_RSS_MB:g}"],
            ["peak RSS (VmHWM), MB", f"{hwm_mb:.0f}", ""],
            ["  of which anonymous / file-backed, MB", f"{memory['RssAnon_mb']:.0f} / {memory['RssFile_mb']:.0f}", ""],
            ["start-up until the API answers, s", f"{found.startup_s:.1f}", ""],
        ],
    )
    print("\nlargest resident mappings, MB: " + ", ".join(f"{k} {v}" for k, v in memory["largest_mb"].items()))
    busiest = sorted(found.threads.items(), key=lambda item: item[1][1], reverse=True)[:THREADS_SHOWN]
    print(f"\nCPU by thread over the {args.seconds:.0f} s (tid, OS name / Python name):")
    print_table(
        ("thread", "CPU s", "% of one core"),
        [
            [f"{tid} {name} / {found.names.get(tid, '-')}", f"{sec:.2f}", f"{100 * sec / args.seconds:.2f}"]
            for tid, (name, sec) in busiest
        ],
    )
    print(f"\ncounters over the window: {counters}")
    print("\none capture tick of the still screen, step by step (this process, the daemon stopped):")
    print_table(
        ("step", "ms", "% of one core at 1 tick/s"),
        [[m.path, f"{m.ms_per_frame:.2f}", f"{m.ms_per_frame / 10:.2f}"] for m in found.steps],
    )
    if found.hot:
        print("\npy-spy, a second window (Python stacks, active samples at 200 Hz, innermost screenrecall frame):")
        print_table(("frame", "samples"), [[name, str(n)] for name, n in found.hot])
    print()
    return {
        "bench": "idle",
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "capture_interval_s": 1.0,
        "ocr": not args.no_ocr,
        "cpu_percent": round(cpu, 3),
        "cpu_percent_busiest_second": round(max(per_second), 2),
        "rss_mb": round(rss_mb, 1),
        "peak_rss_mb": round(hwm_mb, 1),
        "memory": memory,
        "startup_s": round(found.startup_s, 1),
        "meets_cpu": cpu <= TARGET_CPU_PERCENT,
        "meets_rss": hwm_mb <= TARGET_RSS_MB,
        "threads_cpu_s": {f"{t}:{n}:{found.names.get(t, '-')}": round(sec, 3) for t, (n, sec) in busiest},
        "counters": counters,
        "tick_ms": {m.path: round(m.ms_per_frame, 2) for m in found.steps},
        "profile": dict(found.hot),
        "machine": machine(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds after start-up before measuring")
    parser.add_argument("--profile", action="store_true", help="then py-spy the daemon for another window")
    parser.add_argument("--no-ocr", action="store_true", help="ocr.enabled = false (default: on, as shipped)")
    parser.add_argument("--tick-reps", type=int, default=50, help="least calls per capture-tick step timed alone")
    parser.add_argument("--tick-seconds", type=float, default=0.5, help="least seconds per capture-tick step")
    args = entry.parse(parser, argv, SMOKE)
    if args.seconds < (1 if args.smoke else 5) or args.warmup < 0 or args.tick_reps < 1 or args.tick_seconds < 0:
        parser.error("--seconds must be >= 5, --tick-reps >= 1, --warmup and --tick-seconds >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
