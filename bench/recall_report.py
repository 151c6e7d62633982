"""The recall benchmark's report: recall per query kind and mode, by group, the misses and their
causes, the OCR cost table, redaction; the JSON summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from bench.harness.report import machine, print_table
from bench.recall_queries import Outcome
from screenrecall.recall.search import MODES

TARGET_RECALL_AT_5 = 0.95  # the target, on text queries


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
    print_table(["queries", "n", *columns], rows)
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
    print_table(["group", "n", *columns], [[g, str(v["n"]), *(f"{v[c]:.3f}" for c in columns)] for g, v in by.items()])
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
        print_table(["query", "screen", "px", "font", "cause", "OCR read", "text/hybrid rank", "folded"], rows)
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
    print_table(headers, rows)


def print_secrets(secrets: Sequence[dict[str, Any]]) -> dict[str, Any]:
    print("\nredaction: planted secrets in the stored text (findable: a text search for the secret returns it)")
    rows = [
        [s["kind"], s["screen"], yes(s["masked"]), yes(s["leaked"]),
         f"{yes(s['partly_leaked'])} ({s['longest_shared_chars']})", yes(s["findable"]), s["read_as"] or "-"]
        for s in secrets
    ]  # fmt: skip
    print_table(["kind", "screen", "masked", "leaked", "partly (shared chars)", "findable", "OCR read"], rows)
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
        "machine": machine(),
    }
