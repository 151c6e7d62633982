"""Precision and recall of secret redaction, per kind, on the labelled corpus (tests/data/redaction_corpus.tsv).

Run from the repo root: `python -m bench.redaction`. Prints a Markdown table, then the misses and false
masks, and as the last line JSON.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import entry
from tests.support.redaction_corpus import load, score

SMOKE: dict[str, Any] = {}  # the corpus is small: the smoke run is the whole run


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    del args, workdir
    cases = load()
    scores = score(cases)
    print(f"{len(cases)} lines ({sum(c.kind == '-' for c in cases)} with nothing to mask)\n")
    print("| kind | lines | found | precision | recall |")
    print("| --- | --- | --- | --- | --- |")
    for kind, s in scores.items():
        lines = s.found + len(s.missed)
        print(f"| {kind} | {lines} | {s.found} | {s.precision:.3f} | {s.recall:.3f} |")
    for kind, s in scores.items():
        for line in s.missed:
            print(f"missed {kind}: {line!r}")
        for line in s.wrong:
            print(f"false {kind} mask: {line!r}")
    kinds = {k: {"precision": round(s.precision, 3), "recall": round(s.recall, 3)} for k, s in scores.items()}
    return {"bench": "redaction", "lines": len(cases), "kinds": kinds}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    return entry.parse(entry.parser(__doc__), argv, SMOKE)


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    raise SystemExit(main())
