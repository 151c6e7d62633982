"""recent_activity's summary: time per window from consecutive records of a monitor, newest window first."""

from __future__ import annotations

from typing import Any

from screenrecall.agents.activity import MAX_UNSEEN_MS, MOMENTS_PER_WINDOW, snippet, summarize

S = 1000


def record(
    record_id: str, at_s: float, seen_s: float, *, monitor: int = 1, app: str = "XTerm", title: str = "shell"
) -> dict[str, Any]:
    return {
        "id": record_id,
        "captured_at_ms": int(at_s * S),
        "last_seen_ms": int(seen_s * S),
        "captured_at": f"t{at_s}",
        "last_seen": f"t{seen_s}",
        "monitor": monitor,
        "app": app,
        "window_title": title,
        "text": f"text of {record_id}",
    }


def test_a_record_counts_until_the_next_record_of_its_monitor() -> None:
    windows = summarize(
        [record("a", 0, 10), record("b", 30, 40, app="Firefox", title="docs")], since_ms=0, now_ms=100 * S
    )
    assert [(w["window_title"], w["seconds"]) for w in windows] == [("docs", 10.0), ("shell", 30.0)]


def test_a_gap_after_the_last_sighting_is_not_time_spent() -> None:
    # Seen until 10 s, the next record only at 1000 s (paused, idle): at most a minute past the sighting.
    windows = summarize([record("a", 0, 10), record("b", 1000, 1000, title="later")], since_ms=0, now_ms=2000 * S)
    shell = next(w for w in windows if w["window_title"] == "shell")
    assert shell["seconds"] == 10 + MAX_UNSEEN_MS / S


def test_time_before_the_window_and_monitors_apart_are_handled() -> None:
    windows = summarize(
        [record("a", 0, 50), record("b", 20, 60, monitor=2, title="shell")], since_ms=40 * S, now_ms=60 * S
    )
    assert windows == [
        {
            "app": "XTerm",
            "window_title": "shell",
            "seconds": 30.0,  # 10 s of a (from 40 s) and 20 s of b (from 40 s)
            "monitors": [1, 2],
            "moments": [
                {"id": "b", "time": "t20", "last_seen": "t60", "monitor": 2, "snippet": "text of b"},
                {"id": "a", "time": "t0", "last_seen": "t50", "monitor": 1, "snippet": "text of a"},
            ],
            "more_moments": 0,
        }
    ]


def test_a_busy_window_lists_its_newest_moments_and_counts_the_rest() -> None:
    records = [record(str(i), i * 10, i * 10 + 5) for i in range(MOMENTS_PER_WINDOW + 3)]
    (window,) = summarize(records, since_ms=0, now_ms=10_000 * S)
    assert [m["id"] for m in window["moments"]][:2] == [str(MOMENTS_PER_WINDOW + 2), str(MOMENTS_PER_WINDOW + 1)]
    assert len(window["moments"]) == MOMENTS_PER_WINDOW and window["more_moments"] == 3


def test_snippets_are_one_line_and_bounded() -> None:
    assert snippet("a\n  b\tc") == "a b c"
    long = snippet("word " * 100, width=20)
    assert len(long) <= 20 and long.endswith("…")
