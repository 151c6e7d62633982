"""What was on screen lately, per app and window: time spent and the moments, newest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SNIPPET_CHARS = 160
MOMENTS_PER_WINDOW = 8
# A record stays on screen until the next record of its monitor, but no longer than this past its
# last sighting: a gap (pause, idle machine, daemon stopped) is not time spent.
MAX_UNSEEN_MS = 60_000


def snippet(text: str, width: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


@dataclass
class _Window:
    app: str
    title: str
    seconds: float = 0.0
    newest_ms: int = 0
    monitors: set[int] = field(default_factory=set)
    moments: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (last seen ms, moment)


def summarize(records: list[dict[str, Any]], since_ms: int, now_ms: int) -> list[dict[str, Any]]:
    """API records (screen only) -> one entry per (app, window title), most recently seen first."""
    windows: dict[tuple[str, str], _Window] = {}
    by_monitor: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        by_monitor.setdefault(int(record["monitor"]), []).append(record)
    for monitor, shown in by_monitor.items():
        shown.sort(key=lambda r: int(r["captured_at_ms"]))
        for index, record in enumerate(shown):
            following = shown[index + 1]["captured_at_ms"] if index + 1 < len(shown) else None
            end = int(record["last_seen_ms"]) + (MAX_UNSEEN_MS if following is not None else 0)
            if following is not None:
                end = min(end, int(following))
            start = max(int(record["captured_at_ms"]), since_ms)
            end = min(max(end, int(record["last_seen_ms"])), now_ms)
            key = (record.get("app", ""), record.get("window_title", ""))
            window = windows.setdefault(key, _Window(*key))
            window.seconds += max(0, end - start) / 1000
            window.newest_ms = max(window.newest_ms, int(record["last_seen_ms"]))
            window.monitors.add(monitor)
            window.moments.append((int(record["last_seen_ms"]), _moment(record)))
    ordered = sorted(windows.values(), key=lambda w: w.newest_ms, reverse=True)
    return [_window_json(window) for window in ordered]


def _moment(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "time": record["captured_at"],
        "last_seen": record["last_seen"],
        "monitor": record["monitor"],
        "snippet": snippet(record.get("text", "")),
    }


def _window_json(window: _Window) -> dict[str, Any]:
    moments = [moment for _, moment in sorted(window.moments, key=lambda item: item[0], reverse=True)]
    return {
        "app": window.app,
        "window_title": window.title,
        "seconds": round(window.seconds, 1),
        "monitors": sorted(window.monitors),
        "moments": moments[:MOMENTS_PER_WINDOW],
        "more_moments": max(0, len(moments) - MOMENTS_PER_WINDOW),
    }
