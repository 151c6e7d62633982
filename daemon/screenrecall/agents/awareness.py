"""Follows the daemon's awareness stream and keeps the recent novel moments for screenrecall://awareness.

A new record whose novelty (1 - cosine to the previous frame of its monitor) reaches the threshold
is kept and announced; so is OCR text arriving later for a kept moment. The stream is re-opened
when the daemon restarts.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from screenrecall.agents.activity import snippet
from screenrecall.agents.daemon import DaemonError, check_owner, not_running
from screenrecall.api.security import peer_uid
from screenrecall.recall.moments import iso

logger = logging.getLogger(__name__)

RETRY_S = (0.5, 1.0, 2.0, 5.0)  # waits between reconnects; the last repeats while the daemon is away


class Awareness:
    def __init__(self, socket_path: Path, threshold: float, keep: int, changed: Callable[[], Awaitable[None]]) -> None:
        self._socket_path = socket_path
        self.threshold = threshold
        self._moments: deque[dict[str, Any]] = deque(maxlen=keep)
        self._changed = changed
        self.connected = False
        self.problem = ""
        self.updated_ms = 0

    def snapshot(self) -> dict[str, Any]:
        """The resource's content: newest moment first."""
        return {
            "following": self.connected,
            "problem": self.problem,
            "novelty_threshold": self.threshold,
            "updated": iso(self.updated_ms) if self.updated_ms else None,
            "moments": list(reversed(self._moments)),
        }

    async def follow(self) -> None:
        """Runs until cancelled: reads the stream, reconnecting after a pause while the daemon is away."""
        failures = 0
        while True:
            try:
                await self._read_stream()
                self.problem = "the daemon stopped"
            except DaemonError as exc:
                self.problem = str(exc)
            except aiohttp.ClientConnectorError:
                self.problem = not_running(self._socket_path)
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                self.problem = f"the awareness stream failed: {exc}"
            if self.connected:
                failures = 0
            self.connected = False
            await anyio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
            failures += 1

    async def _read_stream(self) -> None:
        check_owner(self._socket_path)
        connector = aiohttp.UnixConnector(path=str(self._socket_path))
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.get("http://localhost/v1/stream") as response,
        ):
            _check_peer(response)
            if response.status != 200:
                raise DaemonError(f"the daemon refused the awareness stream: {response.status}", response.status)
            self.connected, self.problem = True, ""
            logger.info("following the awareness stream at %s", self._socket_path)
            async for line in response.content:
                if line.startswith(b"data: "):
                    await self.take(json.loads(line[len(b"data: ") :]))

    async def take(self, event: dict[str, Any]) -> None:
        """One stream event: kept and announced when novel enough, or text for a kept moment."""
        if event.get("type") == "record" and float(event.get("novelty", 0.0)) >= self.threshold:
            self._moments.append(_moment(event))
        elif event.get("type") == "text" and (kept := self._find(event.get("id"))) is not None:
            kept["snippet"] = snippet(event.get("text", ""))
        else:
            return
        self.updated_ms = int(event.get("time_ms", 0)) or self.updated_ms
        await self._changed()

    def _find(self, record_id: Any) -> dict[str, Any] | None:
        return next((m for m in self._moments if m["id"] == record_id), None)


def _moment(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event["id"],
        "time": event.get("time", ""),
        "monitor": event.get("monitor", 0),
        "app": event.get("app", ""),
        "window_title": event.get("window_title", ""),
        "source": event.get("source", ""),
        "novelty": event.get("novelty", 0.0),
        "snippet": snippet(event.get("text", "")),
    }


def _check_peer(response: aiohttp.ClientResponse) -> None:
    """The process answering must run as this user (SO_PEERCRED), whoever owns the socket file."""
    transport = response.connection.transport if response.connection else None
    sock = transport.get_extra_info("socket") if transport else None
    # asyncio hands out a TransportSocket wrapper; it has getsockopt, which is all peer_uid needs.
    if sock is not None and sock.family == socket.AF_UNIX and peer_uid(sock) != os.getuid():
        raise DaemonError("the process behind the daemon's socket runs as another user; refusing to follow it")
