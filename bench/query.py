"""Benchmarks search latency through the daemon's API and through the CLI, on 10k and 100k synthetic records.

Run from the repo root: `python -m bench.query [--sizes 10000,100000,1000000]`. The last stdout line is JSON.
Each size's synthetic store is built once (with a progress line) and cached under bench/.cache/; each run
copies it, rebuilds the text index on the copy (`screenrecall index rebuild`, timed) and starts a daemon on
the full-size random-weight ViT-B/32 exported as `models export` does by default (INT8 weights).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import entry
from bench.harness.daemon import cli, daemon_config, daemon_in, running
from bench.harness.home import private_env
from bench.harness.model import REPO, ModelCache
from bench.harness.proc import proc_sample
from bench.harness.report import machine, print_table
from bench.harness.timing import p50_p95
from bench.query_store import DAY_MS, SPAN_DAYS, cached_store
from screenrecall.api.client import ApiClient
from tests.support.daemon import Daemon, toml_of

TARGET_P95_MS = 50.0
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


# The one-frame run a test makes (see bench/harness/entry.py): a small store, one query, one CLI run.
SMOKE = {"sizes": "50", "queries": 1, "cli_reps": 1}
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


# --- measuring ------------------------------------------------------------------------------------------


def measure_api(client: ApiClient, all_filters: list[Filter], queries: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Every query through every filter in each mode (and text-only, unfiltered); the cases take turns."""
    plan = [(mode, f) for f in all_filters for mode in MODES] + [("text", all_filters[0])]
    times: dict[tuple[str, str], list[float]] = {(mode, f.name): [] for mode, f in plan}
    hits: dict[tuple[str, str], list[int]] = {(mode, f.name): [] for mode, f in plan}
    for query in queries:
        for mode, f in plan:
            began = time.perf_counter()
            answer = client.request("POST", "/v1/search", {"text": query, "limit": 10, "mode": mode, **f.body})
            times[mode, f.name].append(time.perf_counter() - began)
            hits[mode, f.name].append(len(answer["results"]))
    out: dict[str, dict[str, Any]] = {mode: {} for mode in (*MODES, "text")}
    for (mode, name), seconds in times.items():
        out[mode][name] = {**p50_p95(seconds), "results_mean": float(np.mean(hits[mode, name]))}
    return out


def measure_cli(daemon: Daemon, reps: int) -> dict[str, dict[str, float]]:
    """`python -m screenrecall search ... --json` (process start, imports, the API call) and --version alone."""
    runs: dict[str, Callable[[str], list[str]]] = {
        "search, hybrid": lambda q: ["search", q, "--json"],
        "search, visual": lambda q: ["search", q, "--json", "--mode", "visual"],
        "--version (start + imports only)": lambda _q: ["--version"],
        "--help": lambda _q: ["--help"],
    }
    out = {}
    for name, argv in runs.items():
        times = []
        for query in QUERIES[:reps]:
            began = time.perf_counter()
            cli(daemon, *argv(query))
            times.append(time.perf_counter() - began)
        out[name] = p50_p95(times)
    return out


def run_size(count: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    model = ModelCache.of(args)
    bundle = model.int8_weights()  # what `models export` makes by default
    dim = int(json.loads((bundle / "manifest.json").read_text())["embedding_dim"])
    source, anchor_ms = cached_store(model.root, count, dim)
    env = private_env(workdir, model.xdg_cache)
    store = Path(env["XDG_DATA_HOME"]) / "screenrecall" / "store"
    shutil.copytree(source, store)  # the cache stays pristine
    # The cached store has the index Store.add wrote; rebuilding it times `index rebuild` (12 min at 1M).
    index_s = rebuild_index(workdir, env) if args.rebuild else None
    chroma_b, index_b = disk_split(store)
    sections = daemon_config(
        bundle,
        capture={"enabled": False},
        ocr={"enabled": False},  # nothing to read: capture is off
        api={"enabled": True},
        # The records end when the cache was made: nothing may expire or be trimmed from the copy.
        retention={"days": 0, "max_gb": 0, "min_free_gb": 0},
    )
    daemon = daemon_in(workdir, "query", env, sections)
    all_filters = filters(anchor_ms)
    # A big store opens slowly (Chroma's files, the start-up sweeps); 1M records: up to ~11 min.
    with running(daemon, timeout=180.0 + count / 2000) as startup_s:
        client = ApiClient(daemon.socket)
        began = time.perf_counter()
        client.request("POST", "/v1/search", {"text": "first query after start", "limit": 10})
        first_ms = 1000 * (time.perf_counter() - began)
        for query in QUERIES[:3]:  # warm-up, untimed
            client.request("POST", "/v1/search", {"text": query, "limit": 10})
        print(f"{count} records: API, {args.queries * args.rounds} queries per case", file=sys.stderr)
        api = measure_api(client, all_filters, QUERIES[: args.queries] * args.rounds)
        print(f"{count} records: CLI, {args.cli_reps} runs per case", file=sys.stderr)
        cli = measure_cli(daemon, args.cli_reps) if args.cli_reps else {}
        rss_mb = proc_sample(daemon.pid).rss_kb / 1024
    disk_mb = (chroma_b + index_b) / 1e6
    return {
        "records": count,
        "index_build_s": None if index_s is None else round(index_s, 1),
        "chroma_bytes_per_record": round(chroma_b / count),
        "index_bytes_per_record": round(index_b / count),
        "startup_s": round(startup_s, 1),
        "first_query_ms": round(first_ms, 1),
        "daemon_rss_mb": round(rss_mb, 1),
        "store_disk_mb": round(disk_mb, 1),
        "api": api,
        "cli": cli,
    }


def rebuild_index(workdir: Path, env: dict[str, str]) -> float:
    """`screenrecall index rebuild` on the copied store: the text index from scratch, timed."""
    config = workdir / "index.toml"
    config.write_text(toml_of({}), encoding="utf-8")
    began = time.perf_counter()
    command = [sys.executable, "-m", "screenrecall", "--config", str(config), "index", "rebuild"]
    # No timeout (a 1M store takes minutes); this checkout's daemon package, as the child daemon gets.
    subprocess.run(command, env=env | {"PYTHONPATH": str(REPO / "daemon")}, check=True)
    return time.perf_counter() - began


def disk_split(store: Path) -> tuple[int, int]:
    """Allocated bytes of Chroma's files and of the text index (thumbnails are not in the store dir)."""
    chroma = index = 0
    for path in store.rglob("*"):
        if path.is_file():
            size = path.stat().st_blocks * 512
            if path.name.startswith("text-index"):
                index += size
            else:
                chroma += size
    return chroma, index


def report(args: argparse.Namespace, sizes: list[dict[str, Any]]) -> dict[str, Any]:
    for size in sizes:
        api, cli = size["api"], size["cli"]
        print(f"\n{size['records']} records (store {size['store_disk_mb']:.0f} MB on disk, daemon RSS ", end="")
        print(f"{size['daemon_rss_mb']:.0f} MB; first query after start {size['first_query_ms']:.0f} ms)")
        per = f"Chroma {size['chroma_bytes_per_record']} B, text index {size['index_bytes_per_record']} B"
        built = size["index_build_s"]
        print(f"per record: {per}; " + ("text index kept" if built is None else f"text index rebuilt in {built:.0f} s"))
        rows = [
            [name, *(f"{api[mode][name][key]:.0f}" for mode in MODES for key in ("p50_ms", "p95_ms"))]
            for name in api["hybrid"]
        ]
        text = api["text"]["no filter"]
        rows.append(["no filter, mode text (OCR words only)", f"{text['p50_ms']:.0f}", f"{text['p95_ms']:.0f}", "", ""])
        rows += [[f"CLI {name}", f"{f['p50_ms']:.0f}", f"{f['p95_ms']:.0f}", "", ""] for name, f in cli.items()]
        print_table(("API, text query", "hybrid p50", "p95", "visual p50", "p95"), rows)
    largest = sizes[-1]["api"]
    for mode in MODES:
        p95 = largest[mode]["no filter"]["p95_ms"]
        worst = max(f["p95_ms"] for f in largest[mode].values())
        verdict = "meets" if p95 < TARGET_P95_MS else "BELOW"
        print(f"\n{mode}: API p95 at {sizes[-1]['records']} records, no filter {p95:.0f} ms ({verdict} the ", end="")
        print(f"< {TARGET_P95_MS:g} ms target); slowest filter {worst:.0f} ms", end="")
    per_case = args.queries * args.rounds
    print(f"\nms: client wall time per request, limit 10; {per_case} queries per API case, ", end="")
    print(f"{args.cli_reps} runs per CLI case\n")
    return {
        "bench": "query",
        "target_api_p95_ms": TARGET_P95_MS,
        "queries_per_case": args.queries * args.rounds,
        "cli_runs_per_case": args.cli_reps,
        "sizes": sizes,
        "machine": machine(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="store sizes, comma-separated (cached once each)")
    parser.add_argument("--rounds", type=int, default=1, help=f"passes over the {len(QUERIES)} queries per API case")
    parser.add_argument("--cli-reps", type=int, default=5, help="CLI runs per case (0: skip the CLI)")
    parser.add_argument("--queries", type=int, default=len(QUERIES), help="queries per pass (a loaded machine: fewer)")
    parser.add_argument(
        "--no-rebuild", dest="rebuild", action="store_false", help="keep the cached text index (not timed)"
    )
    args = entry.parse(parser, argv, SMOKE)
    try:
        args.size_list = [int(n) for n in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes: comma-separated record counts")
    if args.rounds < 1 or not 0 <= args.cli_reps <= len(QUERIES) or min(args.size_list) < 1 or args.queries < 1:
        parser.error(f"--rounds >= 1, --queries >= 1, 0 <= --cli-reps <= {len(QUERIES)}, sizes >= 1")
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    sizes = []
    for count in args.size_list:
        (workdir / str(count)).mkdir()
        sizes.append(run_size(count, args, workdir / str(count)))
    return report(args, sizes)


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
