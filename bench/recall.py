"""Benchmarks finding text-heavy screens by their words: OCR + search recall, changed-region OCR cost, redaction.

Run from the repo root: `python bench/recall.py [--screens N]`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

# `python bench/recall.py` from the repo root: find common.py and screens.py, and the package in daemon/.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "daemon"))

import common
import screens
from screenrecall.config import Config, validate
from screenrecall.encode.runtime import load_runtime
from screenrecall.frames import Pixels
from screenrecall.ingest import collect_jobs, ingest
from screenrecall.lock import ProcessLock
from screenrecall.ocr_engine import Line, OcrEngine, text_of
from screenrecall.pipeline import lock_path
from screenrecall.redact import MASK_PREFIX
from screenrecall.regions import area_fraction, carried_over, changed_regions, read_regions
from screenrecall.search import MODES, Query, Searcher
from screenrecall.store import Store
from screens import Plant, Screen

TARGET_RECALL_AT_5 = 0.95  # the target, on text queries
XDG_CACHE = common.CACHE / "xdg-cache"  # the compiled-model cache the daemon benchmarks share
logger = logging.getLogger("recall")
T = TypeVar("T")
Reading = tuple[Pixels, list[Line]]  # a frame and the lines read on it
# Characters PP-OCR confuses on screen fonts (DejaVu Sans Mono's O and 0 differ by a dot), for the what-if.
CONFUSABLE = {"o": "[o0]", "0": "[0o]", "l": "[l1i|]", "1": "[1li|]", "i": "[il1|]", "s": "[s5]", "5": "[5s]"}


# --- ingest through the real pipeline, then search ----------------------------------------------------------


@contextmanager
def private_home(root: Path) -> Iterator[None]:
    """XDG data/config/runtime dirs under root for this process (paths.py reads os.environ)."""
    names = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME")
    saved = {name: os.environ.get(name) for name in names}
    for name in names[:3]:
        (root / name).mkdir(mode=0o700)
        os.environ[name] = str(root / name)
    os.environ["XDG_CACHE_HOME"] = str(XDG_CACHE)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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
    with ProcessLock(lock_path(config)), Store.open(config.store_dir()) as store:
        for record in store.records(with_text=True):
            ids[Path(record.path).stem], texts[Path(record.path).stem] = record.id, record.text
    return ids, texts


@dataclass
class Outcome:
    plant: Plant
    screen: str
    query: str
    ranks: dict[str, int | None]  # mode -> 1-based rank of the planted screen in the top 5, or None
    ocr_has_it: bool  # the stored text holds the plant (case and whitespace as search ignores them)
    read_as: str  # the closest thing OCR read, when it does not hold it
    folded_hit: bool  # what-if: a confusable-folding match puts it in the top 5 (see CONFUSABLE)
    folded_others: int  # other screens the folding match also takes (its cost in precision)


def normal(text: str) -> str:
    return " ".join(text.lower().split())


def closest(text: str, target: str) -> str:
    """The run of stored words most like the target (as many words as it has)."""
    tokens, n = text.split(), len(target.split())
    grams = [" ".join(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1))]
    found = difflib.get_close_matches(target, grams, n=1, cutoff=0.0)
    return found[0] if found else ""


def folded(term: str) -> re.Pattern[str]:
    """The term as a regex that also takes OCR's usual confusions (O/0, l/1/I, S/5, m/rn)."""
    pieces, rest = [], term.lower()
    while rest:
        if rest.startswith(("rn", "m")):
            pieces.append("(?:rn|m)")
            rest = rest[1 + rest.startswith("rn") :]
        else:
            pieces.append(CONFUSABLE.get(rest[0], re.escape(rest[0])))
            rest = rest[1:]
    return re.compile("".join(pieces))


def folded_hit(term: str, record_id: str, texts: dict[str, str], ids: dict[str, str]) -> tuple[bool, int]:
    """Whether the planted screen matches with few enough others that it is surely in the top 5; the others."""
    pattern = folded(term)
    matching = [ids[name] for name, text in texts.items() if pattern.search(normal(text))]
    return record_id in matching and len(matching) <= 5, len(set(matching) - {record_id})


def run_queries(
    searcher: Searcher, corpus: Sequence[Screen], ids: dict[str, str], texts: dict[str, str]
) -> list[Outcome]:
    outcomes = []
    for screen in corpus:
        record_id, text = ids[screen.name], texts[screen.name]
        for plant in screen.plants:
            query = plant.text if plant.kind == "word" else f'"{plant.text}"'
            ranks: dict[str, int | None] = {}
            for mode in MODES:
                found = [m.record.id for m in searcher.search(Query(text=query, limit=5, mode=mode))]
                ranks[mode] = found.index(record_id) + 1 if record_id in found else None
            has = normal(plant.text) in normal(text)
            read_as = "" if has else closest(text, plant.text)
            fold, others = folded_hit(plant.text, record_id, texts, ids)
            outcomes.append(Outcome(plant, screen.name, query, ranks, has, read_as, fold, others))
    return outcomes


# --- redaction ----------------------------------------------------------------------------------------------


def alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def longest_shared(a: str, b: str) -> int:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def check_secrets(searcher: Searcher, secret_screens: Sequence[Screen], texts: dict[str, str]) -> list[dict[str, Any]]:
    """Per planted secret: leaked whole, leaked in part (a misread near-copy), masked, findable by text search."""
    rows = []
    for screen in secret_screens:
        text = texts[screen.name]
        unmasked = re.sub(r"\[redacted:[a-z]+\]", " ", text)
        for plant in screen.plants:
            query = f'"{plant.text}"' if " " in plant.text else plant.text
            hits = searcher.search(Query(text=query, limit=5, mode="text"))
            shared = longest_shared(alnum(plant.text), alnum(unmasked))
            partly = shared >= max(6, len(alnum(plant.text)) // 2)
            rows.append({
                "kind": plant.kind,
                "secret": plant.text,
                "screen": screen.name,
                "masked": text.count(f"{MASK_PREFIX}{plant.kind}]") >= sum(p.kind == plant.kind for p in screen.plants),
                "leaked": normal(plant.text) in normal(text),
                "partly_leaked": partly,
                "longest_shared_chars": shared,
                "findable": any(plant.text.lower() in m.record.text.lower() for m in hits),
                "read_as": closest(unmasked, plant.text) if partly else "",
            })  # fmt: skip
    return rows


# --- changed-region OCR vs full-frame OCR -------------------------------------------------------------------


def bag(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def jaccard(a: Counter[str], b: Counter[str]) -> float:
    union = sum((a | b).values())
    return sum((a & b).values()) / union if union else 1.0


def glued(lines: Sequence[Line]) -> str:
    """The lines' text without whitespace, in a fixed order: OCR puts spaces differently in a crop."""
    return "".join(sorted(re.sub(r"\s+", "", line.text.lower()) for line in lines))


def changed_read(engine: OcrEngine, previous: Reading, pixels: Pixels) -> tuple[list[Line], float]:
    """What OcrStage._read does for a live frame: the changed regions read in one mosaic, the rest carried over."""
    before, lines = previous
    regions = changed_regions(before, pixels, lines)
    if regions is None:
        return engine.read(pixels), 1.0
    read = carried_over(lines, regions) + read_regions(engine.read, pixels, regions)
    read.sort(key=lambda line: (line.box[1] // 8, line.box[0]))
    return read, area_fraction(regions, pixels.shape[1], pixels.shape[0])


def timed(call: Callable[[], T]) -> tuple[T, float]:
    began = time.perf_counter()
    result = call()
    return result, 1000 * (time.perf_counter() - began)


@dataclass
class Trace:
    full_ms: list[float]
    changed_ms: list[float]
    shares: list[float]
    words: list[float]  # word-level agreement (multiset Jaccard) of the two reads, per frame
    chars: list[float]  # the same, whitespace ignored
    bags: dict[str, Counter[str]]  # full, changed, truth: words over all frames


def ocr_cost(engine: OcrEngine, steps: int) -> dict[str, dict[str, Any]]:
    """Per scripted sequence: both reads of every frame after the first (which both read in full), timed."""
    results = {}
    for name, make in screens.SEQUENCES.items():
        canvases = make(steps)
        first = canvases[0].pixels()
        previous: Reading = (first, engine.read(first))
        seq = Trace([], [], [], [], [], {"full": Counter(), "changed": Counter(), "truth": Counter()})
        for step, canvas in enumerate(canvases[1:]):
            pixels = canvas.pixels()
            by_regions, in_full = partial(changed_read, engine, previous, pixels), partial(engine.read, pixels)
            # Alternate which read goes first, so neither always finds the caches warm.
            if step % 2:
                (full, full_ms), ((lines, share), changed_ms) = timed(in_full), timed(by_regions)
            else:
                ((lines, share), changed_ms), (full, full_ms) = timed(by_regions), timed(in_full)
            seq.full_ms.append(full_ms)
            seq.changed_ms.append(changed_ms)
            seq.shares.append(share)
            full_bag, changed_bag = bag(text_of(full)), bag(text_of(lines))
            seq.words.append(jaccard(full_bag, changed_bag))
            seq.chars.append(difflib.SequenceMatcher(None, glued(full), glued(lines), autojunk=False).ratio())
            for key, value in (("full", full_bag), ("changed", changed_bag), ("truth", bag("\n".join(canvas.texts)))):
                seq.bags[key] += value
            previous = (pixels, lines)
        results[name] = cost_summary(seq)
    return results


def cost_summary(seq: Trace) -> dict[str, Any]:
    def ms(values: list[float]) -> dict[str, float]:
        return {"mean": round(float(np.mean(values)), 1), "p95": round(float(np.percentile(values, 95)), 1)}

    def truth_recall(key: str) -> float:
        return round(sum((seq.bags[key] & seq.bags["truth"]).values()) / sum(seq.bags["truth"].values()), 4)

    return {
        "steps": len(seq.full_ms),
        "full_ms": ms(seq.full_ms),
        "changed_ms": ms(seq.changed_ms),
        "speedup": round(float(np.mean(seq.full_ms) / np.mean(seq.changed_ms)), 2),
        "share_read_mean": round(float(np.mean(seq.shares)), 4),
        "full_fallbacks": sum(share >= 1.0 for share in seq.shares),
        "word_agreement": round(float(np.mean(seq.words)), 4),
        "char_agreement": round(float(np.mean(seq.chars)), 4),
        "truth_word_recall": {"full": truth_recall("full"), "changed": truth_recall("changed")},
    }


# --- the run ------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    model = {"path": str(common.bundles().fp16), "device": "CPU", "cache": True}
    config = validate({"model": model, "ocr": {"enabled": True, "threads": args.ingest_ocr_threads}})
    corpus, secrets = screens.corpus(args.screens), screens.secret_screens()
    logger.info("ingesting %d + %d rendered screens (OCR on)", len(corpus), len(secrets))
    ingest_s = ingest_screens([*corpus, *secrets], root / "screens", config)
    ids, texts = stored(config)
    logger.info("ingested in %.1f s; querying", ingest_s)
    runtime = load_runtime(config.model, config.model_dir(), check_hashes=False)
    with ProcessLock(lock_path(config)), Store.open(config.store_dir()) as store:
        searcher = Searcher(store, runtime)
        began = time.monotonic()
        outcomes = run_queries(searcher, corpus, ids, texts)
        query_s = time.monotonic() - began
        secret_rows = check_secrets(searcher, secrets, texts)
    logger.info("timing full-frame vs changed-region OCR on %d-step sequences", args.steps)
    cost = ocr_cost(OcrEngine(threads=1), args.steps)  # one thread, as the daemon ships
    return {
        "screens": len(corpus),
        "plants": sum(len(s.plants) for s in corpus),
        "ingest_s": round(ingest_s, 1),
        "ingest_ocr_threads": args.ingest_ocr_threads,
        "queries": len(outcomes) * len(MODES),
        "query_s": round(query_s, 1),
        "outcomes": outcomes,
        "secrets": secret_rows,
        "ocr_cost": cost,
    }


# --- the report ---------------------------------------------------------------------------------------------


def recall_at(outcomes: Sequence[Outcome], mode: str, k: int) -> float:
    hits = [(rank := o.ranks[mode]) is not None and rank <= k for o in outcomes]
    return round(sum(hits) / len(hits), 4) if hits else float("nan")


def share(outcomes: Sequence[Outcome], test: Callable[[Outcome], bool]) -> float:
    return round(sum(map(test, outcomes)) / len(outcomes), 4)


def word_kind(text: str) -> str:
    kinds = {"INV-": "invoice no.", "OPS-": "ticket", "db-": "host name"}
    return next((kind for prefix, kind in kinds.items() if text.startswith(prefix)), "name")


def groups(outcomes: Sequence[Outcome]) -> dict[str, list[Outcome]]:
    """The outcomes by font size, family, layout and planted word kind."""
    found: dict[str, list[Outcome]] = {}
    for o in outcomes:
        size = "11-12" if o.plant.size <= 12 else "13-14" if o.plant.size <= 14 else "16-24"
        keys = [f"size {size} px", f"font {o.plant.family}", f"layout {o.plant.layout}"]
        keys += [f"word: {word_kind(o.plant.text)}"] if o.plant.kind == "word" else []
        for key in keys:
            found.setdefault(key, []).append(o)
    return dict(sorted(found.items()))


def print_recall(outcomes: Sequence[Outcome], screens_n: int) -> dict[str, Any]:
    kinds = {kind: [o for o in outcomes if o.plant.kind == kind] for kind in ("word", "phrase")}
    recall = {
        kind: {"n": len(group)} | {f"{mode}@{k}": recall_at(group, mode, k) for mode in MODES for k in (1, 5)}
        for kind, group in {**kinds, "all": list(outcomes)}.items()
    }
    print(f"\nrecall: planted screen's record in the top k moments, {screens_n} screens (visual: random-weight CLIP)")
    columns = [f"{mode}@{k}" for mode in ("text", "hybrid", "visual") for k in (1, 5)]
    rows = [[kind, str(r["n"]), *(f"{r[c]:.3f}" for c in columns)] for kind, r in recall.items()]
    common.print_table(["queries", "n", *columns], rows)
    by = {
        name: {
            "n": len(group),
            "ocr_read": share(group, lambda o: o.ocr_has_it),
            "text@5": recall_at(group, "text", 5),
            "hybrid@5": recall_at(group, "hybrid", 5),
            "folded_text@5": share(group, lambda o: o.folded_hit),
        }
        for name, group in groups(outcomes).items()
    }
    print("\nby group (OCR read: the stored text holds the plant; folded: what-if O/0 l/1/I S/5 m/rn matching)")
    columns = ["ocr_read", "text@5", "hybrid@5", "folded_text@5"]
    common.print_table(
        ["group", "n", *columns], [[g, str(v["n"]), *(f"{v[c]:.3f}" for c in columns)] for g, v in by.items()]
    )
    # Where hybrid puts a screen that text search ranks first: RRF ties with CLIP's own first.
    after_text_first = Counter(str(o.ranks["hybrid"]) for o in outcomes if o.ranks["text"] == 1)
    print(f"hybrid rank of the screens text search ranks 1st: {dict(sorted(after_text_first.items()))}")
    return {
        "recall": recall,
        "by": by,
        "folded_text_at5": share(outcomes, lambda o: o.folded_hit),
        "folded_other_screens_matched": sum(o.folded_others for o in outcomes),
        "hybrid_rank_when_text_first": dict(after_text_first),
    }


def print_misses(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    missed = [o for o in outcomes if o.ranks["text"] is None or o.ranks["hybrid"] is None]
    if missed:
        print("\nmisses: the planted screen not in the text or hybrid top 5 (cause ocr: the stored text lacks it)")
        rows = [
            [o.query, o.screen, str(o.plant.size), o.plant.family, cause(o), o.read_as or "-",
             f"{o.ranks['text']}/{o.ranks['hybrid']}", yes(o.folded_hit)]
            for o in missed
        ]  # fmt: skip
        common.print_table(["query", "screen", "px", "font", "cause", "OCR read", "text/hybrid rank", "folded"], rows)
    return [
        {"query": o.query, "screen": o.screen, "px": o.plant.size, "family": o.plant.family, "ranks": o.ranks,
         "cause": cause(o), "read_as": o.read_as, "folded_hit": o.folded_hit}
        for o in missed
    ]  # fmt: skip


def cause(outcome: Outcome) -> str:
    return "search" if outcome.ocr_has_it else "ocr"


def print_cost(cost: dict[str, dict[str, Any]]) -> None:
    print("\nOCR ms per frame after a small change: full frame vs changed regions (OcrEngine threads = 1)")
    headers = ["sequence", "steps", "full mean/p95", "changed mean/p95", "speed-up", "share read", "full reads"]
    headers += ["words agree", "chars agree", "truth words full/changed"]
    rows = [
        [name, str(c["steps"]), f"{c['full_ms']['mean']:.0f}/{c['full_ms']['p95']:.0f}",
         f"{c['changed_ms']['mean']:.0f}/{c['changed_ms']['p95']:.0f}", f"{c['speedup']:.1f}x",
         f"{c['share_read_mean']:.1%}", str(c["full_fallbacks"]), f"{c['word_agreement']:.1%}",
         f"{c['char_agreement']:.1%}", f"{c['truth_word_recall']['full']:.1%}/{c['truth_word_recall']['changed']:.1%}"]
        for name, c in cost.items()
    ]  # fmt: skip
    common.print_table(headers, rows)


def print_secrets(secrets: Sequence[dict[str, Any]]) -> dict[str, Any]:
    print("\nredaction: planted secrets in the stored text (findable: a text search for the secret returns it)")
    rows = [
        [s["kind"], s["screen"], yes(s["masked"]), yes(s["leaked"]),
         f"{yes(s['partly_leaked'])} ({s['longest_shared_chars']})", yes(s["findable"]), s["read_as"] or "-"]
        for s in secrets
    ]  # fmt: skip
    common.print_table(["kind", "screen", "masked", "leaked", "partly (shared chars)", "findable", "OCR read"], rows)
    counts = {key: sum(bool(s[key]) for s in secrets) for key in ("masked", "leaked", "partly_leaked", "findable")}
    return {"planted": len(secrets), **counts, "secrets": list(secrets)}


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def report(result: dict[str, Any], run_s: float) -> dict[str, Any]:
    outcomes: list[Outcome] = result.pop("outcomes")
    recall = print_recall(outcomes, result["screens"])
    misses = print_misses(outcomes)
    print_cost(result["ocr_cost"])
    redaction = print_secrets(result.pop("secrets"))
    text_at5 = min(recall["recall"][kind]["text@5"] for kind in ("word", "phrase"))
    verdict = "meets" if text_at5 >= TARGET_RECALL_AT_5 else "MISSES"
    print(f"\ntext-query recall@5 (worse of word, phrase) {text_at5:.3f} {verdict} the target {TARGET_RECALL_AT_5}")
    masked, planted, findable = redaction["masked"], redaction["planted"], redaction["findable"]
    print(f"secrets masked {masked}/{planted}, findable by text search {findable}; run {run_s:.0f} s")
    return {
        **result,
        **recall,
        "misses": misses,
        "text_recall_at5": text_at5,
        "target_recall_at5": TARGET_RECALL_AT_5,
        "meets_target": text_at5 >= TARGET_RECALL_AT_5,
        "redaction": redaction,
        "run_s": round(run_s, 1),
        "machine": common.machine(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--screens", type=int, default=60, help="rendered screens with planted words (default 60)")
    parser.add_argument("--steps", type=int, default=8, help="small changes per scripted OCR sequence (default 8)")
    parser.add_argument("--ingest-ocr-threads", type=int, default=2, help="ocr.threads for the ingest (default 2)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    args = parse_args(argv)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="screenrecall-recall-") as tmp, private_home(Path(tmp)):
        result = run(args, Path(tmp))
    common.emit_json(report(result, time.monotonic() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main())
