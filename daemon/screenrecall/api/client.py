"""A small client for the daemon's API over its Unix socket (the CLI and agents use it): the standard
library's socket and json only, with HTTP/1.1 spoken by api/wire.py, so a CLI command that asks the
daemon starts fast (http.client alone imports ssl and email: 18 ms)."""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from screenrecall.api import wire
from screenrecall.errors import ScreenrecallError


class ApiError(ScreenrecallError):
    """The daemon answered with an error, or could not be reached (status None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiUnreachable(ApiError):  # noqa: N818 (an ApiError; "Error" twice would read badly)
    """Nothing answers on the socket: no daemon runs (callers may fall back to the store)."""


def _check_server(sock: socket.socket, path: Path) -> None:
    """Refuses a socket served by another user before anything (a query, a token) is sent: someone
    who got to create the socket path first must not read our searches."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    if uid != os.getuid():
        raise ApiError(f"the socket {path} is served by uid {uid}, not by us; nothing was sent")


class ApiClient:
    def __init__(self, socket_path: Path, timeout: float = 60.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def available(self) -> bool:
        """True when a daemon answers on the socket."""
        try:
            self.request("GET", "/v1/status")
        except ApiError:
            return False
        return True

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        raw = self.request_bytes(method, path, body)
        return json.loads(raw) if raw else None

    def request_bytes(self, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
        payload = None if body is None else json.dumps(body).encode()
        sock = self._connect(self.timeout)
        try:
            reply = wire.exchange(sock, method, path, payload)
            try:
                data = b"".join(reply.body)
            finally:
                reply.close()
        except (OSError, wire.WireError) as exc:
            raise ApiError(f"the daemon's API at {self.socket_path} does not answer ({exc})") from None
        finally:
            sock.close()
        if reply.status >= 400:
            raise ApiError(f"the daemon refused: {reply.status} {data.decode(errors='replace').strip()}", reply.status)
        return data

    def stream(self, embeddings: bool = False) -> Iterator[dict[str, Any]]:
        """Events from the awareness stream (server-sent events), until the daemon stops."""
        sock = self._connect(None)
        try:
            reply = wire.exchange(sock, "GET", "/v1/stream" + ("?embeddings=1" if embeddings else ""), None)
            try:
                if reply.status != 200:
                    raise ApiError(f"the daemon refused the stream: {reply.status}")
                for line in wire.lines(reply.body):
                    if line.startswith(b"data: "):
                        yield json.loads(line[len(b"data: ") :])
            finally:
                reply.close()
        except (OSError, wire.WireError) as exc:
            raise ApiError(f"the daemon's API at {self.socket_path} does not answer ({exc})") from None
        finally:
            sock.close()

    def _connect(self, timeout: float | None) -> socket.socket:
        """A connection to a daemon of our own user; ApiUnreachable when nothing listens."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(self.socket_path))
            _check_server(sock, self.socket_path)
        except OSError as exc:
            sock.close()
            raise ApiUnreachable(f"no daemon answers on {self.socket_path} ({exc})") from None
        except ApiError:
            sock.close()
            raise
        return sock
