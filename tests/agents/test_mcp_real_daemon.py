"""`screenrecall mcp` against the real daemon process capturing a real (Xvfb) screen: what an agent
host would see, including a private window that never reaches it and the daemon going away."""

from __future__ import annotations

import base64
import json
import sys
import warnings
from typing import Any

import anyio
import pytest
from mcp import ClientSession, MCPDeprecationWarning, MCPError, StdioServerParameters, stdio_client
from mcp.client.session import IncomingMessage
from mcp_types import ImageContent, ResourceUpdatedNotification, TextResourceContents

from tests.support.daemon import Daemon, MakeDaemon, wait_until
from tests.support.xvfb import Xvfb

pytestmark = [pytest.mark.slow, pytest.mark.display]

AWARENESS = "screenrecall://awareness"


@pytest.fixture
def daemon(xvfb: Xvfb, make_daemon: MakeDaemon) -> Daemon:
    del xvfb  # started first: the daemon records its screen
    layers = {"privacy": {"exclude_titles": ["^Private"]}, "mcp": {"awareness_novelty": 0.02}}
    return make_daemon(layers)


def _json(result: Any) -> dict[str, Any]:
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    parsed: dict[str, Any] = json.loads(content.text)
    return parsed


class Updates:
    """notifications/resources/updated as they arrive."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    async def take(self, message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification) and str(message.params.uri) == AWARENESS:
            self._event.set()

    async def next(self) -> None:
        await self._event.wait()
        self._event = anyio.Event()


async def awareness_titles(session: ClientSession) -> list[str]:
    return [m["window_title"] for m in _json(await session.read_resource(AWARENESS))["moments"]]


def test_an_agent_sees_the_screen_change_but_never_the_private_window(xvfb: Xvfb, daemon: Daemon) -> None:
    xvfb.fill((20, 20, 60))
    editor = xvfb.show_window((0, 160, 0), 0, 0, 640, 480, title="notes.txt - Editor", app="Editor")
    xvfb.set_active(editor)
    daemon.start()
    wait_until(lambda: (daemon.status() or {}).get("records", 0) >= 1, 60, "the first screen record")

    async def main() -> dict[str, Any]:
        updates = Updates()
        server = StdioServerParameters(
            command=sys.executable,
            args=["-m", "screenrecall", "--config", str(daemon.config_path), "mcp"],
            env=daemon.env,
        )
        seen: dict[str, Any] = {}
        async with (
            stdio_client(server) as (read, write),
            ClientSession(read, write, message_handler=updates.take) as session,
        ):
            await session.initialize()
            with anyio.fail_after(120):
                while not _json(await session.read_resource(AWARENESS))["following"]:
                    await anyio.sleep(0.1)
                with warnings.catch_warnings():  # the 2025-11-25 handshake's way; see test_mcp_server
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await session.subscribe_resource(AWARENESS)
                seen["before"] = (await session.call_tool("current_screen", {})).structured_content

                # A window the user excluded comes to the front, and goes again.
                private = xvfb.show_window((200, 0, 0), 0, 0, 640, 480, title="Private - Bank", app="Browser")
                xvfb.set_active(private)
                await anyio.sleep(2.0)  # eight capture intervals
                xvfb.destroy_window(private)
                todo = xvfb.show_window((230, 230, 230), 0, 0, 640, 480, title="todo.txt - Editor", app="Editor")
                xvfb.set_active(todo)
                while "todo.txt - Editor" not in await awareness_titles(session):
                    await updates.next()
                seen["awareness"] = _json(await session.read_resource(AWARENESS))
                newest = seen["awareness"]["moments"][0]["id"]
                seen["moment"] = await session.call_tool("get_moment", {"id": newest})
                seen["activity"] = (await session.call_tool("recent_activity", {"minutes": 5})).structured_content
                seen["search"] = (
                    await session.call_tool("search_screen", {"query": "bank", "limit": 50})
                ).structured_content

                await anyio.to_thread.run_sync(daemon.stop)
                with pytest.raises(MCPError) as caught:
                    await session.call_tool("current_screen", {})
                seen["stopped"] = caught.value.error.message
        return seen

    check(anyio.run(main))


def check(seen: dict[str, Any]) -> None:
    before = seen["before"]["monitors"]
    assert [(m["monitor"], m["app"], m["window_title"]) for m in before] == [(1, "Editor", "notes.txt - Editor")]
    assert seen["awareness"]["moments"][0]["window_title"] == "todo.txt - Editor"
    moment = seen["moment"]
    assert moment.structured_content["app"] == "Editor" and moment.structured_content["image"] == "thumbnail"
    image = moment.content[1]
    assert isinstance(image, ImageContent) and base64.b64decode(image.data)[8:12] == b"WEBP"
    titles = {w["window_title"] for w in seen["activity"]["windows"]}
    assert {"notes.txt - Editor", "todo.txt - Editor"} <= titles
    everything = json.dumps([seen["awareness"], seen["activity"], seen["search"]])
    assert "Private" not in everything and "Bank" not in everything
    assert "the screenrecall daemon is not running" in seen["stopped"]
