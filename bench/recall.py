"""Benchmarks finding text-heavy screens by their words: OCR + search recall, changed-region OCR cost, redaction.

Run from the repo root: `python -m bench.recall [--screens N]`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from bench.harness import entry
from bench.harness.home import private_home
from bench.harness.model import ModelCache
from bench.recall_ocr_cost import ocr_cost
from bench.recall_queries import check_secrets, run_queries
from bench.recall_report import report
from screenrecall.config import Config, validate
from screenrecall.encode.runtime import load_runtime
from screenrecall.ocr.engine import OcrEngine
from screenrecall.pipeline.ingest import collect_jobs, ingest
from screenrecall.recall.search import MODES, Searcher
from screenrecall.store.chroma import Store
from screenrecall.store.lock import ProcessLock
from tests.support.screens.corpus import Screen, corpus
from tests.support.screens.secret_screens import secret_screens

# The one-frame run a test makes (see bench/harness/entry.py): one screen, one secret screen, one step.
SMOKE = {"screens": 1, "secret_screens": 1, "steps": 1}
logger = logging.getLogger("bench.recall")  # not __name__: that is __main__ under python -m


def ingest_screens(all_screens: Sequence[Screen], folder: Path, config: Config) -> float:
    """Writes PNGs and runs `screenrecall ingest` in this process (OCR on); returns its seconds."""
    folder.mkdir()
    for screen in all_screens:
        Image.fromarray(screen.pixels).save(folder / f"{screen.name}.png", compress_level=1)
    jobs = collect_jobs([folder], config.watch.extensions)
    began = time.monotonic()
    result = ingest(config, jobs, progress=lambda _: None)
    if result.stored != len(all_screens):
        raise RuntimeError(f"ingest stored {result.stored} of {len(all_screens)} screens ({result.rejected} rejected)")
    return time.monotonic() - began


def stored(config: Config) -> tuple[dict[str, str], dict[str, str]]:
    """Screen name -> record id, and -> the stored (redacted) OCR text."""
    ids, texts = {}, {}
    with ProcessLock(config.lock_path()), Store.open(config.store_dir()) as store:
        for record in store.records(with_text=True):
            ids[Path(record.path).stem], texts[Path(record.path).stem] = record.id, record.text
    return ids, texts


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Ingests the rendered screens in this process (private XDG dirs), queries them, times OCR."""
    began = time.monotonic()
    model = ModelCache.of(args)
    with private_home(workdir / "home", model.xdg_cache):
        result = measure(args, model.fp16(), workdir)
    return report(result, time.monotonic() - began)


def measure(args: argparse.Namespace, bundle: Path, workdir: Path) -> dict[str, Any]:
    model = {"path": str(bundle), "device": "CPU", "cache": True}
    config = validate({"model": model, "ocr": {"enabled": True, "threads": args.ingest_ocr_threads}})
    screens, secrets = corpus(args.screens), secret_screens()[: args.secret_screens]
    logger.info("ingesting %d + %d rendered screens (OCR on)", len(screens), len(secrets))
    ingest_s = ingest_screens([*screens, *secrets], workdir / "screens", config)
    ids, texts = stored(config)
    logger.info("ingested in %.1f s; querying", ingest_s)
    runtime = load_runtime(config.model, config.model_dir(), check_hashes=False)
    with ProcessLock(config.lock_path()), Store.open(config.store_dir()) as store:
        searcher = Searcher(store, runtime)
        began = time.monotonic()
        outcomes = run_queries(searcher, screens, ids, texts)
        query_s = time.monotonic() - began
        secret_rows = check_secrets(searcher, secrets, texts)
    logger.info("timing full-frame vs changed-region OCR on %d-step sequences", args.steps)
    cost = ocr_cost(OcrEngine(threads=1), args.steps)  # one thread, as the daemon ships
    return {
        "bench": "recall",
        "screens": len(screens),
        "plants": sum(len(s.plants) for s in screens),
        "ingest_s": round(ingest_s, 1),
        "ingest_ocr_threads": args.ingest_ocr_threads,
        "queries": len(outcomes) * len(MODES),
        "query_s": round(query_s, 1),
        "outcomes": outcomes,
        "secrets": secret_rows,
        "ocr_cost": cost,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--screens", type=int, default=60, help="rendered screens with planted words (default 60)")
    parser.add_argument("--secret-screens", type=int, default=4, help="screens with planted secrets (at most 4)")
    parser.add_argument("--steps", type=int, default=8, help="small changes per scripted OCR sequence (default 8)")
    parser.add_argument("--ingest-ocr-threads", type=int, default=2, help="ocr.threads for the ingest (default 2)")
    args = entry.parse(parser, argv, SMOKE)
    if args.screens < 1 or not 1 <= args.secret_screens <= 4 or args.steps < 1 or args.ingest_ocr_threads < 1:
        parser.error("--screens, --steps, --ingest-ocr-threads >= 1; 1 <= --secret-screens <= 4")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
