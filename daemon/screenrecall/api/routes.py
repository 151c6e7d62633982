"""The API's endpoints: thin handlers that validate a request and call the daemon's own objects."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from screenrecall.api.stream import Broadcaster
from screenrecall.errors import ScreenrecallError
from screenrecall.images import BadImage, decode_image, pillow_formats
from screenrecall.privacy import PauseSwitch
from screenrecall.search import MODES, Filters, Query, QueryError, Searcher
from screenrecall.status import Status
from screenrecall.store import Store

OPENAPI = Path(__file__).with_name("openapi.json")


@dataclass(frozen=True)
class Services:
    """What the handlers may use; built by the App, shared read-only."""

    searcher: Searcher
    store: Store
    pause: PauseSwitch
    forget: Callable[[int, int], int]
    status: Callable[[], Status]
    broadcaster: Broadcaster
    max_image_pixels: int


def routes(services: Services) -> web.RouteTableDef:
    table = web.RouteTableDef()

    @table.get("/v1/status")
    async def status(request: web.Request) -> web.Response:
        snapshot = await _blocking(services.status)
        return web.json_response(asdict(snapshot))

    @table.post("/v1/search")
    async def search(request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            query = query_from_body(body, services.max_image_pixels)
        except ScreenrecallError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        moments = await _blocking(services.searcher.search, query)
        return web.json_response({"results": [m.to_json() for m in moments]})

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
        found = await _blocking(services.store.get, request.match_info["record_id"])
        if found is None or not found.thumbnail or not Path(found.thumbnail).is_file():
            raise web.HTTPNotFound(text="no thumbnail for that record")
        return web.FileResponse(found.thumbnail, headers={"Content-Type": "image/webp"})

    @table.post("/v1/pause")
    async def pause(request: web.Request) -> web.Response:
        body = await _json_body(request, allow_empty=True)
        seconds = body.get("for_s")
        if seconds is not None and (not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0):
            raise web.HTTPBadRequest(text="for_s must be a positive number of seconds")
        state = services.pause.pause(None if seconds is None else float(seconds))
        return web.json_response({"paused": True, "until_ms": state.until_ms})

    @table.post("/v1/resume")
    async def resume(request: web.Request) -> web.Response:
        services.pause.resume()
        return web.json_response({"paused": False})

    @table.post("/v1/forget")
    async def forget(request: web.Request) -> web.Response:
        body = await _json_body(request)
        since, until = body.get("since_ms"), body.get("until_ms")
        if not isinstance(since, int) or not isinstance(until, int) or not _is_int(since) or not _is_int(until):
            raise web.HTTPBadRequest(text="since_ms and until_ms must be epoch milliseconds, since <= until")
        if since > until:
            raise web.HTTPBadRequest(text="since_ms and until_ms must be epoch milliseconds, since <= until")
        forgotten = await _blocking(services.forget, since, until)
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
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


QUERY_IMAGE_TYPES = ("png", "jpg", "webp", "bmp", "gif", "tiff")

FILTER_TYPES: dict[str, type | tuple[type, ...]] = {
    "since_ms": int,
    "until_ms": int,
    "app": str,
    "monitor": int,
    "source": str,
    "host": str,
}


def query_from_body(body: dict[str, Any], max_pixels: int) -> Query:
    """A search request body (see openapi.json) as a Query; QueryError says what is wrong."""
    unknown = set(body) - {"text", "image_b64", "limit", "mode", *FILTER_TYPES}
    if unknown:
        raise QueryError(f"unknown field(s): {', '.join(sorted(unknown))}")
    for key, kind in FILTER_TYPES.items():
        if body.get(key) is not None and (not isinstance(body[key], kind) or isinstance(body[key], bool)):
            raise QueryError(f"{key} has the wrong type")
    if body.get("source") not in (None, "screen", "folder"):
        raise QueryError("source must be 'screen' or 'folder'")
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise QueryError("limit must be an integer")
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise QueryError("text must be a string")
    image = _decode_image(body["image_b64"], max_pixels) if body.get("image_b64") is not None else None
    mode = body.get("mode", "hybrid")
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}")
    filters = Filters(**{key: body.get(key) for key in FILTER_TYPES})
    return Query(text=text, image=image, filters=filters, limit=limit, mode=mode)


def _decode_image(encoded: Any, max_pixels: int) -> np.typing.NDArray[np.uint8]:
    if not isinstance(encoded, str):
        raise QueryError("image_b64 must be a base64 string")
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise QueryError(f"image_b64 is not base64: {exc}") from None
    # The same hardened loader as watched files: accepted formats only, size checked before decoding.
    try:
        return decode_image(data, max_pixels=max_pixels, formats=pillow_formats(QUERY_IMAGE_TYPES))
    except BadImage as exc:
        raise QueryError(f"image_b64 is not a usable image: {exc}") from None


def _record_json(record: Any) -> dict[str, Any]:
    from screenrecall.moments import Moment

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
    subscription = broadcaster.subscribe(embeddings)
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
                await socket.send_json(event)
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
    subscription = broadcaster.subscribe(embeddings)
    try:
        await response.write(b": connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), timeout=15)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")  # also detects a gone client
                continue
            if event is None:
                break  # the API is stopping
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
    except ConnectionResetError:
        pass  # the subscriber went away
    finally:
        broadcaster.unsubscribe(subscription)
    return response


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
