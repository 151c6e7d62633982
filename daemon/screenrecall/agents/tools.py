"""The tools agents call (names fixed: search_screen, get_moment, recent_activity, current_screen, forget).

Everything they return comes from the daemon's API, so it is already redacted, and windows the
user excluded were never stored.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp_types import CallToolResult, ContentBlock, ImageContent, TextContent, Tool

from screenrecall.agents import activity
from screenrecall.agents.arguments import (
    ArgumentError,
    CurrentScreen,
    Forget,
    GetMoment,
    RecentActivity,
    SearchScreen,
    input_schema,
    parsed,
    time_range,
)
from screenrecall.agents.daemon import DaemonApi, DaemonError
from screenrecall.recall.moments import iso

MAX_TEXT_CHARS = 8000  # a moment's OCR text handed to an agent; a dense screen can hold far more
# current_screen looks this far back, widening until a monitor has a record (an idle monitor's
# record is extended while the daemon runs, so the first window usually answers).
CURRENT_WINDOWS_MS = (10 * 60_000, 24 * 3_600_000, 30 * 24 * 3_600_000)
LISTING_LIMIT = 1000  # the API's most records per listing


@dataclass(frozen=True)
class ToolSpec:
    tool: Tool
    run: Callable[[dict[str, Any] | None], Awaitable[CallToolResult]]


class Tools:
    def __init__(self, daemon: DaemonApi, allow_forget: bool) -> None:
        self._daemon = daemon
        specs = [
            self._spec("search_screen", SearchScreen, self.search_screen, "Find moments on screen by words or look."),
            self._spec(
                "get_moment", GetMoment, self.get_moment, "One moment: its text, metadata and the frame as an image."
            ),
            self._spec(
                "recent_activity",
                RecentActivity,
                self.recent_activity,
                "What was on screen lately, per app and window: time spent and the moments, newest first.",
            ),
            self._spec(
                "current_screen",
                CurrentScreen,
                self.current_screen,
                "What is on screen now: the latest moment of each monitor seen in the last 10 minutes "
                "(else the most recently seen), with its text.",
            ),
        ]
        if allow_forget:
            specs.append(
                self._spec(
                    "forget", Forget, self.forget, "Delete everything seen in a time range (records and thumbnails)."
                )
            )
        self.specs = {spec.tool.name: spec for spec in specs}

    @staticmethod
    def _spec(name: str, model: type[Any], run: Callable[[Any], Awaitable[CallToolResult]], text: str) -> ToolSpec:
        async def call(arguments: dict[str, Any] | None) -> CallToolResult:
            return await run(parsed(model, arguments))

        return ToolSpec(Tool(name=name, description=text, input_schema=input_schema(model)), call)

    async def search_screen(self, args: SearchScreen) -> CallToolResult:
        since, until = time_range(args.since, args.until)
        body: dict[str, Any] = {"text": args.query, "limit": args.limit, "mode": args.mode}
        for key, value in (
            ("since_ms", since),
            ("until_ms", until),
            ("app", args.app),
            ("monitor", args.monitor),
            ("source", args.source),
        ):
            if value is not None:
                body[key] = value
        results = (await self._daemon.post("/v1/search", body))["results"]
        return _result({"moments": [_moment_json(m) for m in results]})

    async def get_moment(self, args: GetMoment) -> CallToolResult:
        path = "/v1/records/" + urllib.parse.quote(args.id, safe="")
        try:
            record = await self._daemon.get(path)
        except DaemonError as exc:
            if exc.status == 404:
                raise ArgumentError(f"id: no moment with id {args.id!r} (it may have been forgotten)") from None
            raise
        data = _moment_json(record)
        data["text"], data["text_truncated"] = _clipped(record.get("text", ""))
        data["width"], data["height"] = record.get("width"), record.get("height")
        content: list[ContentBlock] = []
        if args.include_image:
            image = await self._frame(path)
            data["image"] = image[1] if image else "none kept"
            if image:
                content.append(image[0])
        return _result(data, extra=content)

    async def _frame(self, path: str) -> tuple[ImageContent, str] | None:
        """The readable frame when the daemon keeps one (`/frame`), else the thumbnail; None if neither."""
        for kind in ("frame", "thumbnail"):
            try:
                data = await self._daemon.get_bytes(f"{path}/{kind}")
            except DaemonError as exc:
                if exc.status == 404:
                    continue  # not kept for this record, or a daemon without that endpoint
                raise
            mime = _image_type(data)
            if mime is not None:
                return ImageContent(type="image", data=base64.b64encode(data).decode(), mime_type=mime), kind
        return None

    async def recent_activity(self, args: RecentActivity) -> CallToolResult:
        now_ms = int(time.time() * 1000)
        since_ms = now_ms - int(args.minutes * 60_000)
        listing = await self._daemon.get("/v1/records", since_ms=since_ms, source="screen", limit=LISTING_LIMIT)
        records = listing["records"]
        return _result(
            {
                "since": iso(since_ms),
                "until": iso(now_ms),
                "records": len(records),
                "complete": len(records) < LISTING_LIMIT,
                "windows": activity.summarize(records, since_ms, now_ms),
            }
        )

    async def current_screen(self, args: CurrentScreen) -> CallToolResult:
        now_ms = int(time.time() * 1000)
        latest: dict[int, dict[str, Any]] = {}
        for window_ms in CURRENT_WINDOWS_MS:
            listing = await self._daemon.get(
                "/v1/records", since_ms=now_ms - window_ms, source="screen", monitor=args.monitor, limit=LISTING_LIMIT
            )
            for record in listing["records"]:  # newest first: the first of a monitor is its latest
                latest.setdefault(int(record["monitor"]), record)
            if latest:
                break
        monitors = []
        for monitor in sorted(latest):
            record = latest[monitor]
            entry = _moment_json(record)
            entry["seen_s_ago"] = round(max(0, now_ms - int(record["last_seen_ms"])) / 1000, 1)
            entry["text"], entry["text_truncated"] = _clipped(record.get("text", ""))
            monitors.append(entry)
        return _result({"monitors": monitors})

    async def forget(self, args: Forget) -> CallToolResult:
        since, until = time_range(args.since, args.until)
        assert since is not None and until is not None  # both are required arguments
        answer = await self._daemon.post("/v1/forget", {"since_ms": since, "until_ms": until})
        return _result({"forgotten": answer["forgotten"], "since": iso(since), "until": iso(until)})


def _moment_json(item: dict[str, Any]) -> dict[str, Any]:
    """The fields an agent reasons over (no local thumbnail paths, no embeddings)."""
    out: dict[str, Any] = {
        "id": item["id"],
        "time": item["captured_at"],
        "last_seen": item["last_seen"],
        "app": item.get("app", ""),
        "window_title": item.get("window_title", ""),
        "source": item.get("source", ""),
        "monitor": item.get("monitor", 0),
    }
    if "score" in item:
        out["score"] = item["score"]
    if "snippet" in item:
        out["snippet"] = item["snippet"]
    if item.get("path"):
        out["path"] = item["path"]
    if item.get("host"):
        out["host"] = item["host"]
    return out


def _clipped(text: str) -> tuple[str, bool]:
    return (text, False) if len(text) <= MAX_TEXT_CHARS else (text[:MAX_TEXT_CHARS], True)


def _image_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _result(data: dict[str, Any], extra: list[ContentBlock] | None = None) -> CallToolResult:
    text = TextContent(type="text", text=json.dumps(data, indent=1, ensure_ascii=False))
    return CallToolResult(content=[text, *(extra or [])], structured_content=data)
