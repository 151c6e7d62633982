"""The API's endpoints: thin handlers that validate a request and call the daemon's own objects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from screenrecall.api.listing import ListingError, listing_where, newest_records
from screenrecall.api.stream import Broadcaster, Subscription
from screenrecall.capture.privacy import PauseSwitch
from screenrecall.config import Config
from screenrecall.errors import ScreenrecallError
from screenrecall.pipeline.frame_archive import FrameArchive
from screenrecall.pipeline.thumbnails import ThumbnailStore
from screenrecall.recall.query import query_from_body
from screenrecall.recall.search import Searcher
from screenrecall.store.chroma import Store
from screenrecall.system.status import Status

OPENAPI = Path(__file__).with_name("openapi.json")
MAX_PAUSE_S = 366 * 86400  # a year: beyond that "pause" means "stop the service"; 1e300 would overflow


@dataclass(frozen=True)
class Services:
    """What the handlers may use; built by the App, shared read-only."""

    searcher: Searcher
    store: Store
    pause: PauseSwitch
    forget: Callable[[int, int, bool], int]  # (since_ms, until_ms, all_hosts)
    status: Callable[[], Status]
    broadcaster: Broadcaster
    max_image_pixels: int
    frames: FrameArchive | None = None  # readable frames (the web UI)
    config: Config | None = None  # what the web UI shows of the settings
    # Thumbnails are served from here by record id; None: the record's own path is not trusted, so none.
    thumbnails: ThumbnailStore | None = None


def routes(services: Services) -> web.RouteTableDef:
    table = web.RouteTableDef()

    @table.get("/v1/status")
    async def status(request: web.Request) -> web.Response:
        snapshot = await _blocking(services.status)
        return web.json_response(asdict(snapshot))

    @table.post("/v1/search")
    async def search(request: web.Request) -> web.Response:
        body = await _json_body(request)
        # Off the loop: decoding a large query image takes a second, and every stream would wait.
        query = await _blocking(query_from_body, body, services.max_image_pixels)
        moments = await _blocking(services.searcher.search, query)
        return web.json_response({"results": [m.to_json() for m in moments]})

    @table.get("/v1/records")
    async def records(request: web.Request) -> web.Response:
        try:
            where, limit = listing_where(request.query)
        except ListingError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        found = await _blocking(newest_records, services.store, where, limit)
        return web.json_response({"records": [_record_json(record) for record in found]})

    @table.get("/v1/records/{record_id}")
    async def record(request: web.Request) -> web.Response:
        found = await _blocking(services.store.get, request.match_info["record_id"])
        if found is None:
            raise web.HTTPNotFound(text="no such record")
        data = _record_json(found)
        if request.query.get("embedding") in ("1", "true"):
            data["embedding"] = [float(x) for x in found.embedding]
        return web.json_response(data)

    @table.get("/v1/records/{record_id}/thumbnail")
    async def thumbnail(request: web.Request) -> web.StreamResponse:
        record_id = request.match_info["record_id"]
        found = await _blocking(services.store.get, record_id)
        target = services.thumbnails.path_for(record_id) if services.thumbnails is not None else None
        if found is None or not found.thumbnail or target is None or not target.is_file():
            raise web.HTTPNotFound(text="no thumbnail for that record")
        # Read whole (a few kB), not FileResponse: a browser that navigates away mid-transfer made
        # aiohttp leave the file open (a ResourceWarning per cancelled picture).
        data = await _blocking(_read_or_empty, str(target))
        if not data:
            raise web.HTTPNotFound(text="no thumbnail for that record")
        return web.Response(body=data, content_type="image/webp")

    @table.post("/v1/pause")
    async def pause(request: web.Request) -> web.Response:
        body = await _json_body(request, allow_empty=True)
        seconds = body.get("for_s")
        if seconds is not None and (
            not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 < seconds <= MAX_PAUSE_S
        ):
            raise web.HTTPBadRequest(text=f"for_s must be a positive number of seconds, at most {MAX_PAUSE_S}")
        state = services.pause.pause(None if seconds is None else float(seconds))
        return web.json_response({"paused": True, "until_ms": state.until_ms})

    @table.post("/v1/resume")
    async def resume(request: web.Request) -> web.Response:
        services.pause.resume()
        return web.json_response({"paused": False})

    @table.post("/v1/forget")
    async def forget(request: web.Request) -> web.Response:
        body = await _json_body(request)
        since, until, all_hosts = _forget_request(body)
        forgotten = await _blocking(services.forget, since, until, all_hosts)
        return web.json_response({"forgotten": forgotten})

    @table.get("/v1/stream")
    async def stream(request: web.Request) -> web.StreamResponse:
        embeddings = request.query.get("embeddings") in ("1", "true")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await _websocket(request, services.broadcaster, embeddings)
        return await _server_sent_events(request, services.broadcaster, embeddings)

    @table.get("/v1/openapi.json")
    async def openapi(request: web.Request) -> web.Response:
        return web.Response(text=OPENAPI.read_text(encoding="utf-8"), content_type="application/json")

    return table


def _forget_request(body: dict[str, Any]) -> tuple[int, int, bool]:
    since, until, all_hosts = body.get("since_ms"), body.get("until_ms"), body.get("all_hosts", False)
    # Other machines' memory on a shared server is deleted only when asked for by name.
    if not isinstance(all_hosts, bool):
        raise web.HTTPBadRequest(text="all_hosts must be true or false")
    if not isinstance(since, int) or not isinstance(until, int) or not _is_int(since) or not _is_int(until):
        raise web.HTTPBadRequest(text="since_ms and until_ms must be epoch milliseconds, since <= until")
    if since > until:
        raise web.HTTPBadRequest(text="since_ms and until_ms must be epoch milliseconds, since <= until")
    return since, until, all_hosts


async def _blocking(function: Callable[..., Any], *args: Any) -> Any:
    """Runs OpenVINO / Chroma work off the event loop, mapping user errors to 400."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)
    except ScreenrecallError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


async def _json_body(request: web.Request, allow_empty: bool = False) -> dict[str, Any]:
    if allow_empty and not request.can_read_body:
        return {}
    try:
        # NaN and Infinity are not JSON; Python's parser takes them unless told not to.
        body = json.loads(await request.text(), parse_constant=_not_json)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise web.HTTPBadRequest(text="the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _record_json(record: Any) -> dict[str, Any]:
    from screenrecall.recall.moments import Moment

    moment = Moment(record, 1.0, record.captured_at_ms, record.last_seen_ms, [record.id])
    data = moment.to_json()
    for key in ("score", "record_ids", "snippet"):
        data.pop(key)
    data["text"] = record.text
    data["width"], data["height"] = record.width, record.height
    return data


async def _websocket(request: web.Request, broadcaster: Broadcaster, embeddings: bool) -> web.WebSocketResponse:
    # timeout: how long a close waits for the client's answering close frame (aiohttp's 10 s
    # would hold up the daemon's shutdown behind a client that is not reading).
    socket = web.WebSocketResponse(heartbeat=30, timeout=2)
    await socket.prepare(request)
    subscription = broadcaster.subscribe(embeddings, request.transport)
    # One pending read of each side at a time: the next event, and whatever the client sends
    # (a close frame is how we learn it left).
    reader = asyncio.ensure_future(socket.receive())
    getter = asyncio.ensure_future(subscription.queue.get())
    try:
        while not socket.closed:
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                if reader.result().type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                reader = asyncio.ensure_future(socket.receive())
            if getter in done:
                event = getter.result()
                if event is None:
                    break  # the API is stopping
                try:
                    await asyncio.wait_for(socket.send_json(event), broadcaster.write_timeout_s)
                except TimeoutError:
                    _drop(request, broadcaster, subscription)
                    break
                getter = asyncio.ensure_future(subscription.queue.get())
    finally:
        reader.cancel()
        getter.cancel()
        broadcaster.unsubscribe(subscription)
        await socket.close()
    return socket


async def _server_sent_events(request: web.Request, broadcaster: Broadcaster, embeddings: bool) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    subscription = broadcaster.subscribe(embeddings, request.transport)
    limit = broadcaster.write_timeout_s
    try:
        await asyncio.wait_for(response.write(b": connected\n\n"), limit)
        while True:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), timeout=15)
            except TimeoutError:
                # Also detects a gone client.
                await asyncio.wait_for(response.write(b": keep-alive\n\n"), limit)
                continue
            if event is None:
                break  # the API is stopping
            await asyncio.wait_for(response.write(f"data: {json.dumps(event)}\n\n".encode()), limit)
    except ConnectionResetError:
        pass  # the subscriber went away
    except TimeoutError:
        _drop(request, broadcaster, subscription)
    finally:
        broadcaster.unsubscribe(subscription)
    return response


def _read_or_empty(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:  # forgotten between the lookup and the read
        return b""


def _drop(request: web.Request, broadcaster: Broadcaster, subscription: Subscription) -> None:
    """A subscriber that reads nothing: abort its connection (a graceful close would wait on it too)."""
    broadcaster.drop_laggard(subscription)
    if request.transport is not None:
        request.transport.abort()


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
