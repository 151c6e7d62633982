"""The MCP server: tools and resources over the daemon's API, served on stdio or loopback HTTP."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
from mcp.server import Server, ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.stdio import stdio_server
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    EmptyResult,
    ListResourcesResult,
    ListToolsResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    SubscribeRequestParams,
    TextResourceContents,
    UnsubscribeRequestParams,
)

from screenrecall import __version__
from screenrecall.agents.arguments import ArgumentError
from screenrecall.agents.awareness import Awareness
from screenrecall.agents.daemon import DaemonApi, DaemonError
from screenrecall.agents.tools import Tools
from screenrecall.config import Config

logger = logging.getLogger(__name__)

NOTIFY_TIMEOUT_S = 5.0
STATUS_URI = "screenrecall://status"
AWARENESS_URI = "screenrecall://awareness"
RESOURCES = [
    Resource(
        uri=STATUS_URI,
        name="status",
        description="What the daemon is doing: records, last frame, paused, device, disk, queues, counters.",
        mime_type="application/json",
    ),
    Resource(
        uri=AWARENESS_URI,
        name="awareness",
        description="The latest novel moments on screen, newest first. Subscribe to be told when one arrives.",
        mime_type="application/json",
    ),
]
INSTRUCTIONS = (
    "screenrecall remembers what was on this user's screens (already redacted; excluded windows are never "
    "stored). search_screen finds moments by words or look; get_moment shows one with its text and frame; "
    "recent_activity and current_screen say what is on screen lately and now."
)


class McpServer:
    """One server per process; over stdio that is one client, over HTTP possibly several sessions."""

    def __init__(self, config: Config) -> None:
        socket_path = config.socket_path()
        self.daemon = DaemonApi(socket_path)
        self.tools = Tools(self.daemon, config.mcp.allow_forget)
        self.awareness = Awareness(
            socket_path, config.mcp.awareness_novelty, config.mcp.awareness_events, self._awareness_changed
        )
        self._bus = InMemorySubscriptionBus()
        # Sessions of the handshake era (resources/subscribe); the 2026 era listens through the bus.
        self._subscribers: set[ServerSession] = set()
        self.server: Server[Any] = Server(
            name="screenrecall",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_read_resource=self._read_resource,
            on_subscribe_resource=self._subscribe,
            on_unsubscribe_resource=self._unsubscribe,
            on_subscriptions_listen=ListenHandler(self._bus),
        )

    async def run_stdio(self) -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self.awareness.follow)
            async with stdio_server() as (read_stream, write_stream):
                await self.server.run(read_stream, write_stream, self.server.create_initialization_options())
            tasks.cancel_scope.cancel()  # the client closed stdin: we are done

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return ListToolsResult(tools=[spec.tool for spec in self.tools.specs.values()])

    async def _call_tool(self, ctx: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
        spec = self.tools.specs.get(params.name)
        if spec is None:
            if params.name == "forget":
                raise MCPError(
                    INVALID_PARAMS, "forget is disabled; the user can enable it with mcp.allow_forget = true"
                )
            raise MCPError(INVALID_PARAMS, f"unknown tool {params.name!r}; tools: {', '.join(self.tools.specs)}")
        try:
            return await spec.run(params.arguments)
        except ArgumentError as exc:
            raise MCPError(INVALID_PARAMS, f"{params.name}: {exc}") from None
        except DaemonError as exc:
            raise _daemon_error(exc) from None

    async def _list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        return ListResourcesResult(resources=RESOURCES)

    async def _read_resource(
        self, ctx: ServerRequestContext[Any], params: ReadResourceRequestParams
    ) -> ReadResourceResult:
        uri = str(params.uri)
        if uri == STATUS_URI:
            try:
                data = await self.daemon.get("/v1/status")
            except DaemonError as exc:
                raise _daemon_error(exc) from None
        elif uri == AWARENESS_URI:
            data = self.awareness.snapshot()
        else:
            raise MCPError(INVALID_PARAMS, f"unknown resource {uri!r}; resources: {STATUS_URI}, {AWARENESS_URI}")
        text = json.dumps(data, indent=1, ensure_ascii=False)
        return ReadResourceResult(contents=[TextResourceContents(uri=uri, text=text, mime_type="application/json")])

    async def _subscribe(self, ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        if str(params.uri) != AWARENESS_URI:
            raise MCPError(INVALID_PARAMS, f"only {AWARENESS_URI} can be subscribed to")
        self._subscribers.add(ctx.session)
        return EmptyResult()

    async def _unsubscribe(self, ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams) -> EmptyResult:
        self._subscribers.discard(ctx.session)
        return EmptyResult()

    async def _awareness_changed(self) -> None:
        for session in list(self._subscribers):
            # A client that stops reading must not stall the stream for the others: skip it this time.
            with anyio.move_on_after(NOTIFY_TIMEOUT_S):
                try:
                    await session.send_resource_updated(AWARENESS_URI)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    self._subscribers.discard(session)  # that client has gone
        await self._bus.publish(ResourceUpdated(uri=AWARENESS_URI))


def _daemon_error(exc: DaemonError) -> MCPError:
    """A request the daemon refused is the caller's to fix (invalid params); anything else is ours."""
    if exc.status is not None and 400 <= exc.status < 500:
        return MCPError(INVALID_PARAMS, str(exc))
    return MCPError(INTERNAL_ERROR, str(exc))
