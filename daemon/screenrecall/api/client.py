"""A small client for the daemon's API over its Unix socket (stdlib only: the CLI and agents use it)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from screenrecall.errors import ScreenrecallError


class ApiError(ScreenrecallError):
    """The daemon answered with an error, or could not be reached (status None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiUnreachable(ApiError):  # noqa: N818 (an ApiError; "Error" twice would read badly)
    """Nothing answers on the socket: no daemon runs (callers may fall back to the store)."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: Path, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._socket_path))
            _check_server(sock, self._socket_path)
        except (OSError, ApiError):
            sock.close()
            raise
        self.sock = sock


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
        connection = _UnixConnection(self.socket_path, self.timeout)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            try:
                connection.connect()
            except OSError as exc:
                raise ApiUnreachable(f"no daemon answers on {self.socket_path} ({exc})") from None
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as exc:
            raise ApiError(f"the daemon's API at {self.socket_path} does not answer ({exc})") from None
        finally:
            connection.close()
        if response.status >= 400:
            raise ApiError(
                f"the daemon refused: {response.status} {data.decode(errors='replace').strip()}", response.status
            )
        return data

    def stream(self, embeddings: bool = False) -> Iterator[dict[str, Any]]:
        """Events from the awareness stream (server-sent events), until the daemon stops."""
        connection = _UnixConnection(self.socket_path, None)
        try:
            connection.request("GET", "/v1/stream" + ("?embeddings=1" if embeddings else ""))
            response = connection.getresponse()
            if response.status != 200:
                raise ApiError(f"the daemon refused the stream: {response.status}")
            for line in response:
                if line.startswith(b"data: "):
                    yield json.loads(line[len(b"data: ") :])
        except OSError as exc:
            raise ApiError(f"the daemon's API at {self.socket_path} does not answer ({exc})") from None
        finally:
            connection.close()
