"""Serves the API on its own thread and event loop: a 0600 Unix socket, and optionally loopback TCP."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from screenrecall import paths
from screenrecall.api import security
from screenrecall.api.routes import Services, routes
from screenrecall.api.ui_access import AUTHENTICATED, UiAccess
from screenrecall.api.ui_routes import ui_routes
from screenrecall.config import ApiConfig

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 2.0
# A connection with no request in progress (idle, or a request whose headers are half-sent) is
# closed after this long; aiohttp's default is an hour, so a client could hold sockets forever.
IDLE_TIMEOUT_S = 15.0
# Connections beyond this are closed at once: the UI, the CLI, MCP and a few streams need far fewer,
# and every connection costs a file descriptor and buffers.
MAX_CONNECTIONS = 128

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiServer:
    """start() returns once the sockets listen; stop() closes connections and ends the thread."""

    def __init__(self, services: Services, config: ApiConfig, socket_path: Path) -> None:
        self._services = services
        self._config = config
        self.socket_path = socket_path
        if config.tcp_port:
            security.require_loopback(config.tcp_host)
            self.token: str | None = security.load_or_create_token(paths.ensure_private_dir(socket_path.parent))
        else:
            self.token = None
        self.ui = UiAccess()  # the web UI's login links and browser sessions
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="api")

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)
        if self._failure is not None:
            self._thread.join()
            raise self._failure

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._listen())
        except BaseException as exc:  # reported to start(), which raises it on the caller's thread
            self._failure = exc
            self._ready.set()
            self._loop.close()
            return
        self._services.broadcaster.attach(self._loop)
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._services.broadcaster.attach(None)
            self._loop.run_until_complete(self._shutdown())
            self._loop.close()

    async def _listen(self) -> None:
        middlewares = [self.ui.middleware, self._guard]
        app = web.Application(middlewares=middlewares, client_max_size=int(self._config.max_upload_mb * 2**20))
        app.add_routes(routes(self._services))
        app.add_routes(ui_routes(self._services, self.ui))
        # handler_cancellation: a stream whose client hung up ends at once, not at its next keep-alive.
        # shutdown_timeout: how long stop() lets running handlers finish before cancelling them;
        # aiohttp's 60 s (per site) would let a stuck client outlast systemd's TimeoutStopSec.
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
            keepalive_timeout=IDLE_TIMEOUT_S,
        )
        await self._runner.setup()
        self.ui.attach(self._runner, self._config.tcp_host, self._config.tcp_port)
        assert self._runner.server is not None
        _cap_connections(self._runner.server, MAX_CONNECTIONS)
        paths.ensure_private_dir(self.socket_path.parent)
        self.socket_path.unlink(missing_ok=True)  # a stale socket of a daemon that died (we hold the store lock)
        old_umask = os.umask(0o177)  # the socket is born 0600: no window where others could connect
        try:
            await web.UnixSite(self._runner, str(self.socket_path)).start()
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o600)
        if self._config.tcp_port:
            await web.TCPSite(self._runner, self._config.tcp_host, self._config.tcp_port).start()
            logger.info(
                "API also on http://%s:%d (bearer token required)", self._config.tcp_host, self._config.tcp_port
            )
        logger.info("API on %s", self.socket_path)

    async def _shutdown(self) -> None:
        await self._services.broadcaster.close_all_within(SHUTDOWN_TIMEOUT_S / 2)
        if self._runner is not None:
            await self._runner.cleanup()
        # Handlers cancelled by cleanup() need a few more turns of the loop to unwind.
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=SHUTDOWN_TIMEOUT_S)
        await self._loop.shutdown_default_executor()
        self.socket_path.unlink(missing_ok=True)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None and sock.family == socket.AF_UNIX:
            if security.peer_uid(sock) != os.getuid():
                raise web.HTTPForbidden(text="this API serves its own user only")
            return await handler(request)
        port = self.ui.tcp_port  # the configured port, or the one `screenrecall ui` opened
        if request.host not in security.allowed_hosts(port):
            raise web.HTTPForbidden(text="foreign Host header refused")
        if not security.origin_allowed(request.headers.get("Origin"), port):
            raise web.HTTPForbidden(text="cross-origin requests are refused")
        if request.get(AUTHENTICATED):
            return await handler(request)  # a logged-in browser (session cookie + CSRF token)
        authorization = request.headers.get("Authorization")
        if authorization is not None and not authorization.isascii():
            authorization = None  # non-UTF-8 bytes arrive as surrogates: a refusal, not a 500
        if self.token is None or not security.token_matches(authorization, self.token):
            raise web.HTTPUnauthorized(text="a bearer token is required (see the api-token file)")
        return await handler(request)


def _cap_connections(server: web.Server, limit: int) -> None:
    """Aborts each connection that would take the count past `limit` (checked as it is accepted)."""
    admit = server.connection_made

    def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
        admit(handler, transport)
        if len(server.connections) > limit:
            logger.warning("API connection refused: %d open already", limit)
            transport.abort()

    setattr(server, "connection_made", connection_made)  # noqa: B010 (mypy refuses assigning a method)
