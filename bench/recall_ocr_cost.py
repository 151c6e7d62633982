"""The recall benchmark's OCR cost: full-frame vs changed-region OCR on scripted sequences, one small
change per step, read the way OcrStage reads a live frame."""

from __future__ import annotations

import difflib
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np

from screenrecall.ocr.engine import Line, OcrEngine, text_of
from screenrecall.ocr.regions import area_fraction, carried_over, changed_regions, read_regions
from screenrecall.pipeline.messages import Pixels
from tests.support.screens.sequences import SEQUENCES

T = TypeVar("T")
Reading = tuple[Pixels, list[Line]]  # a frame and the lines read on it


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
    for name, make in SEQUENCES.items():
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
