"""Timing: paths under test that take turns in rounds, measurements, percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Measurement:
    path: str
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.seconds / self.frames if self.frames else 0.0


@dataclass(frozen=True)
class Subject:
    """One path under test: step(i) processes call number i; finish() drains what is in flight."""

    name: str
    step: Callable[[int], None]
    finish: Callable[[], None] | None = None


def measure(subject: Subject, *, frames: int, seconds: float, start: int = 0) -> Measurement:
    """Calls step(start), step(start + 1), ... until at least `frames` calls AND `seconds` have passed.

    The step maps the call number to a frame (usually number % len(frames)); finish() (e.g. waiting
    for in-flight inferences) is inside the timed region.
    """
    done = 0
    began = time.perf_counter()
    while done < frames or time.perf_counter() - began < seconds:
        subject.step(start + done)
        done += 1
    if subject.finish is not None:
        subject.finish()
    return Measurement(subject.name, done, time.perf_counter() - began)


def warm_up(subject: Subject, *, frames: int = 2, seconds: float = 0.0) -> None:
    """Untimed calls, numbered below zero so result collectors can tell them apart, then finish()."""
    measure(subject, frames=frames, seconds=seconds, start=-1_000_000)


def interleaved(
    subjects: Sequence[Subject], *, rounds: int, frames: int, seconds: float, warmup_s: float = 3.0
) -> dict[str, list[Measurement]]:
    """Measures the subjects in turn, `rounds` times, each continuing where its last round stopped.

    On a shared or throttling machine the speed drifts over a run; taking turns exposes every path to
    the same drift, so the ratios between them stay meaningful. Each subject makes at least `frames`
    calls and runs at least `seconds` in total. Each is warmed up first (PyTorch's first few calls
    take seconds), and re-settled with two untimed calls before each round, since the first call
    after another path ran is slower (caches, memory taken back).
    """
    per_round = -(-frames // rounds)
    results: dict[str, list[Measurement]] = {subject.name: [] for subject in subjects}
    for subject in subjects:
        warm_up(subject, frames=3, seconds=warmup_s)
    for _ in range(rounds):
        for subject in subjects:
            done = results[subject.name]
            start = sum(m.frames for m in done)
            warm_up(subject)
            done.append(measure(subject, frames=per_round, seconds=seconds / rounds, start=start))
    return results


def total(measurements: Sequence[Measurement]) -> Measurement:
    return Measurement(measurements[0].path, sum(m.frames for m in measurements), sum(m.seconds for m in measurements))


def discard(_value: object) -> None:
    """A Subject step that must return None: drops what the timed call returned."""
    return None


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def p50_p95(values_s: Sequence[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum in milliseconds."""
    ms = [1000.0 * v for v in values_s]
    return {"p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1), "max_ms": round(max(ms, default=0), 1)}


def cosine(a: NDArray[np.floating[Any]], b: NDArray[np.floating[Any]]) -> float:
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
