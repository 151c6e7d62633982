"""`GET /v1/records`: records seen in a time range, newest first, over the real socket of a running App."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from screenrecall.app import App
from tests.support.recall import (
    http_unix,
    private_xdg,
    recall_config,
    running_app,
    schema_problems,
    screen_frame,
    show_frames,
)

MINUTE_MS = 60_000


@dataclass
class Seeded:
    app: App
    socket: Path
    now_ms: int


@pytest.fixture(scope="module")
def seeded(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """Three screen records: monitor 1 at -50 and -20 min, monitor 2 at -5 min."""
    root = tmp_path_factory.mktemp("listing")
    with private_xdg(root / "home"):
        socket = root / "api" / "api.sock"
        with running_app(recall_config(tiny_bundle, {"api": {"socket": str(socket)}})) as app:
            now_ms = int(time.time() * 1000)
            show_frames(
                app,
                [
                    screen_frame("red", now_ms - 50 * MINUTE_MS, 1, app_name="Firefox", title="Old tab"),
                    screen_frame("green", now_ms - 20 * MINUTE_MS, 1, app_name="XTerm", title="make test"),
                    screen_frame("white", now_ms - 5 * MINUTE_MS, 2, app_name="Firefox", title="Docs"),
                ],
            )
            yield Seeded(app, socket, now_ms)


def listing(seeded: Seeded, query: str) -> list[dict[str, object]]:
    reply = http_unix(seeded.socket, "GET", f"/v1/records{query}")
    assert reply.status == 200, reply.text
    records: list[dict[str, object]] = reply.json()["records"]
    return records


def test_lists_every_record_newest_first_with_text_and_schema(seeded: Seeded) -> None:
    records = listing(seeded, "")
    assert [r["window_title"] for r in records] == ["Docs", "make test", "Old tab"]
    for record in records:
        assert schema_problems(record, "Record") == [], record
        assert "text" in record and "embedding" not in record


def test_a_time_range_keeps_records_visible_in_it(seeded: Seeded) -> None:
    since = seeded.now_ms - 30 * MINUTE_MS
    assert [r["window_title"] for r in listing(seeded, f"?since_ms={since}")] == ["Docs", "make test"]
    until = seeded.now_ms - 10 * MINUTE_MS
    assert [r["window_title"] for r in listing(seeded, f"?since_ms={since}&until_ms={until}")] == ["make test"]


def test_monitor_source_and_limit_filter_the_listing(seeded: Seeded) -> None:
    assert [r["window_title"] for r in listing(seeded, "?monitor=1")] == ["make test", "Old tab"]
    assert [r["window_title"] for r in listing(seeded, "?monitor=1&limit=1")] == ["make test"]
    assert listing(seeded, "?source=folder") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?limit=0", "limit must be 1..1000"),
        ("?limit=many", "limit must be an integer"),
        ("?since_ms=20&until_ms=10", "since_ms must be <= until_ms"),
        ("?source=camera", "source must be 'screen' or 'folder'"),
        ("?colour=red", "unknown parameter(s): colour"),
    ],
)
def test_bad_parameters_get_400_naming_them(seeded: Seeded, query: str, message: str) -> None:
    reply = http_unix(seeded.socket, "GET", f"/v1/records{query}")
    assert reply.status == 400
    assert message in reply.text
