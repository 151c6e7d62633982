"""The soak benchmark's figures: its samples (one Row each, samples.csv), steady RSS in the still
stretches of the first and last 10 minutes, the drift between them, a line a cycle, CPU shares."""

from __future__ import annotations

import csv
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGET_DRIFT_PERCENT = 5.0
WINDOW_S = 600.0  # the first and last 10 minutes
READER_MB = 50.0  # a child this big is a live OCR reader (one that exited and is not yet reaped shows 0)


@dataclass(frozen=True)
class Row:
    t_s: float  # since sampling began
    cycle: int
    phase: str
    phase_s: float  # seconds into the phase
    rss_mb: float  # the daemon and its children
    daemon_mb: float  # the daemon alone
    cpu_s: float  # their CPU seconds so far
    processes: int
    records_added: int  # from status.json (-1 before the first status)


_TYPES: dict[str, Any] = {"t_s": float, "cycle": int, "phase": str, "phase_s": float, "rss_mb": float,
                          "daemon_mb": float, "cpu_s": float, "processes": int, "records_added": int}  # fmt: skip


def steady(rows: Sequence[Row], lo: float, hi: float, settle_s: float) -> dict[str, Any]:
    """Median RSS in the still stretches between lo and hi s, settle_s into each: of the tree, of the
    daemon alone, and of the tree while the OCR reader was alive (its lifetime follows how long the
    last activity takes to read, i.e. the machine's load). A window with no still stretch (--smoke)
    takes all its samples."""
    window = [r for r in rows if lo <= r.t_s < hi]
    still = [r for r in window if r.phase == "idle" and r.phase_s >= settle_s] or window
    up = [r.rss_mb for r in still if r.rss_mb - r.daemon_mb > READER_MB]
    return {
        "tree_mb": statistics.median(r.rss_mb for r in still),
        "daemon_mb": statistics.median(r.daemon_mb for r in still),
        "reader_up_tree_mb": statistics.median(up) if up else float("nan"),
        "samples": len(still),
        "reader_up": len(up),
    }


def memory_summary(rows: Sequence[Row], settle_s: float) -> dict[str, Any]:
    """Steady RSS of the first and last WINDOW_S (a third of a shorter run) and the drift between them."""
    span = rows[-1].t_s
    window = min(WINDOW_S, span / 3)
    first, last = steady(rows, 0.0, window, settle_s), steady(rows, span - window, span + 1, settle_s)
    drift = {key: round(100.0 * (last[key] - first[key]) / first[key], 2) for key in first if key.endswith("_mb")}
    peak = max(rows, key=lambda r: r.rss_mb)
    return {
        "minutes": round(span / 60, 2),
        "window_min": round(window / 60, 2),
        "rss_start_mb": rows[0].rss_mb,
        "steady_first": {k: round(v, 1) for k, v in first.items()},
        "steady_last": {k: round(v, 1) for k, v in last.items()},
        "drift_percent": drift,
        # A leak shows in the daemon, which lives all along; the reader is a new process every few minutes.
        "meets_drift": abs(drift["daemon_mb"]) < TARGET_DRIFT_PERCENT,
        "peak_mb": peak.rss_mb,
        "peak_at_min": round(peak.t_s / 60, 2),
        "cpu_percent": round(cpu_percent(rows), 2),
        "cpu_percent_still": round(cpu_percent(rows, still=True), 2),
        "cpu_percent_activity": round(cpu_percent(rows, still=False), 2),
    }


def curve(rows: Sequence[Row], settle_s: float) -> list[dict[str, Any]]:
    """One line a cycle: the daemon's median in its still stretch, the tree's and the reader's largest."""
    out = []
    for cycle in sorted({r.cycle for r in rows} - {-1}):
        mine = [r for r in rows if r.cycle == cycle]
        still = [r.daemon_mb for r in mine if r.phase == "idle" and r.phase_s >= settle_s] or [mine[-1].daemon_mb]
        out.append({
            "cycle": cycle,
            "minute": round(mine[0].t_s / 60, 1),
            "daemon_still_mb": round(statistics.median(still), 1),
            "tree_max_mb": max(r.rss_mb for r in mine),
            "reader_max_mb": round(max(r.rss_mb - r.daemon_mb for r in mine), 1),
            "records_added": mine[-1].records_added,
        })  # fmt: skip
    return out


def memory_table(summary: dict[str, Any]) -> list[list[str]]:
    first, last, drift = summary["steady_first"], summary["steady_last"], summary["drift_percent"]
    rows = [["RSS at start (API up), MB", f"{summary['rss_start_mb']:.0f}", "", ""]]
    for key, what in (("tree_mb", "all still samples"), ("daemon_mb", "the daemon alone"),
                      ("reader_up_tree_mb", "while the OCR reader was alive")):  # fmt: skip
        rows.append([f"steady, {what}, MB", f"{first[key]:.0f}", f"{last[key]:.0f}", f"{drift[key]:+.2f}"])
    rows.append(["still samples (reader alive)", f"{first['samples']} ({first['reader_up']})",
                 f"{last['samples']} ({last['reader_up']})", ""])  # fmt: skip
    rows.append([f"peak, MB (at min {summary['peak_at_min']:.1f})", f"{summary['peak_mb']:.0f}", "", ""])
    cpu = [f"{summary[k]:.1f}" for k in ("cpu_percent", "cpu_percent_still", "cpu_percent_activity")]
    rows.append(["CPU, % of one core: all / still / activity", " / ".join(cpu), "", ""])
    return rows


def cpu_percent(rows: Sequence[Row], still: bool | None = None) -> float:
    """Share of one core between consecutive samples: all, or only those both in (or both out of) still stretches."""
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(rows)
        if still is None or (a.phase == "idle") == (b.phase == "idle") == still
    ]
    seconds = sum(b.t_s - a.t_s for a, b in pairs)
    return 100.0 * sum(b.cpu_s - a.cpu_s for a, b in pairs) / seconds if seconds else float("nan")


def load(samples_csv: Path) -> list[Row]:
    """The rows of a run's samples.csv (to summarise a run again)."""
    with samples_csv.open(encoding="utf-8") as f:
        return [Row(**{key: _TYPES[key](value) for key, value in row.items()}) for row in csv.DictReader(f)]
