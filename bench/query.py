"""Benchmarks search latency through the daemon's API and through the CLI, on 10k and 100k synthetic records.

Run from the repo root: `python bench/query.py [--sizes 10000,100000]`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import daemon_support
from daemon_support import Daemon
from screenrecall.api.client import ApiClient
from screenrecall.frames import Record, Source, Window
from screenrecall.schema import record_id_for_file, record_id_for_screen
from screenrecall.store import Store

TARGET_P95_MS = 50.0
DAY_MS = 86_400_000
SPAN_DAYS = 90
BATCH = 5000  # records per Store.add (Chroma's max batch is 5461 here)
# (application class, what its window titles look like, share of the screen records)
APPS = [
    ("firefox", "{w} - Mozilla Firefox", 0.25),
    ("Code", "{w}.py - project - Visual Studio Code", 0.18),
    ("gnome-terminal-server", "user@host: ~/{w}", 0.14),
    ("libreoffice-calc", "{w}.ods - LibreOffice Calc", 0.08),
    ("Slack", "{w} | Slack", 0.10),
    ("thunderbird", "Inbox - {w} - Mozilla Thunderbird", 0.08),
    ("evince", "{w}.pdf", 0.06),
    ("zoom", "Zoom Meeting {w}", 0.04),
    ("org.gnome.Nautilus", "{w} - Files", 0.04),
    ("gimp", "[{w}] (imported)-1.0 (RGB color 8-bit gamma integer, GIMP built-in sRGB, 1 layer) 1920x1080", 0.03),
]
_WORD_TEXT = (
    "the of and to in is for on with as by at from this that be are was it or an not have error warning "
    "invoice payment budget report quarterly revenue meeting agenda notes deploy release build test failed "
    "passed kernel panic memory disk network server client request response timeout config database query "
    "table index user account password login session token email calendar project issue ticket review merge "
    "branch commit python rust java docker kubernetes pod cluster node service api endpoint json yaml file "
    "folder download upload image screenshot photo video call chat message channel thread reply team design "
    "draft final version update install package library module function class method variable value total "
    "amount price order customer supplier acme globex initech contract signed due date overdue reminder"
)
WORDS = _WORD_TEXT.split()
QUERIES = [
    "invoice from acme", "a terminal with red errors", "kubernetes pod failed", "quarterly revenue report",
    "a video call", "the login page", "docker build failed", "a spreadsheet with totals", "python traceback",
    "meeting agenda notes", "an email about the contract", "slack thread about the release", "a pdf invoice",
    "database query timeout", "merge request review", "a photo of a cat", "calendar reminder overdue",
    "code review comments", "server memory warning", "customer order total", "design draft final version",
    "network request timeout", "a chart of the budget", "package install error", "the project issue ticket",
    "upload screenshot folder", "api endpoint json", "password reset email", "globex supplier payment",
    "kernel panic",
]  # fmt: skip


MODES = ("hybrid", "visual")  # every filter is measured in both: hybrid is the default, visual is CLIP alone


@dataclass(frozen=True)
class Filter:
    name: str
    body: dict[str, Any]  # added to {"text": ..., "limit": 10, "mode": ...}
    cli: list[str]  # the same as `screenrecall search` options


def filters(anchor_ms: int) -> list[Filter]:
    since, until = anchor_ms - 2 * 3_600_000, anchor_ms - SPAN_DAYS // 2 * DAY_MS
    return [
        Filter("no filter", {}, []),
        Filter("since 2h (~0.1%)", {"since_ms": since}, ["--since", _iso(since)]),
        Filter(f"until -{SPAN_DAYS // 2}d (half)", {"until_ms": until}, ["--until", _iso(until)]),
        Filter("app regex code|term (~29%)", {"app": "code|term"}, ["--app", "code|term"]),
        Filter("monitor 2 (~28%)", {"monitor": 2}, ["--monitor", "2"]),
        Filter("source folder (10%)", {"source": "folder"}, ["--source", "folder"]),
        Filter("host laptop (20%)", {"host": "laptop"}, ["--host", "laptop"]),
    ]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


# --- the synthetic store, cached under bench/.cache/ -------------------------------------------------------


def cached_store(count: int) -> tuple[Path, int]:
    """bench/.cache/query-store-N/store, made once; returns it and the time its records end at."""
    root = common.CACHE / f"query-store-{count}"
    meta = root / "meta.json"
    if not meta.is_file():
        partial = root.with_name(root.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        began = time.monotonic()
        anchor_ms = fill(partial / "store", count)
        (partial / "meta.json").write_text(json.dumps({"count": count, "anchor_ms": anchor_ms}))
        partial.rename(root)
        print(f"built {count} records in {time.monotonic() - began:.0f} s", file=sys.stderr)
    return root / "store", int(json.loads(meta.read_text())["anchor_ms"])


def fill(path: Path, count: int) -> int:
    rng = np.random.default_rng(count)
    anchor_ms = int(time.time() * 1000)
    # Unique, sorted capture times over the span: a screen record's id is (host, monitor, time).
    times = np.sort(anchor_ms - rng.choice(SPAN_DAYS * DAY_MS, size=count, replace=False))
    with Store.open(path) as store:
        for start in range(0, count, BATCH):
            store.add(synthetic(rng, [int(t) for t in times[start : start + BATCH]]))
            print(f"\r  {min(start + BATCH, count)}/{count} records", end="", file=sys.stderr)
        print(file=sys.stderr)
    return anchor_ms


def synthetic(rng: np.random.Generator, times: list[int]) -> list[Record]:
    """Records like a desktop makes: 3 monitors, 10 apps, 2 hosts, 10% folder files, OCR-like text."""
    vectors = rng.standard_normal((len(times), 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    shares = np.array([share for _, _, share in APPS])
    records = []
    for captured, vector in zip(times, vectors, strict=True):
        host = "laptop" if rng.random() < 0.2 else "workstation"
        text = " ".join(rng.choice(WORDS, int(rng.integers(20, 160)), p=_ZIPF))
        if rng.random() < 0.1:
            name = f"/home/user/Pictures/Screenshots/Screenshot from {captured}.png"
            key = f"{name}|{int(rng.integers(50_000, 900_000))}|{captured * 1_000_000}"
            source: Source = "folder"
            record_id, monitor, window = record_id_for_file(key), 0, Window()
        else:
            app, title, _ = APPS[int(rng.choice(len(APPS), p=shares / shares.sum()))]
            source, name, key = "screen", "", ""
            monitor = int(rng.choice(3, p=[0.55, 0.31, 0.14])) + 1
            window = Window(title.format(w=rng.choice(WORDS[20:])), app)
            record_id = record_id_for_screen(monitor, captured, host)
        seen = captured + int(rng.integers(0, 120_000))
        thumbnail = f"/home/user/.local/share/screenrecall/thumbnails/{record_id[:2]}/{record_id}.webp"
        records.append(
            Record(
                record_id, vector, captured, seen, source, monitor, name, window, 1920, 1080, thumbnail, key, host, text
            )
        )
    return records


_ZIPF = 1.0 / np.arange(1, len(WORDS) + 1)
_ZIPF /= _ZIPF.sum()


# --- measuring ------------------------------------------------------------------------------------------


def measure_api(client: ApiClient, all_filters: list[Filter], rounds: int) -> dict[str, dict[str, Any]]:
    """Every query through every filter in each mode (and text-only, unfiltered); the cases take turns."""
    plan = [(mode, f) for f in all_filters for mode in MODES] + [("text", all_filters[0])]
    times: dict[tuple[str, str], list[float]] = {(mode, f.name): [] for mode, f in plan}
    hits: dict[tuple[str, str], list[int]] = {(mode, f.name): [] for mode, f in plan}
    for query in QUERIES * rounds:
        for mode, f in plan:
            began = time.perf_counter()
            answer = client.request("POST", "/v1/search", {"text": query, "limit": 10, "mode": mode, **f.body})
            times[mode, f.name].append(time.perf_counter() - began)
            hits[mode, f.name].append(len(answer["results"]))
    out: dict[str, dict[str, Any]] = {mode: {} for mode in (*MODES, "text")}
    for (mode, name), seconds in times.items():
        out[mode][name] = {**daemon_support.p50_p95(seconds), "results_mean": float(np.mean(hits[mode, name]))}
    return out


def measure_cli(daemon: Daemon, reps: int) -> dict[str, dict[str, float]]:
    """`python -m screenrecall search ... --json` (process start, imports, the API call) and --version alone."""
    runs: dict[str, Callable[[str], list[str]]] = {
        "search, hybrid": lambda q: ["search", q, "--json"],
        "search, visual": lambda q: ["search", q, "--json", "--mode", "visual"],
        "--version (start + imports only)": lambda _q: ["--version"],
    }
    out = {}
    for name, argv in runs.items():
        times = []
        for query in QUERIES[:reps]:
            began = time.perf_counter()
            daemon.cli(*argv(query))
            times.append(time.perf_counter() - began)
        out[name] = daemon_support.p50_p95(times)
    return out


def run_size(count: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    source, anchor_ms = cached_store(count)
    env = daemon_support.private_env(workdir)
    shutil.copytree(source, Path(env["XDG_DATA_HOME"]) / "screenrecall" / "store")  # the cache stays pristine
    sections = daemon_support.daemon_config(
        common.bundles().fp16,
        capture={"enabled": False},
        ocr={"enabled": False},  # nothing to read: capture is off
        api={"enabled": True},
        # The records end when the cache was made: nothing may expire or be trimmed from the copy.
        retention={"days": 0, "max_gb": 0, "min_free_gb": 0},
    )
    daemon = Daemon(daemon_support.write_config(workdir / "query.toml", sections), env, workdir / "daemon.log")
    all_filters = filters(anchor_ms)
    with daemon_support.running(daemon) as startup_s:
        client = ApiClient(daemon.socket)
        began = time.perf_counter()
        client.request("POST", "/v1/search", {"text": "first query after start", "limit": 10})
        first_ms = 1000 * (time.perf_counter() - began)
        for query in QUERIES[:3]:  # warm-up, untimed
            client.request("POST", "/v1/search", {"text": query, "limit": 10})
        print(f"{count} records: API, {len(QUERIES) * args.rounds} queries per case", file=sys.stderr)
        api = measure_api(client, all_filters, args.rounds)
        print(f"{count} records: CLI, {args.cli_reps} runs per case", file=sys.stderr)
        cli = measure_cli(daemon, args.cli_reps) if args.cli_reps else {}
        rss_mb = daemon_support.proc_sample(daemon.pid).rss_kb / 1024
    disk_mb = sum(f.stat().st_blocks * 512 for f in source.rglob("*") if f.is_file()) / 1e6
    return {
        "records": count,
        "startup_s": round(startup_s, 1),
        "first_query_ms": round(first_ms, 1),
        "daemon_rss_mb": round(rss_mb, 1),
        "store_disk_mb": round(disk_mb, 1),
        "api": api,
        "cli": cli,
    }


def report(args: argparse.Namespace, sizes: list[dict[str, Any]]) -> dict[str, Any]:
    for size in sizes:
        api, cli = size["api"], size["cli"]
        print(f"\n{size['records']} records (store {size['store_disk_mb']:.0f} MB on disk, daemon RSS ", end="")
        print(f"{size['daemon_rss_mb']:.0f} MB; first query after start {size['first_query_ms']:.0f} ms)")
        rows = [
            [name, *(f"{api[mode][name][key]:.0f}" for mode in MODES for key in ("p50_ms", "p95_ms"))]
            for name in api["hybrid"]
        ]
        text = api["text"]["no filter"]
        rows.append(["no filter, mode text (OCR words only)", f"{text['p50_ms']:.0f}", f"{text['p95_ms']:.0f}", "", ""])
        rows += [[f"CLI {name}", f"{f['p50_ms']:.0f}", f"{f['p95_ms']:.0f}", "", ""] for name, f in cli.items()]
        common.print_table(("API, text query", "hybrid p50", "p95", "visual p50", "p95"), rows)
    largest = sizes[-1]["api"]
    for mode in MODES:
        p95 = largest[mode]["no filter"]["p95_ms"]
        worst = max(f["p95_ms"] for f in largest[mode].values())
        verdict = "meets" if p95 < TARGET_P95_MS else "BELOW"
        print(f"\n{mode}: API p95 at {sizes[-1]['records']} records, no filter {p95:.0f} ms ({verdict} the ", end="")
        print(f"< {TARGET_P95_MS:g} ms target); slowest filter {worst:.0f} ms", end="")
    print(f"\nms: client wall time per request, limit 10; {len(QUERIES) * args.rounds} queries per API case, ", end="")
    print(f"{args.cli_reps} runs per CLI case\n")
    return {
        "bench": "query",
        "target_api_p95_ms": TARGET_P95_MS,
        "queries_per_case": len(QUERIES) * args.rounds,
        "cli_runs_per_case": args.cli_reps,
        "sizes": sizes,
        "machine": common.machine(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,100000", help="store sizes, comma-separated (cached once each)")
    parser.add_argument("--rounds", type=int, default=1, help=f"passes over the {len(QUERIES)} queries per API case")
    parser.add_argument("--cli-reps", type=int, default=5, help="CLI runs per case (0: skip the CLI)")
    args = parser.parse_args(argv)
    try:
        args.size_list = [int(n) for n in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes: comma-separated record counts")
    if args.rounds < 1 or args.cli_reps < 0 or min(args.size_list) < 1 or args.cli_reps > len(QUERIES):
        parser.error(f"--rounds >= 1, 0 <= --cli-reps <= {len(QUERIES)}, sizes >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    sizes = []
    for count in args.size_list:
        with tempfile.TemporaryDirectory(prefix="screenrecall-bench-") as workdir:
            sizes.append(run_size(count, args, Path(workdir)))
    common.emit_json(report(args, sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
