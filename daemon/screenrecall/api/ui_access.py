"""Who may use the web UI: a browser that came in through a one-time login link.

Browsers cannot reach the Unix socket, and must never hold the API's bearer token, so:
- `screenrecall ui` asks the daemon, over the socket, for a one-time code (valid LINK_TTL_S) and
  opens http://127.0.0.1:PORT/ui/login?code=...; the page there POSTs the code back (no GET
  changes state), which spends it and sets an HttpOnly, SameSite=Strict session cookie;
- every request with that cookie that is not GET/HEAD must carry the session's CSRF token in
  X-CSRF-Token (the page reads it from its own HTML, which no other origin can read: no CORS);
- Host and Origin are checked exactly as for bearer requests (DNS rebinding, cross-origin).
Sessions live in the daemon's memory only: a restart logs every browser out.
"""

from __future__ import annotations

import hmac
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from screenrecall.api import security

LINK_TTL_S = 120.0
SESSION_TTL_S = 12 * 3600.0
MAX_SESSIONS = 32  # older ones are dropped first: a forgotten tab does not keep memory forever
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/ui/login"
STATIC_PREFIX = "/ui/static/"
# Set on a request the UI's middleware let through; the server's guard then skips the bearer check.
AUTHENTICATED = web.RequestKey("screenrecall.ui.authenticated", bool)
SAFE_METHODS = frozenset({"GET", "HEAD"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Session:
    csrf: str
    expires: float


class UiAccess:
    """One-time login codes, sessions and the loopback listener the browser talks to."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._codes: dict[str, float] = {}
        self._sessions: dict[str, Session] = {}
        self.tcp_port = 0  # the loopback port actually listened on; 0 = none yet
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"

    @property
    def cookie(self) -> str:
        # Cookies are not scoped by port: a per-port name keeps two daemons' sessions apart.
        return f"screenrecall_session_{self.tcp_port}"

    def attach(self, runner: web.AppRunner, host: str, port: int) -> None:
        """The server's runner and its configured TCP listener (port 0: none yet)."""
        self._runner, self._host, self.tcp_port = runner, host, port

    async def ensure_listener(self) -> int:
        """Starts the loopback TCP listener on a free port unless one already listens."""
        if self.tcp_port:
            return self.tcp_port
        if self._runner is None:
            raise web.HTTPServiceUnavailable(text="the API is not listening yet")
        security.require_loopback(self._host)
        site = web.TCPSite(self._runner, self._host, 0)
        await site.start()
        server = site._server  # aiohttp offers no public accessor for an ephemeral port
        sockets = getattr(server, "sockets", None) or []
        self.tcp_port = int(sockets[0].getsockname()[1])
        return self.tcp_port

    def new_code(self) -> str:
        now = self._clock()
        self._codes = {code: expires for code, expires in self._codes.items() if expires > now}
        code = secrets.token_urlsafe(24)
        self._codes[code] = now + LINK_TTL_S
        return code

    def spend(self, code: str) -> tuple[str, Session] | None:
        """Trades a valid unspent code for a new session (id, session); None for anything else."""
        expires = self._codes.pop(code, None) if code else None
        if expires is None or expires < self._clock():
            return None
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        session_id = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), self._clock() + SESSION_TTL_S)
        self._sessions[session_id] = session
        return session_id, session

    def session_of(self, request: web.Request) -> Session | None:
        session_id = request.cookies.get(self.cookie, "")
        session = self._sessions.get(session_id) if session_id else None
        if session is None:
            return None
        if session.expires < self._clock():
            del self._sessions[session_id]
            return None
        return session

    def end(self, request: web.Request) -> None:
        self._sessions.pop(request.cookies.get(self.cookie, ""), None)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if _is_unix(request):
            return await handler(request)  # the server's guard checks the peer
        if request.host not in security.allowed_hosts(self.tcp_port):
            raise web.HTTPForbidden(text="foreign Host header refused")
        if not security.origin_allowed(request.headers.get("Origin"), self.tcp_port):
            raise web.HTTPForbidden(text="cross-origin requests are refused")
        if request.path == LOGIN_PATH or request.path.startswith(STATIC_PREFIX):
            request[AUTHENTICATED] = True  # the login handler checks its code; static files hold no data
        elif request.cookies.get(self.cookie) is not None and "Authorization" not in request.headers:
            session = self.session_of(request)
            if session is None:
                raise _unauthorized(request)
            if request.method not in SAFE_METHODS and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, "").encode(), session.csrf.encode()
            ):
                raise web.HTTPForbidden(text="missing or wrong CSRF token")
            request[AUTHENTICATED] = True
        elif request.path.startswith("/ui"):
            raise _unauthorized(request)
        response = await handler(request)
        _harden(response)
        return response


def _is_unix(request: web.Request) -> bool:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    return sock is not None and sock.family == socket.AF_UNIX


def _unauthorized(request: web.Request) -> web.HTTPException:
    if request.path.startswith("/ui"):
        return web.HTTPUnauthorized(
            text=NOT_LOGGED_IN, content_type="text/html", headers={"Content-Security-Policy": CSP}
        )
    return web.HTTPUnauthorized(text="the session has expired; run `screenrecall ui` again")


def _harden(response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin, not no-referrer: under no-referrer Chromium sends "Origin: null" with a form
    # POST, which the Origin check must refuse; our URLs still never leave for another site.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    # Frames and search results are private: never in the browser's disk cache.
    headers.setdefault("Cache-Control", "no-store")


# Everything from our own origin only: no CDN, no inline script, no framing by other pages.
CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

NOT_LOGGED_IN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>screenrecall: log in</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/ui/static/ui.css"></head>
<body><main class="narrow"><h1>screenrecall</h1>
<p>This browser is not logged in, or its session ended.</p>
<p>Run <code>screenrecall ui</code> in a terminal: it opens a fresh one-time login link.</p>
</main></body></html>
"""
