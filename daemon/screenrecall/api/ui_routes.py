"""The web UI's pages and the endpoints it needs beyond search/status/pause/forget: the login
exchange, a timeline of records, readable frames, and the privacy/retention overview."""

from __future__ import annotations

import asyncio
import base64
import html
import io
import logging
import re
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

from screenrecall.api.routes import Services
from screenrecall.api.ui_access import CSRF_HEADER, LOGIN_PATH, UiAccess, _is_unix

logger = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("ui_static")
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}
VIEWS = ("", "search", "timeline", "moment", "status")
MAX_TIMELINE = 20_000  # records in one timeline answer (a very busy day of one machine)
RECORD_ID = re.compile(r"^[0-9a-f]{24}$")
INLINE_ATLAS = 256 * 1024  # bytes of tiles sent inside the frame's layout answer


def ui_routes(services: Services, access: UiAccess) -> web.RouteTableDef:
    table = web.RouteTableDef()
    _login_routes(table, access)
    _page_routes(table, access, services)
    _timeline_routes(table, services)
    _frame_routes(table, services)
    return table


def _login_routes(table: web.RouteTableDef, access: UiAccess) -> None:
    @table.post("/v1/ui/login-link")
    async def login_link(request: web.Request) -> web.Response:
        # Only over the Unix socket: whoever may open a session must already be this user.
        if not _is_unix(request):
            raise web.HTTPForbidden(text="login links are handed out on the Unix socket only")
        port = await access.ensure_listener()
        return web.json_response({"url": f"http://127.0.0.1:{port}{LOGIN_PATH}?code={access.new_code()}"})

    @table.get(LOGIN_PATH)
    async def login_page(request: web.Request) -> web.Response:
        code = html.escape(request.query.get("code", ""), quote=True)
        return _html(LOGIN_PAGE.replace("{code}", code))

    @table.post(LOGIN_PATH)
    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        code = form.get("code")
        spent = access.spend(code if isinstance(code, str) else "")
        if spent is None:
            return _html(LINK_SPENT, status=401)
        session_id, _ = spent
        response = web.HTTPSeeOther("/ui/search")
        response.set_cookie(access.cookie, session_id, httponly=True, samesite="Strict", path="/", max_age=12 * 3600)
        raise response

    @table.post("/ui/logout")
    async def logout(request: web.Request) -> web.Response:
        access.end(request)
        response = web.json_response({"logged_out": True})
        response.del_cookie(access.cookie, path="/")
        return response


def _page_routes(table: web.RouteTableDef, access: UiAccess, services: Services) -> None:
    warming: set[asyncio.Future[None]] = set()

    async def page(request: web.Request) -> web.Response:
        session = access.session_of(request)
        if session is None:
            raise web.HTTPUnauthorized(text="run `screenrecall ui` to log in")
        # Whoever opens a page is about to search: the text model is made ready while they type.
        if not warming:
            task = asyncio.get_running_loop().run_in_executor(None, services.searcher.warm)
            warming.add(task)
            task.add_done_callback(lambda done: _warmed(done, warming))
        index = (STATIC / "index.html").read_text(encoding="utf-8")
        return _html(index.replace("{csrf}", html.escape(session.csrf, quote=True)))

    for view in VIEWS:
        table.get(f"/ui/{view}")(page)
    table.get("/ui/moment/{record_id}")(page)

    @table.get("/ui/static/{name}")
    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        target = STATIC / name
        kind = STATIC_TYPES.get(target.suffix)
        if kind is None or "/" in name or name.startswith(".") or not target.is_file():
            raise web.HTTPNotFound()
        return web.Response(body=target.read_bytes(), content_type=kind, headers={"Cache-Control": "no-cache"})


def _timeline_routes(table: web.RouteTableDef, services: Services) -> None:
    @table.get("/v1/timeline")
    async def timeline(request: web.Request) -> web.Response:
        since, until = _int_arg(request, "since_ms"), _int_arg(request, "until_ms")
        if since is None or until is None or since > until:
            raise web.HTTPBadRequest(text="since_ms and until_ms (epoch ms, since <= until) are required")
        clauses: list[dict[str, Any]] = [{"captured_at": {"$lte": until}}, {"last_seen": {"$gte": since}}]
        monitor = _int_arg(request, "monitor")
        if monitor is not None:
            clauses.append({"monitor": monitor})
        records = await asyncio.get_running_loop().run_in_executor(
            None, lambda: list(services.store.records({"$and": clauses}))
        )
        records.sort(key=lambda r: (r.captured_at_ms, r.id))
        config = services.config
        gap_ms = int((2 * config.capture.heartbeat_s + config.capture.interval_s) * 1000) if config else 150_000
        return web.json_response(
            {
                "records": [_brief(r) for r in records[:MAX_TIMELINE]],
                "truncated": len(records) > MAX_TIMELINE,
                "gap_ms": gap_ms,
            }
        )

    @table.get("/v1/ui/overview")
    async def overview(request: web.Request) -> web.Response:
        state = services.pause.state()
        config = services.config
        frames = services.frames
        frame_bytes = await asyncio.get_running_loop().run_in_executor(None, frames.disk_bytes) if frames else 0
        return web.json_response(
            {
                "paused": state.paused,
                "paused_until_ms": state.until_ms,
                "exclude_apps": list(config.privacy.exclude_apps) if config else [],
                "exclude_titles": list(config.privacy.exclude_titles) if config else [],
                "retention_days": config.retention.days if config else 0,
                "budget_gb": config.retention.max_gb if config else 0,
                "min_free_gb": config.retention.min_free_gb if config else 0,
                "frames_bytes": frame_bytes,
                "csrf_header": CSRF_HEADER,
            }
        )


def _frame_routes(table: web.RouteTableDef, services: Services) -> None:
    @table.get("/v1/records/{record_id}/frame")
    async def frame_layout(request: web.Request) -> web.Response:
        record_id = _record_id(request)
        delta = services.frames.delta(record_id) if services.frames else None
        if delta is None:
            raise web.HTTPNotFound(text="no readable frame for that record")
        version = services.frames.key_path(delta.key).stat().st_mtime_ns if services.frames else 0
        return web.json_response(
            {
                "width": delta.width,
                "height": delta.height,
                "tile": 64,
                "key": f"{delta.key}.{version}",
                "tiles": list(delta.tiles),
                "key_url": f"/v1/records/{record_id}/frame/key",
                "atlas_url": f"/v1/records/{record_id}/frame/atlas" if delta.tiles else None,
                # A small atlas rides along: one request a frame while stepping (the keyframe is cached).
                "atlas_b64": base64.b64encode(delta.atlas).decode() if 0 < len(delta.atlas) <= INLINE_ATLAS else None,
            }
        )

    @table.get("/v1/records/{record_id}/frame/{part}")
    async def frame_part(request: web.Request) -> web.StreamResponse:
        record_id, part = _record_id(request), request.match_info["part"]
        frames = services.frames
        delta = frames.delta(record_id) if frames else None
        if frames is None or delta is None:
            raise web.HTTPNotFound(text="no readable frame for that record")
        if part == "key":
            # Read whole rather than FileResponse, which leaves the file open when the browser
            # cancels the transfer (stepping quickly through the timeline does).
            data = await asyncio.get_running_loop().run_in_executor(None, _read_or_empty, frames.key_path(delta.key))
            if data:
                return web.Response(body=data, content_type="image/webp")
        if part == "atlas" and delta.atlas:
            return web.Response(body=delta.atlas, content_type="image/webp")
        if part == "png":
            pixels = await asyncio.get_running_loop().run_in_executor(None, frames.read, record_id)
            if pixels is not None:
                return web.Response(body=await _png(pixels), content_type="image/png")
        raise web.HTTPNotFound(text="no such part of that frame")


def _warmed(done: asyncio.Future[None], warming: set[asyncio.Future[None]]) -> None:
    warming.discard(done)
    if not done.cancelled() and done.exception() is not None:
        logger.warning("could not get the text model ready: %s", done.exception())


def _brief(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "captured_at_ms": record.captured_at_ms,
        "last_seen_ms": record.last_seen_ms,
        "monitor": record.monitor,
        "source": record.source,
        "app": record.window.app,
        "window_title": record.window.title,
        "host": record.host,
        "monitor_geometry": record.geometry,
    }


def _read_or_empty(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:  # forgotten meanwhile
        return b""


def _record_id(request: web.Request) -> str:
    record_id = request.match_info["record_id"]
    if not RECORD_ID.match(record_id):
        raise web.HTTPNotFound(text="no such record")
    return record_id


def _int_arg(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be an integer") from None


async def _png(pixels: Any) -> bytes:
    def encode() -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()

    return await asyncio.get_running_loop().run_in_executor(None, encode)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>screenrecall: logging in</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/ui/static/ui.css">
<script src="/ui/static/login.js" defer></script></head>
<body><main class="narrow"><h1>screenrecall</h1>
<form id="login" method="post" action="/ui/login">
<input type="hidden" name="code" value="{code}">
<p>Logging this browser in to your local screenrecall.</p>
<button type="submit">Continue</button>
</form></main></body></html>
"""

LINK_SPENT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>screenrecall: link used</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/ui/static/ui.css"></head>
<body><main class="narrow"><h1>screenrecall</h1>
<p role="alert">This login link was already used or has expired.</p>
<p>Run <code>screenrecall ui</code> again for a fresh one.</p></main></body></html>
"""
