"""The web UI's access rules and the endpoints it uses, over the real loopback listener of a running App."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image

from screenrecall.pipeline.messages import Pixels
from tests.support.daemon import wait_until
from tests.support.recall import http_tcp, http_unix, schema_problems
from tests.support.webui import SCREENS, Browserless, Seeded, log_in, login_link, seeded_app, spend, text_screen


@pytest.fixture(scope="module")
def seeded(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with seeded_app(tiny_bundle, tmp_path_factory.mktemp("ui")) as app:
        yield app


@pytest.fixture(scope="module")
def browser(seeded: Seeded) -> Browserless:
    return log_in(seeded)


def screen_of(minutes_ago: int, monitor: int) -> Pixels:
    for ago, mon, _app, title, lines, colour in SCREENS:
        if (ago, mon) == (minutes_ago, monitor):
            return text_screen(title, lines, colour)
    raise KeyError((minutes_ago, monitor))


# --- logging in --------------------------------------------------------------------------------


def test_a_login_link_is_handed_out_on_the_unix_socket_and_opens_a_loopback_listener(seeded: Seeded) -> None:
    url = urlsplit(login_link(seeded))
    assert url.scheme == "http" and url.hostname == "127.0.0.1" and url.port
    assert url.path == "/ui/login" and len(parse_qs(url.query)["code"][0]) >= 32
    assert login_link(seeded).split("?")[0] == url.geturl().split("?")[0]  # the listener is reused


def test_a_login_link_cannot_be_had_over_tcp(seeded: Seeded, browser: Browserless) -> None:
    assert http_tcp(browser.port, "POST", "/v1/ui/login-link").status == 401
    assert browser.post("/v1/ui/login-link", {}).status == 403


def test_the_login_page_only_shows_a_form_and_spending_the_code_sets_a_strict_http_only_cookie(seeded: Seeded) -> None:
    url = urlsplit(login_link(seeded))
    assert url.port is not None
    page = http_tcp(url.port, "GET", f"{url.path}?{url.query}")
    assert page.status == 200 and 'method="post"' in page.text and "Set-Cookie" not in page.headers
    code = parse_qs(url.query)["code"][0]
    reply = spend(url.port, code)
    assert reply.status == 303 and reply.headers["Location"] == "/ui/search"
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert spend(url.port, code).status == 401  # a code works once
    assert spend(url.port, "made-up").status == 401


def test_pages_and_api_need_a_session_or_the_token(browser: Browserless) -> None:
    page = http_tcp(browser.port, "GET", "/ui/search")
    assert page.status == 401 and "screenrecall ui" in page.text
    assert http_tcp(browser.port, "GET", "/v1/status").status == 401
    assert http_tcp(browser.port, "GET", "/v1/status", headers={"Cookie": f"{browser.cookie}x"}).status == 401
    assert browser.get("/v1/status").status == 200
    assert http_tcp(browser.port, "GET", "/ui/static/ui.css").status == 200  # no data in static files


def test_state_changes_need_the_csrf_token(browser: Browserless, seeded: Seeded) -> None:
    assert browser.post("/v1/pause", {}, csrf=False).status == 403
    wrong = {"X-CSRF-Token": "nope"}
    assert browser.post("/v1/pause", {}, csrf=False, headers=wrong).status == 403
    assert not seeded.app.pause.state().paused
    reply = browser.post("/v1/pause", {"for_s": 900})
    assert reply.status == 200 and seeded.app.pause.state().paused
    assert browser.get("/v1/ui/overview").json()["paused_until_ms"] > time.time() * 1000
    assert browser.post("/v1/resume", {}).status == 200 and not seeded.app.pause.state().paused


def test_no_state_changes_by_get(browser: Browserless, seeded: Seeded) -> None:
    for path in ("/v1/pause", "/v1/resume", "/v1/forget", "/ui/logout"):
        assert browser.get(path).status == 405
    assert not seeded.app.pause.state().paused


def test_foreign_host_or_origin_is_refused_even_with_a_session(browser: Browserless) -> None:
    assert browser.get("/v1/status", {"Host": f"evil.example:{browser.port}"}).status == 403
    assert browser.get("/ui/search", {"Host": f"evil.example:{browser.port}"}).status == 403
    assert browser.post("/v1/pause", {}, headers={"Origin": "http://evil.example"}).status == 403
    ours = browser.post("/v1/resume", {}, headers={"Origin": f"http://127.0.0.1:{browser.port}"})
    assert ours.status == 200


def test_answers_carry_no_cors_and_a_strict_content_security_policy(browser: Browserless) -> None:
    page = browser.get("/ui/search", {"Origin": f"http://127.0.0.1:{browser.port}"})
    assert page.status == 200
    assert not [h for h in page.headers if h.lower().startswith("access-control-")]
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    assert 'content="' + browser.csrf + '"' in page.text


def test_the_page_references_only_its_own_files(browser: Browserless) -> None:
    page = browser.get("/ui/timeline").text
    assert "http://" not in page and "https://" not in page
    for name in ("app.js", "core.js", "search.js", "timeline.js", "moment.js", "status.js", "frame.js", "ui.css"):
        asset = browser.get(f"/ui/static/{name}")
        assert asset.status == 200, name
        assert b"https://" not in asset.body and b"http://" not in asset.body, name
    assert browser.get("/ui/static/../routes.py").status == 404


# --- the data the UI shows -------------------------------------------------------------------------


def test_the_timeline_lists_a_range_in_time_order_with_the_gap_length(browser: Browserless, seeded: Seeded) -> None:
    since, until = seeded.now_ms - 90 * 60_000, seeded.now_ms
    reply = browser.get(f"/v1/timeline?since_ms={since}&until_ms={until}")
    assert reply.status == 200, reply.text
    data = reply.json()
    times = [r["captured_at_ms"] for r in data["records"]]
    assert [schema_problems(r, "TimelineEntry") for r in data["records"]] == [[]] * len(times)
    assert times == sorted(times) and len(times) == len(SCREENS)
    assert data["gap_ms"] > 0 and not data["truncated"]
    one = browser.get(f"/v1/timeline?since_ms={since}&until_ms={until}&monitor=2").json()["records"]
    assert [(r["monitor"], r["app"]) for r in one] == [(2, "Thunderbird")]
    assert browser.get(f"/v1/timeline?since_ms={until}&until_ms={since}").status == 400
    assert browser.get("/v1/timeline?since_ms=x&until_ms=1").status == 400


def test_a_records_readable_frame_is_the_full_screen_exactly(browser: Browserless, seeded: Seeded) -> None:
    for (monitor, ago), record_id in seeded.ids.items():
        layout = browser.get(f"/v1/records/{record_id}/frame").json()
        assert schema_problems(layout, "FrameLayout") == []
        assert (layout["width"], layout["height"]) == (1280, 720)
        key = browser.get(layout["key_url"])
        assert key.status == 200 and key.headers["Content-Type"] == "image/webp"
        assert key.headers["Cache-Control"] == "no-store"
        png = browser.get(f"/v1/records/{record_id}/frame/png")
        shown = np.asarray(Image.open(io.BytesIO(png.body)).convert("RGB"))
        assert np.array_equal(shown, screen_of(ago, monitor)), (monitor, ago)


def test_a_later_frame_of_a_monitor_is_stored_as_tiles_over_its_keyframe(browser: Browserless, seeded: Seeded) -> None:
    layout = browser.get(f"/v1/records/{seeded.ids[(1, 68)]}/frame").json()
    assert layout["key"].startswith(seeded.ids[(1, 70)])
    assert 0 < len(layout["tiles"]) < 20 and layout["atlas_url"]
    atlas = browser.get(layout["atlas_url"])
    assert atlas.headers["Content-Type"] == "image/webp"
    assert base64.b64decode(layout["atlas_b64"]) == atlas.body  # small atlases ride in the layout


def test_frame_endpoints_refuse_unknown_or_malformed_ids(browser: Browserless) -> None:
    assert browser.get("/v1/records/0123456789abcdef01234567/frame").status == 404
    assert browser.get("/v1/records/..%2F..%2Fetc/frame").status == 404
    assert browser.get("/v1/records/0123456789abcdef01234567/frame/key").status == 404


def test_the_overview_says_what_is_excluded_and_the_budget(browser: Browserless) -> None:
    data = browser.get("/v1/ui/overview").json()
    assert schema_problems(data, "Overview") == []
    assert data["exclude_apps"] == [] and data["budget_gb"] == 10.0 and data["frames_bytes"] > 0


def test_search_works_for_a_logged_in_browser(browser: Browserless) -> None:
    reply = browser.post("/v1/search", {"text": "invoice", "limit": 5})
    assert reply.status == 200 and reply.json()["results"]


def test_forgetting_a_moment_removes_its_frame_files(tiny_bundle: Path, tmp_path: Path) -> None:
    with seeded_app(tiny_bundle, tmp_path / "forget") as seeded:
        session = log_in(seeded)
        frames = seeded.app.pipeline.frames if seeded.app.pipeline else None
        assert frames is not None
        record_id = seeded.ids[(2, 60)]
        assert frames.path(record_id).exists()
        at = seeded.now_ms - 60 * 60_000
        reply = session.post("/v1/forget", {"since_ms": at, "until_ms": at})
        assert reply.status == 200 and reply.json()["forgotten"] == 1
        assert not frames.path(record_id).exists()
        assert session.get(f"/v1/records/{record_id}/frame").status == 404
        remaining = {p.name for p in frames.root.rglob("*") if p.is_file()}
        assert not any(record_id in name for name in remaining)
        assert http_unix(seeded.socket, "GET", f"/v1/records/{record_id}").status == 404


def test_the_ui_command_prints_a_working_one_time_link(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from screenrecall.cli import ui_cmd

    assert ui_cmd._ui(argparse.Namespace(no_browser=True), seeded.app.config) == 0
    url = urlsplit(capsys.readouterr().out.strip().rsplit(" ", 1)[1])
    assert url.port is not None
    assert spend(url.port, parse_qs(url.query)["code"][0]).status == 303


def test_the_ui_command_says_when_no_daemon_runs(tmp_path: Path) -> None:
    from screenrecall.cli import main

    config = tmp_path / "config.toml"
    config.write_text(f'[api]\nsocket = "{tmp_path / "none.sock"}"\n')
    assert main(["--config", str(config), "ui", "--no-browser"]) == 1


def test_opening_a_page_gets_the_text_model_ready_before_the_first_query(browser: Browserless, seeded: Seeded) -> None:
    runtime = seeded.app.pipeline.runtime if seeded.app.pipeline else None
    assert runtime is not None
    runtime.release_idle_text(0.0)  # as after minutes without a query
    assert not runtime.text_loaded
    assert browser.get("/ui/search").status == 200
    wait_until(lambda: runtime.text_loaded, 60, "the text model to be compiled")
