"""The running daemon as the MCP server sees it: its API over the Unix socket, same user only."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any

import anyio.to_thread

from screenrecall.api.client import ApiClient, ApiError
from screenrecall.errors import ScreenrecallError


class DaemonError(ScreenrecallError):
    """The daemon could not answer (not running, another user's, or it refused the request)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def not_running(socket_path: Path) -> str:
    return (
        f"the screenrecall daemon is not running (nothing answers on {socket_path}); "
        "start it with `screenrecall run` or `systemctl --user start screenrecall`"
    )


def check_owner(socket_path: Path) -> None:
    """Refuses a socket that belongs to another user: its memory is not ours to hand to an agent.

    The daemon checks its peers too (SO_PEERCRED); this says so clearly instead of a bare 403.
    """
    try:
        owner = socket_path.stat().st_uid
    except FileNotFoundError:
        return  # not running: each call says so
    except PermissionError:
        # A directory we cannot enter: it is not ours (the daemon makes it 0700 for its own user).
        raise DaemonError(f"{socket_path} belongs to another user; run `screenrecall mcp` as that user") from None
    if owner != os.getuid():
        raise DaemonError(
            f"the daemon's socket {socket_path} belongs to uid {owner}, not to this user (uid {os.getuid()}); "
            "run `screenrecall mcp` as the user whose daemon it is"
        )


class DaemonApi:
    """Blocking ApiClient calls run on worker threads, so the MCP event loop stays responsive."""

    def __init__(self, socket_path: Path, timeout: float = 60.0) -> None:
        self.socket_path = socket_path
        self._client = ApiClient(socket_path, timeout)

    async def get(self, path: str, **query: Any) -> Any:
        return await self._call("GET", _with_query(path, query), None, raw=False)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        return await self._call("POST", path, body, raw=False)

    async def get_bytes(self, path: str) -> bytes:
        data: bytes = await self._call("GET", path, None, raw=True)
        return data

    async def _call(self, method: str, path: str, body: dict[str, Any] | None, raw: bool) -> Any:
        check_owner(self.socket_path)
        if not self.socket_path.exists():
            raise DaemonError(not_running(self.socket_path))
        request = self._client.request_bytes if raw else self._client.request
        try:
            return await anyio.to_thread.run_sync(request, method, path, body)
        except ApiError as exc:
            if exc.status is None:
                raise DaemonError(not_running(self.socket_path)) from None
            raise DaemonError(_refusal(exc), exc.status) from None


def _with_query(path: str, query: dict[str, Any]) -> str:
    present = {key: str(value) for key, value in query.items() if value is not None}
    return f"{path}?{urllib.parse.urlencode(present)}" if present else path


def _refusal(exc: ApiError) -> str:
    # "the daemon refused: 400 limit must be 1..200" -> the daemon's own words are the useful part.
    message = str(exc)
    prefix = f"the daemon refused: {exc.status} "
    return message[len(prefix) :] if message.startswith(prefix) else message
