"""get_moment's image: the readable frame when the daemon serves `/frame`, else the thumbnail.

The daemon here is a stand-in on a real Unix socket that answers the three record endpoints the way
the API does (a daemon with the web UI's `/frame` endpoint, for some records only).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import anyio
from aiohttp import web
from PIL import Image

from screenrecall.agents.arguments import GetMoment
from screenrecall.agents.daemon import DaemonApi
from screenrecall.agents.tools import Tools


def _image(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(buffer, format=kind)
    return buffer.getvalue()


FRAMES = {"a": _image("PNG")}
THUMBNAILS = {"a": _image("WEBP"), "b": _image("WEBP")}


def _record(record_id: str) -> dict[str, Any]:
    return {
        "id": record_id,
        "captured_at": "2026-12-02T10:00:00+00:00",
        "last_seen": "2026-12-02T10:00:05+00:00",
        "app": "XTerm",
        "window_title": "shell",
        "source": "screen",
        "monitor": 1,
        "text": "make test",
        "width": 640,
        "height": 480,
    }


def _daemon() -> web.Application:
    app = web.Application()

    async def record(request: web.Request) -> web.Response:
        return web.json_response(_record(request.match_info["id"]))

    def image_route(images: dict[str, bytes], kind: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            data = images.get(request.match_info["id"])
            if data is None:
                raise web.HTTPNotFound(text=f"no {kind} for that record")
            return web.Response(body=data)

        return handler

    app.router.add_get("/v1/records/{id}", record)
    app.router.add_get("/v1/records/{id}/frame", image_route(FRAMES, "frame"))
    app.router.add_get("/v1/records/{id}/thumbnail", image_route(THUMBNAILS, "thumbnail"))
    return app


def moments(socket_path: Path, *ids: str) -> list[tuple[dict[str, Any], list[Any]]]:
    async def main() -> list[tuple[dict[str, Any], list[Any]]]:
        runner = web.AppRunner(_daemon())
        await runner.setup()
        await web.UnixSite(runner, str(socket_path)).start()
        try:
            tools = Tools(DaemonApi(socket_path, timeout=10), allow_forget=False)
            out = []
            for record_id in ids:
                result = await tools.get_moment(GetMoment(id=record_id))
                assert result.structured_content is not None
                out.append((result.structured_content, result.content[1:]))
            return out
        finally:
            await runner.cleanup()

    return anyio.run(main)


def test_the_full_frame_is_preferred_then_the_thumbnail_then_none(tmp_path: Path) -> None:
    (a, a_images), (b, b_images), (c, c_images) = moments(tmp_path / "api.sock", "a", "b", "c")
    assert a["image"] == "frame" and a_images[0].mime_type == "image/png"
    assert base64.b64decode(a_images[0].data) == FRAMES["a"]
    assert b["image"] == "thumbnail" and b_images[0].mime_type == "image/webp"
    assert c["image"] == "none kept" and c_images == []
    assert a["text"] == "make test" and a["width"] == 640
