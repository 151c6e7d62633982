"""Benchmarks what a live screen leaves findable: words printed, replaced, scrolled away and typed on Xvfb.

The real daemon (OCR on, `capture.interval_s = 1`, every other setting its default) watches an
xterm on a 1080p Xvfb while a script prints log lines, replaces a page in place, scrolls words off
the screen and a user types a chat line; afterwards each planted word is searched with
`screenrecall search WORD --mode text`. The figure is the share of planted words found (target >= 0.95).

Run from the repo root: `python -m bench.live_recall [--rounds N]`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import entry
from bench.harness.daemon import daemon_config, daemon_in, running
from bench.harness.display import screen
from bench.harness.home import private_env
from bench.harness.model import ModelCache
from tests.support.daemon import Daemon, wait_until

SMOKE = {"rounds": 1, "settle_s": 5.0}
logger = logging.getLogger("bench.live_recall")
SYLLABLES = ["zor", "bli", "quan", "mev", "tra", "pol", "fyn", "dex", "gal", "rup", "sko", "wen", "hix", "lum"]


def planted_word(rng: random.Random) -> str:
    """A made-up word no screen shows by accident, of letters OCR reads without confusion."""
    return "".join(rng.choice(SYLLABLES) for _ in range(3))


def session(rng: random.Random, marker: Path) -> tuple[str, list[str], list[str]]:
    """The shell script of one round, the words it shows, and the words a user types afterwards."""
    printed = [planted_word(rng) for _ in range(4)]
    page_one, page_two = [planted_word(rng) for _ in range(3)], [planted_word(rng) for _ in range(3)]
    scrolled = [planted_word(rng) for _ in range(2)]
    typed = [planted_word(rng) for _ in range(3)]
    script = f"""
for w in {" ".join(printed)}; do echo "[build] step $w finished"; sleep 2.5; done
clear; printf "page 1\\n%s\\n" "{" ".join(page_one)}"; sleep 4
clear; printf "page 2\\n%s\\n" "{" ".join(page_two)}"; sleep 4
echo "remember {" and ".join(scrolled)} please"; sleep 4
for i in $(seq 1 60); do echo "scrolling filler line $i"; sleep 0.05; done
touch {marker}; exec cat
"""
    return script, printed + page_one + page_two + scrolled, typed


def run_round(daemon: Daemon, display: str, rng: random.Random, workdir: Path, settle_s: float) -> dict[str, bool]:
    marker = workdir / f"done-{rng.random():.6f}"
    script, shown, typed = session(rng, marker)
    env = {"DISPLAY": display}
    terminal = subprocess.Popen(
        ["xterm", "-display", display, "-geometry", "120x40+0+0", "-fa", "DejaVu Sans Mono", "-fs", "12",
         "-bg", "white", "-fg", "black", "-e", "sh", "-c", script],
    )  # fmt: skip
    try:
        wait_until(marker.exists, 180, "the scripted session")
        window = subprocess.run(
            ["xdotool", "search", "--pid", str(terminal.pid)], env=env, capture_output=True, text=True, check=True
        ).stdout.split()[-1]
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, check=True, timeout=10)
        subprocess.run(
            ["xdotool", "type", "--delay", "180", "chat: " + " ".join(typed)], env=env, check=True, timeout=60
        )
        time.sleep(settle_s)  # the last frame settles, is read and written
    finally:
        terminal.terminate()
        terminal.wait(10)
    return {word: found(daemon, word) for word in shown + typed}


def found(daemon: Daemon, word: str) -> bool:
    done = daemon.cli("search", word, "--mode", "text", "--json", "--limit", "5")
    return done.returncode == 0 and bool(json.loads(done.stdout or "[]"))


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    model = ModelCache.of(args)
    rng = random.Random(args.seed)
    results: dict[str, bool] = {}
    with screen() as xvfb:
        env = private_env(workdir / "home", model.xdg_cache)
        sections = daemon_config(model.fp16(), capture={"interval_s": 1.0}, ocr={"enabled": True})
        daemon = daemon_in(workdir, "live", env, sections)
        with running(daemon):
            for index in range(args.rounds):
                logger.info("round %d of %d", index + 1, args.rounds)
                results |= run_round(daemon, xvfb.display, rng, workdir, args.settle_s)
            status = daemon.status() or {}
    counters = status.get("counters", {})
    hits = sum(results.values())
    missed = sorted(word for word, hit in results.items() if not hit)
    logger.info("live recall: %d of %d planted words found; missed %s", hits, len(results), missed)
    return {
        "bench": "live_recall",
        "planted": len(results),
        "found": hits,
        "share_found": round(hits / max(1, len(results)), 3),
        "missed": missed,
        "counters": {k: v for k, v in counters.items() if k.startswith(("ocr_", "records_", "frames_"))},
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="scripted sessions (15 planted words each)")
    parser.add_argument("--settle-s", type=float, default=8.0, help="wait after typing before searching")
    parser.add_argument("--seed", type=int, default=7)
    return entry.parse(parser, argv, SMOKE)


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    raise SystemExit(main())
