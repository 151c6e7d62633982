"""The API's endpoints over its real Unix socket, served by the daemon's own App in this process."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from PIL import Image

from screenrecall.api.client import ApiClient, ApiError
from screenrecall.api.routes import Services, routes
from screenrecall.api.ui_access import UiAccess
from screenrecall.api.ui_routes import ui_routes
from screenrecall.app import App
from tests.support.images import png_declaring
from tests.support.recall import (
    http_unix,
    ingest_files,
    openapi,
    png_of,
    post_json,
    private_xdg,
    recall_config,
    running_app,
    schema_problems,
    screen_frame,
    show_frames,
    solid,
    write_image,
)

MINUTE_MS = 60_000


@dataclass
class Seeded:
    """A running App holding four folder files (3 h, 2 h, 1 h and 6 min old) and two screen records."""

    app: App
    socket: Path
    files: dict[str, Path]
    now_ms: int

    @property
    def client(self) -> ApiClient:
        return ApiClient(self.socket, timeout=30)


@pytest.fixture(scope="module")
def seeded(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """Shared by the read-only tests (the App takes a second to start); it has XDG dirs of its own."""
    root = tmp_path_factory.mktemp("routes")
    with private_xdg(root / "home"):
        socket = root / "api" / "api.sock"
        config = recall_config(tiny_bundle, {"api": {"socket": str(socket)}, "watch": {"max_image_pixels": 100_000}})
        with running_app(config) as app:
            now = time.time()
            pictures = root / "pictures"
            pictures.mkdir()
            ages_h = {"red": 3.0, "green": 2.0, "black": 1.0, "white": 0.1}
            files = {c: write_image(pictures, f"{c}.png", c, now - h * 3600) for c, h in ages_h.items()}
            ingest_files(app, list(files.values()))
            now_ms = int(now * 1000)
            show_frames(
                app,
                [
                    screen_frame(
                        "red", now_ms - 30 * MINUTE_MS, 1, app_name="Firefox", title="Invoice - Mozilla Firefox", mark=1
                    ),
                    screen_frame("green", now_ms - 29 * MINUTE_MS, 2, app_name="XTerm", title="make test", mark=2),
                ],
            )
            yield Seeded(app, socket, files, now_ms)


def name_of(result: dict[str, Any]) -> str:
    """red/green/black/white for the files, screen-1/screen-2 for the screen records."""
    return Path(result["path"]).stem if result["source"] == "folder" else f"screen-{result['monitor']}"


def search(seeded: Seeded, **body: Any) -> list[dict[str, Any]]:
    reply = post_json(seeded.socket, "/v1/search", {"limit": 20, **body})
    assert reply.status == 200, reply.text
    results: list[dict[str, Any]] = reply.json()["results"]
    return results


# --- search ----------------------------------------------------------------------------------


def test_search_by_image_returns_the_stored_file_first_with_score_one(seeded: Seeded) -> None:
    image = base64.b64encode(seeded.files["green"].read_bytes()).decode()
    results = search(seeded, image_b64=image)
    assert name_of(results[0]) == "green"
    assert results[0]["path"] == str(seeded.files["green"].resolve())
    assert results[0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert len(results) == 6


def test_every_result_matches_the_openapi_moment_schema(seeded: Seeded) -> None:
    results = search(seeded, text="an invoice in a browser")
    assert len(results) == 6
    for result in results:
        assert schema_problems(result, "Moment") == [], result
        assert Path(result["thumbnail"]).is_file()
    by_name = {name_of(r): r for r in results}
    red = by_name["red"]
    mtime_ms = int(seeded.files["red"].stat().st_mtime * 1000)
    assert red["captured_at_ms"] == mtime_ms  # a file is remembered at its own mtime
    assert red["captured_at"].startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(mtime_ms / 1000)))
    screen = by_name["screen-1"]
    assert (screen["app"], screen["window_title"], screen["host"]) == (
        "Firefox",
        "Invoice - Mozilla Firefox",
        "testhost",
    )


@pytest.mark.parametrize(
    ("filters", "wanted"),
    [
        ({"since_ms": -90}, {"black", "white", "screen-1", "screen-2"}),
        ({"until_ms": -90}, {"red", "green"}),
        ({"since_ms": -150, "until_ms": -45}, {"green", "black"}),
        ({"app": "fire"}, {"screen-1"}),
        ({"app": "^xterm$"}, {"screen-2"}),
        ({"monitor": 2}, {"screen-2"}),
        ({"source": "folder"}, {"red", "green", "black", "white"}),
        ({"source": "screen"}, {"screen-1", "screen-2"}),
        ({"host": "testhost", "source": "screen", "monitor": 1}, {"screen-1"}),
        ({"host": "elsewhere"}, set()),
    ],
)
def test_each_filter_in_the_body_narrows_the_results(seeded: Seeded, filters: dict[str, Any], wanted: set[str]) -> None:
    # Times are given in minutes before the seed time, turned into epoch ms here.
    body = {k: seeded.now_ms + v * MINUTE_MS if k.endswith("_ms") else v for k, v in filters.items()}
    assert {name_of(r) for r in search(seeded, text="anything", **body)} == wanted


def test_limit_caps_the_number_of_moments(seeded: Seeded) -> None:
    assert len(search(seeded, text="anything", limit=2)) == 2


# --- records, status, documentation ----------------------------------------------------------------


def test_a_record_is_served_with_its_size_thumbnail_and_optionally_its_embedding(seeded: Seeded) -> None:
    found = search(seeded, text="anything", source="folder", since_ms=seeded.now_ms - 30 * MINUTE_MS)
    assert [name_of(r) for r in found] == ["white"]
    record_id = found[0]["id"]
    record = seeded.client.request("GET", f"/v1/records/{record_id}")
    assert schema_problems(record, "Record") == []
    assert (record["id"], record["width"], record["height"]) == (record_id, 160, 100)
    assert "embedding" not in record
    embedding = np.array(seeded.client.request("GET", f"/v1/records/{record_id}?embedding=1")["embedding"])
    assert embedding.shape == (16,) and float(np.linalg.norm(embedding)) == pytest.approx(1.0, abs=1e-4)
    thumbnail = http_unix(seeded.socket, "GET", f"/v1/records/{record_id}/thumbnail")
    assert thumbnail.status == 200 and thumbnail.headers["Content-Type"] == "image/webp"
    with Image.open(io.BytesIO(thumbnail.body)) as image:
        assert image.format == "WEBP"
        assert image.convert("RGB").getpixel((10, 10)) == pytest.approx((255, 255, 255), abs=8)


def test_unknown_records_and_thumbnails_are_404(seeded: Seeded) -> None:
    assert http_unix(seeded.socket, "GET", "/v1/records/000000000000000000000000").status == 404
    assert http_unix(seeded.socket, "GET", "/v1/records/000000000000000000000000/thumbnail").status == 404


def test_status_describes_the_running_daemon(seeded: Seeded) -> None:
    status = seeded.client.request("GET", "/v1/status")
    assert schema_problems(status, "Status") == []
    assert status["running"] is True and status["records"] == 6
    assert status["counters"]["records_added"] == 6


def test_the_served_openapi_document_covers_exactly_the_served_routes(seeded: Seeded) -> None:
    served = seeded.client.request("GET", "/v1/openapi.json")
    assert served == openapi()
    app = seeded.app
    assert app.pipeline is not None and app.searcher is not None
    services = Services(
        app.searcher, app.pipeline.store, app.pause, app.pipeline.writer.forget, app.snapshot, app.broadcaster, 1
    )
    served_routes = [*routes(services), *ui_routes(services, UiAccess())]
    # The API is /v1; /ui/ pages are HTML for the browser, not API.
    api = [r for r in served_routes if isinstance(r, web.RouteDef) and r.path.startswith("/v1/")]
    table = {(r.method.lower(), r.path) for r in api}
    documented = {(method, path) for path, item in served["paths"].items() for method in item}
    assert table == documented


# --- bad requests ------------------------------------------------------------------------------------

RED_PNG = base64.b64encode(png_of(solid("red"))).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"this is not json", "must be a JSON object"),
        (b"[1, 2]", "must be a JSON object"),
        (b"", "must be a JSON object"),
        ({"text": "x", "colour": "red"}, "unknown field(s): colour"),
        ({"text": 5}, "text must be a string"),
        ({"text": "x", "limit": "5"}, "limit must be an integer"),
        ({"text": "x", "limit": True}, "limit must be an integer"),
        ({"text": "x", "limit": 0}, "limit must be 1..200"),
        ({"text": "x", "limit": 201}, "limit must be 1..200"),
        ({"text": "x", "monitor": "1"}, "monitor has the wrong type"),
        ({"text": "x", "monitor": True}, "monitor has the wrong type"),
        ({"text": "x", "since_ms": 1.5}, "since_ms has the wrong type"),
        ({"text": "x", "source": "web"}, "source must be 'screen' or 'folder'"),
        ({"text": "x", "app": "(unclosed"}, "bad --app regex"),
        ({"text": ""}, "the query text is empty"),
        ({"text": "   "}, "the query text is empty"),
        ({}, "exactly one of a text or an image"),
        ({"text": "x", "image_b64": RED_PNG}, "exactly one of a text or an image"),
        ({"image_b64": base64.b64encode(b"plain words, not an image").decode()}, "not a usable image: not an image"),
        ({"image_b64": "%%% not base64 %%%"}, "image_b64 is not base64"),
        ({"image_b64": 12}, "image_b64 must be a base64 string"),
        (
            {"image_b64": base64.b64encode(png_of(solid("red", (400, 300)))).decode()},
            "too large (120000 pixels > limit",
        ),
        ({"image_b64": base64.b64encode(png_declaring(20_000, 20_000)).decode()}, "image"),
    ],
)
def test_a_bad_search_is_a_400_that_says_what_is_wrong(
    seeded: Seeded, body: bytes | dict[str, Any], message: str
) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = http_unix(seeded.socket, "POST", "/v1/search", raw, {"Content-Type": "application/json"})
    assert reply.status == 400, reply.text
    assert message in reply.text


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/v1/forget", {"since_ms": 2000, "until_ms": 1000}, "since <= until"),
        ("/v1/forget", {"since_ms": "1000", "until_ms": 2000}, "epoch milliseconds"),
        ("/v1/forget", {"since_ms": 1000}, "epoch milliseconds"),
        ("/v1/forget", [1000, 2000], "JSON object"),
        ("/v1/pause", {"for_s": -5}, "positive number of seconds"),
        ("/v1/pause", {"for_s": "90"}, "positive number of seconds"),
        ("/v1/pause", {"for_s": 0}, "positive number of seconds"),
    ],
)
def test_bad_forget_and_pause_requests_are_400_and_change_nothing(
    seeded: Seeded, path: str, body: object, message: str
) -> None:
    reply = post_json(seeded.socket, path, body)
    assert reply.status == 400, reply.text
    assert message in reply.text
    status = seeded.client.request("GET", "/v1/status")
    assert status["records"] == 6 and status["paused"] is False


@pytest.mark.parametrize("path", ["/v1/search", "/v1/pause", "/v1/resume", "/v1/forget"])
def test_state_changing_endpoints_refuse_get(seeded: Seeded, path: str) -> None:
    reply = http_unix(seeded.socket, "GET", path)
    assert reply.status == 405
    assert reply.headers["Allow"] == "POST"


def test_the_client_reports_a_refusal_with_its_status_and_message(seeded: Seeded) -> None:
    with pytest.raises(ApiError, match="400 the query text is empty"):
        seeded.client.request("POST", "/v1/search", {"text": ""})


# --- pause and forget (each on an App of its own) ----------------------------------------------------


@pytest.fixture
def fresh(tiny_bundle: Path) -> Iterator[App]:
    with running_app(recall_config(tiny_bundle)) as app:
        yield app


def test_pause_for_a_while_then_resume(fresh: App) -> None:
    client = ApiClient(fresh.config.socket_path())
    before_ms = int(time.time() * 1000)
    paused = client.request("POST", "/v1/pause", {"for_s": 90})
    assert paused["paused"] is True
    assert before_ms + 89_000 <= paused["until_ms"] <= int(time.time() * 1000) + 90_000
    assert client.request("GET", "/v1/status")["paused"] is True
    assert fresh.pause.state().paused  # the switch the sampler reads
    assert client.request("POST", "/v1/resume") == {"paused": False}
    assert client.request("GET", "/v1/status")["paused"] is False
    indefinite = http_unix(fresh.config.socket_path(), "POST", "/v1/pause")  # no body: until resumed
    assert indefinite.status == 200 and indefinite.json() == {"paused": True, "until_ms": None}
    assert fresh.pause.state().paused


def test_forget_removes_the_records_and_thumbnails_of_the_range_only(fresh: App, tmp_path: Path) -> None:
    now = time.time()
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    ages_h = {"red": 3.0, "green": 2.0, "black": 1.0, "white": 0.1}
    files = {c: write_image(pictures, f"{c}.png", c, now - h * 3600) for c, h in ages_h.items()}
    ingest_files(fresh, list(files.values()))
    client = ApiClient(fresh.config.socket_path())
    before = {name_of(r): r for r in client.request("POST", "/v1/search", {"text": "x", "limit": 20})["results"]}
    assert set(before) == set(files)
    now_ms = int(now * 1000)
    answer = client.request(
        "POST", "/v1/forget", {"since_ms": now_ms - 150 * MINUTE_MS, "until_ms": now_ms - 90 * MINUTE_MS}
    )
    assert answer == {"forgotten": 1}
    after = {name_of(r) for r in client.request("POST", "/v1/search", {"text": "x", "limit": 20})["results"]}
    assert after == {"red", "black", "white"}
    assert not Path(before["green"]["thumbnail"]).exists()
    assert all(Path(before[c]["thumbnail"]).is_file() for c in after)
    assert http_unix(fresh.config.socket_path(), "GET", f"/v1/records/{before['green']['id']}").status == 404
    assert client.request("GET", "/v1/status")["records"] == 3
