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

from screenrecall import paths
from screenrecall.api import security
from screenrecall.api.routes import Services, routes
from screenrecall.config import ApiConfig

logger = logging.getLogger(__name__)

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
        app = web.Application(middlewares=[self._guard], client_max_size=int(self._config.max_upload_mb * 2**20))
        app.add_routes(routes(self._services))
        # handler_cancellation: a stream whose client hung up ends at once, not at its next keep-alive.
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, handler_cancellation=True)
        await self._runner.setup()
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
        self._services.broadcaster.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
        await self._loop.shutdown_default_executor()
        self.socket_path.unlink(missing_ok=True)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None and sock.family == socket.AF_UNIX:
            if security.peer_uid(sock) != os.getuid():
                raise web.HTTPForbidden(text="this API serves its own user only")
            return await handler(request)
        port = self._config.tcp_port
        if request.host not in security.allowed_hosts(port):
            raise web.HTTPForbidden(text="foreign Host header refused")
        if not security.origin_allowed(request.headers.get("Origin"), port):
            raise web.HTTPForbidden(text="cross-origin requests are refused")
        if self.token is None or not security.token_matches(request.headers.get("Authorization"), self.token):
            raise web.HTTPUnauthorized(text="a bearer token is required (see the api-token file)")
        return await handler(request)
