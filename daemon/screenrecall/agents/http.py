"""`screenrecall mcp --http`: the MCP server as streamable HTTP on loopback, under the API's own rules.

A loopback port is reachable by every local process and by web pages in the user's browser, so as
for the API's TCP port: a bearer token (the API's `api-token` file), our own Host only (no DNS
rebinding), no foreign Origin, and no CORS header.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

import anyio
import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from screenrecall import paths
from screenrecall.agents.server import McpServer
from screenrecall.api import security
from screenrecall.config import Config
from screenrecall.errors import ScreenrecallError

PATH = "/mcp"


class TokenGuard:
    """ASGI middleware: refuses a request before the MCP app sees it unless Host, Origin and token pass."""

    def __init__(self, app: ASGIApp, token: str, port: int) -> None:
        self._app = app
        self._token = token
        self._port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
            refusal = self._refusal(headers)
            if refusal is not None:
                status, text = refusal
                await send(
                    {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
                )
                await send({"type": "http.response.body", "body": text.encode()})
                return
        await self._app(scope, receive, send)

    def _refusal(self, headers: dict[str, str]) -> tuple[int, str] | None:
        if headers.get("host") not in security.allowed_hosts(self._port):
            return 403, "foreign Host header refused"
        if not security.origin_allowed(headers.get("origin"), self._port):
            return 403, "cross-origin requests are refused"
        if not security.token_matches(headers.get("authorization"), self._token):
            return 401, "a bearer token is required (see the api-token file next to the daemon's socket)"
        return None


class _Server(uvicorn.Server):
    """uvicorn re-raises the signal that stopped it once it has shut down; for this command SIGINT or
    SIGTERM is the ordinary way to stop, so it ends cleanly (exit 0) instead."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: do not wait for open streams
        self.should_exit = True


def guarded_app(server: McpServer, config: Config) -> ASGIApp:
    port = config.mcp.http_port
    hosts = sorted(security.allowed_hosts(port))
    # The SDK's own DNS-rebinding check, with exactly our hosts, behind our guard.
    settings = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{host}" for host in hosts],
    )
    app = server.server.streamable_http_app(
        streamable_http_path=PATH, transport_security=settings, host=config.mcp.http_host
    )
    token = security.load_or_create_token(paths.ensure_private_dir(config.socket_path().parent))
    return TokenGuard(app, token, port)


async def run_http(server: McpServer, config: Config) -> None:
    if not config.mcp.http_port:
        raise ScreenrecallError("set mcp.http_port (a free loopback port) to serve MCP over HTTP")  # mcp_cmd checks too
    security.require_loopback(config.mcp.http_host)
    uvicorn_config: Any = uvicorn.Config(
        guarded_app(server, config),
        host=config.mcp.http_host,
        port=config.mcp.http_port,
        log_level="warning",
        lifespan="on",
    )
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.awareness.follow)
        await _Server(uvicorn_config).serve()
        tasks.cancel_scope.cancel()
