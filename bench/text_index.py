"""Benchmarks the full-text index alone (no Chroma, no daemon) at sizes a Chroma store takes hours to build.

Run from the repo root: `python -m bench.text_index [--sizes 100000,1000000]`. The last stdout line is JSON.
The same synthetic records as bench/query.py (bench/query_store.py: text, times, apps, monitors, hosts),
indexed once into bench/.cache/text-index-N.sqlite3 (build time and bytes per record reported); then the 30 queries of
query.py through TextIndex.search, depth 40 (what a limit-10 search asks), for no filter and each filter.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import query, query_store
from bench.harness import entry
from bench.harness.model import ModelCache
from bench.harness.report import machine, print_table
from bench.harness.timing import p50_p95
from screenrecall.store.text_fold import adjacency, query_terms
from screenrecall.store.text_index import TextFilters, TextIndex

DEPTH = 40
VECTOR_DIM = 512  # unused by the index, but the draws for them keep the records those of the full-size store
# The one-frame run a test makes (see bench/harness/entry.py): a small index, one pass.
SMOKE = {"sizes": "50", "rounds": 1}


def cached_index(cache: Path, count: int) -> tuple[Path, dict[str, Any]]:
    """cache/text-index-N.sqlite3, made once; returns it and its meta (count, anchor_ms, build_s)."""
    path = cache / f"text-index-{count}.sqlite3"
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        anchor_ms = int(time.time() * 1000)
        index = TextIndex(partial)
        seconds = 0.0  # writing the index, not drawing the records
        batch = query_store.BATCH
        for start in range(0, count, batch):
            records = query_store.batch(count, start, batch, anchor_ms, VECTOR_DIM)
            began = time.monotonic()
            index.load(records)  # as `screenrecall index rebuild` writes (text_sync.rebuild)
            seconds += time.monotonic() - began
            done = start + len(records)
            print(f"\r  {done}/{count} records indexed, {done / seconds:.0f}/s", end="", file=sys.stderr, flush=True)
        began = time.monotonic()
        index.mark_built()
        index.close()
        print(file=sys.stderr)
        meta = {"count": count, "anchor_ms": anchor_ms, "build_s": round(seconds + time.monotonic() - began, 1)}
        shutil.move(partial, path)
        meta_path.write_text(json.dumps(meta))
    return path, json.loads(meta_path.read_text())


def as_text_filters(body: dict[str, Any]) -> TextFilters:
    apps = None
    if "app" in body:  # the regex "code|term" resolved against the synthetic apps, as the searcher does
        apps = tuple(name for name, _, _ in query_store.APPS if any(p in name.lower() for p in body["app"].split("|")))
    return TextFilters(
        body.get("since_ms"), body.get("until_ms"), apps, body.get("monitor"), body.get("source"), body.get("host")
    )


def run_size(cache: Path, count: int, rounds: int) -> dict[str, Any]:
    path, meta = cached_index(cache, count)
    index = TextIndex(path)
    cases: dict[str, Any] = {}
    try:
        for f in query.filters(int(meta["anchor_ms"])):
            filters = as_text_filters(f.body)
            for q in query.QUERIES[:3]:  # warm-up
                index.search(query_terms(q), filters, DEPTH, adjacency(q))
            seconds, hits = [], []
            for q in query.QUERIES * rounds:
                began = time.perf_counter()
                found = index.search(query_terms(q), filters, DEPTH, adjacency(q))
                seconds.append(time.perf_counter() - began)
                hits.append(len(found))
            cases[f.name] = {**p50_p95(seconds), "hits_mean": float(np.mean(hits))}
    finally:
        index.close()
    disk = path.stat().st_blocks * 512
    return {"records": count, "build_s": meta["build_s"], "bytes_per_record": round(disk / count), "search": cases}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="index sizes, comma-separated (cached once each)")
    parser.add_argument("--rounds", type=int, default=1, help="passes over the 30 queries per case")
    args = entry.parse(parser, argv, SMOKE)
    try:
        args.size_list = [int(n) for n in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes: comma-separated record counts")
    return args


def run(args: argparse.Namespace, _workdir: Path) -> dict[str, Any]:
    cache = ModelCache.of(args).root  # no model: only its cache dir (bench/.cache, or its tiny/ under --smoke)
    cache.mkdir(parents=True, exist_ok=True)
    sizes = [run_size(cache, n, args.rounds) for n in args.size_list]
    for size in sizes:
        print(f"\n{size['records']} records: built in {size['build_s']:.0f} s, {size['bytes_per_record']} B/record")
        rows = [
            [name, f"{c['p50_ms']:.1f}", f"{c['p95_ms']:.1f}", f"{c['hits_mean']:.0f}"]
            for name, c in size["search"].items()
        ]
        print_table(("TextIndex.search, depth 40", "p50 ms", "p95 ms", "hits"), rows)
    return {"bench": "text_index", "sizes": sizes, "machine": machine()}


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
