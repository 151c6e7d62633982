"""`screenrecall mcp` end to end: the MCP SDK's own client spawns the server over stdio, against the
daemon's App running in this process with its real API socket, store, model and OCR."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, ClientSession, MCPDeprecationWarning, MCPError, StdioServerParameters, stdio_client
from mcp.client.session import IncomingMessage
from mcp.client.streamable_http import streamable_http_client
from mcp_types import INVALID_PARAMS, CallToolResult, ImageContent, ResourceUpdatedNotification, TextResourceContents

from screenrecall.app import App
from screenrecall.pipeline.messages import Frame, Window
from tests.support.daemon import REPO, toml_of, wait_until
from tests.support.recall import (
    client_of,
    http_tcp,
    private_xdg,
    recall_config,
    running_app,
    screen_frame,
    show_frames,
)
from tests.support.screens import terminal

# Each test starts a server process (the SDK alone imports in ~2 s) against an App with OCR.
pytestmark = pytest.mark.slow

MINUTE_MS = 60_000
PHRASE = "Invoice 4471 from ACME Corp is overdue"
SECRET = "password: hunter2"
AWARENESS = "screenrecall://awareness"


@dataclass
class World:
    """A running App and the config file an MCP server needs to reach it."""

    app: App
    root: Path
    now_ms: int

    def config(self, **mcp: Any) -> Path:
        path = self.root / f"mcp-{len(list(self.root.glob('mcp-*.toml')))}.toml"
        path.write_text(toml_of({"api": {"socket": str(self.app.config.socket_path())}, "mcp": mcp or {}}))
        return path


def _app_world(root: Path, bundle: Path, ocr: bool) -> contextlib.AbstractContextManager[App]:
    socket = root / "api" / "api.sock"
    config = recall_config(bundle, {"api": {"socket": str(socket)}, "ocr": {"enabled": ocr}})
    return running_app(config)


@pytest.fixture(scope="module")
def world(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Monitor 1: a terminal (XTerm, -20 min) then a browser (-19.5 min); monitor 2: docs (-5 min). OCR on."""
    root = tmp_path_factory.mktemp("mcp")
    with private_xdg(root / "home"), _app_world(root, tiny_bundle, ocr=True) as app:
        now_ms = int(time.time() * 1000)
        window = Window(title="make test", app="XTerm")
        shell = Frame(terminal([PHRASE, SECRET], size=(640, 160)), now_ms - 20 * MINUTE_MS, "screen", 1, window=window)
        # The terminal alone first: OCR keeps only the newest few live frames waiting.
        show_frames(app, [shell])
        api = client_of(app)
        shell_id = api.request("GET", "/v1/records")["records"][0]["id"]
        wait_until(lambda: "ACME" in api.request("GET", f"/v1/records/{shell_id}")["text"], 60, "the OCR text")
        show_frames(
            app,
            [
                screen_frame("red", now_ms - 39 * MINUTE_MS // 2, 1, app_name="Firefox", title="Invoice - Firefox"),
                screen_frame("white", now_ms - 5 * MINUTE_MS, 2, app_name="Firefox", title="Docs - Firefox"),
            ],
        )
        yield World(app, root, now_ms)


@pytest.fixture
def fresh(tiny_bundle: Path, tmp_path: Path) -> Iterator[World]:
    """An App of its own (no OCR) with one record, for the tests that change or stop it."""
    with _app_world(tmp_path, tiny_bundle, ocr=False) as app:
        now_ms = int(time.time() * 1000)
        show_frames(app, [screen_frame("green", now_ms - 60 * MINUTE_MS, 1, app_name="XTerm", title="old shell")])
        yield World(app, tmp_path, now_ms)


def _record_titled(records: list[dict[str, Any]], title: str) -> dict[str, Any]:
    return next(r for r in records if r["window_title"] == title)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "daemon")}


@contextlib.asynccontextmanager
async def mcp_session(
    config: Path, on_message: Callable[[IncomingMessage], Awaitable[None]] | None = None
) -> AsyncIterator[ClientSession]:
    """`python -m screenrecall mcp` spawned by the SDK's stdio client, initialized."""
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "screenrecall", "--config", str(config), "mcp"], env=_env()
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write, message_handler=on_message) as session:
        await session.initialize()
        yield session


def run(config: Path, scenario: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with mcp_session(config) as session:
            with anyio.fail_after(60):
                return await scenario(session)

    return anyio.run(main)


def calls(config: Path, *requests: tuple[str, dict[str, Any]]) -> list[CallToolResult]:
    """Tool calls in one session (one server process: it takes seconds to start on a busy machine)."""

    async def scenario(session: ClientSession) -> list[CallToolResult]:
        return [await session.call_tool(tool, arguments) for tool, arguments in requests]

    results: list[CallToolResult] = run(config, scenario)
    for result in results:
        assert not result.is_error, result.content
    return results


def data(result: CallToolResult) -> dict[str, Any]:
    """The structured answer; the text block carries the same JSON for hosts that show only text."""
    assert result.structured_content is not None
    first = result.content[0]
    assert first.type == "text" and json.loads(first.text) == result.structured_content
    return result.structured_content


# --- listing -------------------------------------------------------------------------------------


def test_lists_the_fixed_tools_both_resources_and_offers_subscriptions(world: World) -> None:
    async def scenario(session: ClientSession) -> tuple[list[str], list[str], Any]:
        tools = await session.list_tools()
        resources = await session.list_resources()
        return [t.name for t in tools.tools], [str(r.uri) for r in resources.resources], session.server_capabilities

    tools, resources, capabilities = run(world.config(), scenario)
    assert tools == ["search_screen", "get_moment", "recent_activity", "current_screen"]
    assert resources == ["screenrecall://status", AWARENESS]
    assert capabilities.resources.subscribe is True


# --- tools ---------------------------------------------------------------------------------------


def test_search_screen_finds_the_terminal_by_its_words_with_a_snippet(world: World) -> None:
    (result,) = calls(world.config(), ("search_screen", {"query": "ACME overdue", "mode": "text"}))
    moments = data(result)["moments"]
    assert moments[0]["window_title"] == "make test" and moments[0]["app"] == "XTerm"
    assert PHRASE in moments[0]["snippet"]
    assert set(moments[0]) >= {"id", "time", "last_seen", "score", "monitor", "source"}
    assert "hunter2" not in json.dumps(moments)


def test_search_screen_filters_by_app_time_and_monitor(world: World) -> None:
    by_app, recent, on_one = (
        data(result)["moments"]
        for result in calls(
            world.config(),
            ("search_screen", {"query": "a web page", "app": "firefox", "limit": 10}),
            ("search_screen", {"query": "a web page", "since": "10m"}),
            ("search_screen", {"query": "a screen", "monitor": 1, "until": "now"}),
        )
    )
    assert {m["window_title"] for m in by_app} == {"Invoice - Firefox", "Docs - Firefox"}
    assert [m["window_title"] for m in recent] == ["Docs - Firefox"]
    assert {m["monitor"] for m in on_one} == {1}


def test_get_moment_returns_redacted_text_metadata_and_the_thumbnail_as_an_image(world: World) -> None:
    api = client_of(world.app)
    shell_id = _record_titled(api.request("GET", "/v1/records")["records"], "make test")["id"]
    result, without = calls(
        world.config(), ("get_moment", {"id": shell_id}), ("get_moment", {"id": shell_id, "include_image": False})
    )
    moment = data(result)
    assert moment["id"] == shell_id and moment["app"] == "XTerm" and moment["width"] == 640
    assert "ACME" in moment["text"] and "[redacted:password]" in moment["text"] and "hunter2" not in moment["text"]
    assert moment["image"] == "thumbnail"  # this daemon keeps no full frames
    image = result.content[1]
    assert isinstance(image, ImageContent) and image.mime_type == "image/webp"
    assert base64.b64decode(image.data)[8:12] == b"WEBP"
    assert len(without.content) == 1 and "image" not in data(without)


def test_recent_activity_groups_by_window_newest_first_with_time_spent(world: World) -> None:
    half_hour, ten_minutes, default = (
        data(result)
        for result in calls(
            world.config(),
            ("recent_activity", {"minutes": 30}),
            ("recent_activity", {"minutes": 10}),
            ("recent_activity", {}),
        )
    )
    windows = half_hour["windows"]
    assert [(w["app"], w["window_title"]) for w in windows] == [
        ("Firefox", "Docs - Firefox"),
        ("Firefox", "Invoice - Firefox"),
        ("XTerm", "make test"),
    ]
    shell = windows[2]
    assert shell["seconds"] == 30.0  # on screen until the browser replaced it on monitor 1
    assert PHRASE in shell["moments"][0]["snippet"] and "hunter2" not in shell["moments"][0]["snippet"]
    assert [w["window_title"] for w in ten_minutes["windows"]] == ["Docs - Firefox"]
    assert default["records"] == 3 and default["complete"] is True


def test_current_screen_gives_the_monitors_seen_lately_else_the_latest_known(world: World) -> None:
    everything, first, seventh = (
        data(result)["monitors"]
        for result in calls(
            world.config(),
            ("current_screen", {}),
            ("current_screen", {"monitor": 1}),
            ("current_screen", {"monitor": 7}),
        )
    )
    # A live daemon extends each monitor's record while it shows the same; here only monitor 2 was
    # seen in the last 10 minutes.
    assert [(m["monitor"], m["window_title"]) for m in everything] == [(2, "Docs - Firefox")]
    assert everything[0]["seen_s_ago"] >= 5 * 60 and "text" in everything[0]
    # Monitor 1 was last seen 19.5 minutes ago: asked for, it is found further back.
    assert [m["window_title"] for m in first] == ["Invoice - Firefox"]
    assert seventh == []


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("search_screen", {}, "search_screen: query: Field required"),
    ("search_screen", {"query": "x", "limit": 0}, "limit: Input should be greater than or equal to 1"),
    ("search_screen", {"query": "x", "mode": "fuzzy"}, "mode: Input should be 'hybrid', 'visual' or 'text'"),
    ("search_screen", {"query": "x", "since": "the other day"}, "since: bad time 'the other day'"),
    ("search_screen", {"query": "x", "since": "now", "until": "2h"}, "since must not be after until"),
    ("search_screen", {"query": "x", "app": "fire(fox"}, "bad --app regex"),
    ("search_screen", {"query": "x", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ("get_moment", {"id": "no-such-id"}, "id: no moment with id 'no-such-id'"),
    ("get_moment", {"id": ""}, "id: String should have at least 1 character"),
    ("recent_activity", {"minutes": -5}, "minutes: Input should be greater than 0"),
    ("recent_activity", {"minutes": "lots"}, "minutes: Input should be a valid number"),
    ("current_screen", {"monitor": 0}, "monitor: Input should be greater than or equal to 1"),
    ("forget", {"since": "1h", "until": "now"}, "forget is disabled; the user can enable it with mcp.allow_forget"),
    ("screenshot", {}, "unknown tool 'screenshot'"),
]


def test_bad_arguments_are_invalid_params_errors_that_name_the_problem(world: World) -> None:
    async def scenario(session: ClientSession) -> list[tuple[int, str]]:
        errors = []
        for tool, arguments, _ in BAD_CALLS:
            with pytest.raises(MCPError) as caught:
                await session.call_tool(tool, arguments)
            errors.append((caught.value.error.code, caught.value.error.message))
        return errors

    for (tool, arguments, expected), (code, message) in zip(BAD_CALLS, run(world.config(), scenario), strict=True):
        assert code == INVALID_PARAMS, (tool, arguments, message)
        assert expected in message, (tool, arguments, message)


def test_forget_when_allowed_deletes_the_range_and_says_how_much(fresh: World) -> None:
    config = fresh.config(allow_forget=True)

    async def scenario(session: ClientSession) -> tuple[list[str], CallToolResult, CallToolResult]:
        tools = [t.name for t in (await session.list_tools()).tools]
        nothing = await session.call_tool("forget", {"since": "10m", "until": "now"})
        hour = await session.call_tool("forget", {"since": "2h", "until": "now"})
        return tools, nothing, hour

    tools, nothing, hour = run(config, scenario)
    assert "forget" in tools
    assert data(nothing)["forgotten"] == 0
    assert data(hour)["forgotten"] == 1
    assert client_of(fresh.app).request("GET", "/v1/records")["records"] == []


# --- resources -----------------------------------------------------------------------------------


def _text_of(result: Any) -> dict[str, Any]:
    content = result.contents[0]
    assert isinstance(content, TextResourceContents) and content.mime_type == "application/json"
    parsed: dict[str, Any] = json.loads(content.text)
    return parsed


def test_status_resource_is_the_daemons_status(world: World) -> None:
    async def scenario(session: ClientSession) -> Any:
        return await session.read_resource("screenrecall://status")

    status = _text_of(run(world.config(), scenario))
    assert status["running"] is True and status["records"] == 3 and status["pid"] == os.getpid()


def test_unknown_resources_and_subscriptions_are_refused(world: World) -> None:
    async def scenario(session: ClientSession) -> list[str]:
        messages = []
        for attempt in (
            lambda: session.read_resource("screenrecall://everything"),
            lambda: legacy_subscribe(session, "screenrecall://status"),
        ):
            with pytest.raises(MCPError) as caught:
                await attempt()
            messages.append(caught.value.error.message)
        return messages

    assert run(world.config(), scenario) == [
        "unknown resource 'screenrecall://everything'; resources: screenrecall://status, screenrecall://awareness",
        "only screenrecall://awareness can be subscribed to",
    ]


async def legacy_subscribe(session: ClientSession, uri: str) -> None:
    """resources/subscribe: how hosts on the 2025-11-25 handshake subscribe (the SDK marks it deprecated
    because the 2026-07-28 protocol replaced it with subscriptions/listen; both are served)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        await session.subscribe_resource(uri)


def test_awareness_subscriber_is_told_of_a_novel_record_and_reads_it(fresh: World) -> None:
    updates: list[str] = []
    told = anyio.Event()

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))
            told.set()

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        async with mcp_session(fresh.config(awareness_novelty=0.05), on_message) as session:
            with anyio.fail_after(60):
                await _wait_following(session)
                await legacy_subscribe(session, AWARENESS)
                before = _text_of(await session.read_resource(AWARENESS))
                now_ms = int(time.time() * 1000)
                frame = screen_frame("red", now_ms, 1, app_name="Firefox", title="Invoice - Firefox")
                await anyio.to_thread.run_sync(show_frames, fresh.app, [frame])
                await told.wait()
                return before, _text_of(await session.read_resource(AWARENESS))

    before, after = anyio.run(main)
    assert updates == [AWARENESS]
    assert before["following"] is True and before["moments"] == []
    assert [(m["app"], m["window_title"], m["monitor"]) for m in after["moments"]] == [
        ("Firefox", "Invoice - Firefox", 1)
    ]
    assert after["moments"][0]["novelty"] >= 0.05 and after["novelty_threshold"] == 0.05


def test_awareness_listener_of_the_2026_protocol_gets_the_update_too(fresh: World) -> None:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "screenrecall", "--config", str(fresh.config()), "mcp"], env=_env()
    )

    async def main() -> tuple[str, list[str], dict[str, Any]]:
        async with Client(server) as client:
            with anyio.fail_after(60):
                while not _text_of(await client.read_resource(AWARENESS))["following"]:
                    await anyio.sleep(0.1)
                async with client.listen(resource_subscriptions=[AWARENESS]) as subscription:
                    now_ms = int(time.time() * 1000)
                    frame = screen_frame("red", now_ms, 1, app_name="Firefox", title="Invoice - Firefox")
                    await anyio.to_thread.run_sync(show_frames, fresh.app, [frame])
                    event = await subscription.__anext__()
                return client.protocol_version, [str(event.uri)], _text_of(await client.read_resource(AWARENESS))

    version, uris, awareness = anyio.run(main)
    assert version == "2026-07-28"
    assert uris == [AWARENESS]
    assert [m["window_title"] for m in awareness["moments"]] == ["Invoice - Firefox"]


def test_awareness_skips_records_below_the_novelty_threshold(fresh: World) -> None:
    async def main() -> dict[str, Any]:
        async with mcp_session(fresh.config(awareness_novelty=1.0)) as session:
            with anyio.fail_after(60):
                await _wait_following(session)
                now_ms = int(time.time() * 1000)
                # Same monitor, another picture: novel, but not "completely unlike the previous" (1.0).
                frame = screen_frame("red", now_ms, 1, app_name="Firefox", title="Invoice - Firefox")
                await anyio.to_thread.run_sync(show_frames, fresh.app, [frame])
                await anyio.sleep(1.0)
                return _text_of(await session.read_resource(AWARENESS))

    assert anyio.run(main)["moments"] == []


async def _wait_following(session: ClientSession) -> None:
    """The server follows the stream from its start; wait until it is connected, so no event is missed."""
    while not _text_of(await session.read_resource(AWARENESS))["following"]:
        await anyio.sleep(0.1)


# --- the daemon away, or another user's ------------------------------------------------------------


def test_a_daemon_that_is_not_running_gives_a_clear_error_everywhere(tmp_path: Path) -> None:
    config = tmp_path / "mcp.toml"
    config.write_text(toml_of({"api": {"socket": str(tmp_path / "nowhere" / "api.sock")}}))

    async def scenario(session: ClientSession) -> tuple[list[str], dict[str, Any]]:
        messages = []
        for attempt in (session.call_tool("current_screen", {}), session.read_resource("screenrecall://status")):
            with pytest.raises(MCPError) as caught:
                await attempt
            messages.append(caught.value.error.message)
        return messages, _text_of(await session.read_resource(AWARENESS))

    messages, awareness = run(config, scenario)
    for message in [*messages, awareness["problem"]]:
        assert message.startswith("the screenrecall daemon is not running (nothing answers on ")
        assert "screenrecall run" in message
    assert awareness["following"] is False


def test_a_daemon_that_stops_mid_session_gives_the_same_clear_error(fresh: World) -> None:
    async def scenario(session: ClientSession) -> str:
        assert data(await session.call_tool("current_screen", {}))["monitors"]
        assert fresh.app.api is not None
        await anyio.to_thread.run_sync(fresh.app.api.stop)  # the daemon's API goes away, socket and all
        with pytest.raises(MCPError) as caught:
            await session.call_tool("current_screen", {})
        return caught.value.error.message

    assert "the screenrecall daemon is not running" in run(fresh.config(), scenario)


# --- streamable HTTP on loopback -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def http_server(world: World) -> Iterator[tuple[int, str]]:
    """`screenrecall mcp --http` on a free loopback port; yields (port, token)."""
    port = _free_port()
    config = world.config(http_port=port)
    process = subprocess.Popen(
        [sys.executable, "-m", "screenrecall", "--config", str(config), "mcp", "--http"],
        env=_env(),
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: _listening(port, process), 60, "the MCP HTTP server to listen")
        token = (world.app.config.socket_path().parent / "api-token").read_text().strip()
        yield port, token
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr.decode()
        assert f"MCP on http://127.0.0.1:{port}/mcp" in stderr.decode()


def _listening(port: int, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "the server exited"
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_http_serves_the_same_tools_to_a_token_holder(http_server: tuple[int, str]) -> None:
    port, token = http_server

    async def main() -> tuple[list[str], dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = [t.name for t in (await session.list_tools()).tools]
            return tools, data(await session.call_tool("current_screen", {"monitor": 2}))

    tools, screen = anyio.run(main)
    assert tools == ["search_screen", "get_moment", "recent_activity", "current_screen"]
    assert [m["window_title"] for m in screen["monitors"]] == ["Docs - Firefox"]


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "a bearer token is required"),
        ({"Authorization": "Bearer guess"}, 401, "a bearer token is required"),
        ({"Host": "evil.example:{port}", "Authorization": "Bearer {token}"}, 403, "foreign Host header refused"),
        ({"Origin": "http://evil.example", "Authorization": "Bearer {token}"}, 403, "cross-origin"),
    ],
)
def test_http_refuses_requests_without_the_token_or_from_elsewhere(
    http_server: tuple[int, str], headers: dict[str, str], status: int, message: str
) -> None:
    port, token = http_server
    filled = {key: value.format(port=port, token=token) for key, value in headers.items()}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    filled |= {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    reply = http_tcp(port, "POST", "/mcp", body, filled)
    assert reply.status == status and message in reply.text
    assert "access-control-allow-origin" not in {name.lower() for name in reply.headers}


def test_http_refuses_a_port_that_is_not_configured(world: World) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "screenrecall", "--config", str(world.config()), "mcp", "--http"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "set mcp.http_port" in done.stderr


def test_awareness_follows_the_daemon_across_a_restart(tiny_bundle: Path, tmp_path: Path) -> None:
    """The daemon restarts (systemd does that): the subscriber is still told of what comes next."""
    lifetimes: list[contextlib.ExitStack] = []

    def start_daemon() -> App:
        stack = contextlib.ExitStack()
        lifetimes.append(stack)
        return stack.enter_context(_app_world(tmp_path, tiny_bundle, ocr=False))

    first = start_daemon()
    world = World(first, tmp_path, int(time.time() * 1000))
    updates: list[str] = []

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    async def following(session: ClientSession) -> bool:
        return bool(_text_of(await session.read_resource(AWARENESS))["following"])

    async def main() -> dict[str, Any]:
        async with mcp_session(world.config(awareness_novelty=0.0), on_message) as session:
            with anyio.fail_after(90):
                await _wait_following(session)
                await legacy_subscribe(session, AWARENESS)
                await anyio.to_thread.run_sync(lifetimes[0].close)  # the daemon stops
                while await following(session):
                    await anyio.sleep(0.1)
                away = _text_of(await session.read_resource(AWARENESS))
                second = await anyio.to_thread.run_sync(start_daemon)
                await _wait_following(session)
                frame = screen_frame("white", int(time.time() * 1000), 1, app_name="Editor", title="after the restart")
                await anyio.to_thread.run_sync(show_frames, second, [frame])
                while not updates:
                    await anyio.sleep(0.1)
                return {"away": away, "after": _text_of(await session.read_resource(AWARENESS))}

    try:
        seen = anyio.run(main)
    finally:
        for stack in lifetimes:
            stack.close()
    assert seen["away"]["following"] is False and seen["away"]["problem"]
    assert [m["window_title"] for m in seen["after"]["moments"]] == ["after the restart"]
    assert updates == [AWARENESS]
