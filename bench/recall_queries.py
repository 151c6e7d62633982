"""The recall benchmark's queries: where search ranks each planted screen in every mode, what OCR read
instead when it missed, a what-if for OCR's usual confusions, and whether planted secrets leaked."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from screenrecall.ocr.redact import MASK_PREFIX
from screenrecall.recall.search import MODES, Query, Searcher
from tests.support.screens.corpus import Screen
from tests.support.screens.layouts import Plant

# Characters PP-OCR confuses on screen fonts (DejaVu Sans Mono's O and 0 differ by a dot), for the what-if.
CONFUSABLE = {"o": "[o0]", "0": "[0o]", "l": "[l1i|]", "1": "[1li|]", "i": "[il1|]", "s": "[s5]", "5": "[5s]"}


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
