"""Benchmarks Wayland capture through the portal on the headless test desktop (tests/support/wayland.py):
the CPU the capture path costs on a still screen sampled at 1 Hz, and how soon a change arrives.

Run as root from the repo root (Sway runs as nobody): `python -m bench.wayland [--seconds S]`.
The last stdout line is JSON.

Idle: the daemon's own capture path (PortalGrabber + ChangeGate, one grab a second, as the sampler
does) in this process, plus its gst-launch child; the portal's side (xdg-desktop-portal-wlr,
PipeWire, WirePlumber) is reported separately. Latency: from asking Sway for a new background to
the frame showing it arriving in our process (includes swaymsg and swaybg start-up), p50/p95.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.harness import entry
from bench.harness.home import restored_environ
from bench.harness.proc import cpu_percent, proc_sample
from bench.harness.timing import p50_p95
from screenrecall.capture.gate import ChangeGate
from screenrecall.capture.portal import PortalGrabber, RestoreToken
from screenrecall.capture.sway import SwayProbe
from screenrecall.capture.wlroots import GrimGrabber
from tests.support.wayland import WaylandWorld

TARGET_CPU_PERCENT = 1.0
_COLOURS = ("#ff0000", "#00ff00", "#0000ff", "#ffff00")
_SESSION = ("DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY", "SWAYSOCK")
HEARTBEAT_S = 60.0  # the gate's heartbeat: a still screen gives one record a minute
# The smallest run a test makes (see bench/harness/entry.py): one timed change, a second still.
SMOKE = {"seconds": 1.0, "changes": 1}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the still-screen window")
    parser.add_argument("--changes", type=int, default=30, help="screen changes timed for latency")
    args = entry.parse(parser, argv, SMOKE)
    if args.seconds <= 0 or args.changes < 1:
        parser.error("--seconds must be > 0 and --changes >= 1")
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    with WaylandWorld(1920, 1080) as world, session_env():
        os.environ.update({k: world.env[k] for k in _SESSION})
        grabber = PortalGrabber((), SwayProbe(world.env["SWAYSOCK"]), RestoreToken(workdir / "token"))
        try:
            _first_frame(world, grabber)
            latency = _latency(world, grabber, args.changes)  # on the bare background
            world.show_text("a still terminal", app_id="bench")
            time.sleep(1.0)
            idle = _idle(world, grabber, args.seconds)
        finally:
            grabber.close()
        grim = _grim_idle(world, min(args.seconds, 20.0))
    return {"bench": "wayland", "screen": "1920x1080", "idle": idle, "change_to_frame": latency, "grim_idle": grim}


@contextmanager
def session_env() -> Iterator[None]:
    """The Wayland session's variables are set for this process (the grabbers read them) and restored
    afterwards, so a caller in the same process (the smoke test) keeps its own."""
    with restored_environ(_SESSION):
        yield


def _grim_idle(world: WaylandWorld, seconds: float) -> dict[str, Any]:
    """The wlroots backend on the same still screen: one grim process per grab."""
    os.environ["WAYLAND_DISPLAY"] = str(world.runtime / world.env["WAYLAND_DISPLAY"])
    grabber = GrimGrabber((), SwayProbe(world.env["SWAYSOCK"]))
    gate = ChangeGate(HEARTBEAT_S)
    before = _cpu_with_children()
    started = time.monotonic()
    grab_s: list[float] = []
    tick = 0
    try:
        while time.monotonic() < started + seconds:
            grab_started = time.monotonic()
            for frame in grabber.grab(int(time.time() * 1000)):
                gate.decide(frame)
            grab_s.append(time.monotonic() - grab_started)
            tick += 1
            time.sleep(max(0.0, started + tick - time.monotonic()))
    finally:
        grabber.close()
    used = _cpu_with_children() - before
    return {
        "seconds": seconds,
        "grabs": tick,
        "grab": p50_p95(grab_s),
        "cpu_percent_of_a_core": round(100.0 * used / (time.monotonic() - started), 3),
    }


def _cpu_with_children() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _first_frame(world: WaylandWorld, grabber: PortalGrabber) -> None:
    deadline = time.monotonic() + 30
    while not grabber.grab(0):
        if time.monotonic() > deadline:
            raise RuntimeError("no frame from the portal within 30 s")
        world.set_background("#203040")  # a new cast of a still screen waits for damage
        time.sleep(0.2)


def _latency(world: WaylandWorld, grabber: PortalGrabber, changes: int) -> dict[str, Any]:
    reader = grabber.readers[0]
    command_s, after_return_s = [], []
    for index in range(changes):
        colour = _COLOURS[index % len(_COLOURS)]
        want = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        asked = time.monotonic()
        world.set_background(colour)
        returned = time.monotonic()
        deadline = asked + 10
        while time.monotonic() < deadline:
            pixels, arrived = reader.latest()
            if pixels is not None and arrived >= asked and tuple(int(c) for c in pixels[5, 5]) == want:
                command_s.append(arrived - asked)
                after_return_s.append(max(0.0, arrived - returned))
                break
            time.sleep(0.002)
        time.sleep(0.3)
    return {
        "changes": changes,
        "seen": len(command_s),
        "from_command": p50_p95(command_s),
        "after_swaymsg_returned": p50_p95(after_return_s),
    }


def _idle(world: WaylandWorld, grabber: PortalGrabber, seconds: float) -> dict[str, Any]:
    gate = ChangeGate(HEARTBEAT_S)
    children = [reader.pid for reader in grabber.readers]
    portal_side = [world.pid(name) for name in ("xdpw", "pipewire", "wireplumber")]
    ours_before = [proc_sample(pid) for pid in (os.getpid(), *children)]
    theirs_before = [proc_sample(pid) for pid in portal_side]
    frames_before = sum(reader.frames for reader in grabber.readers)
    decisions: dict[str, int] = {}
    started = time.monotonic()
    tick = 0
    while (now := time.monotonic()) < started + seconds:
        for frame in grabber.grab(int(time.time() * 1000)):
            decision = gate.decide(frame).name
            decisions[decision] = decisions.get(decision, 0) + 1
        tick += 1
        time.sleep(max(0.0, started + tick - time.monotonic()))
    del now
    ours_after = [proc_sample(pid) for pid in (os.getpid(), *children)]
    theirs_after = [proc_sample(pid) for pid in portal_side]
    ours = sum(cpu_percent(a, b) for a, b in zip(ours_before, ours_after, strict=True))
    theirs = sum(cpu_percent(a, b) for a, b in zip(theirs_before, theirs_after, strict=True))
    return {
        "seconds": seconds,
        "grabs": tick,
        "gate": decisions,
        "stream_frames": sum(reader.frames for reader in grabber.readers) - frames_before,
        "capture_cpu_percent_of_a_core": round(ours, 3),
        "portal_side_cpu_percent": round(theirs, 3),
        "target_cpu_percent": TARGET_CPU_PERCENT,
    }


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
