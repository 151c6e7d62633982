"""A small client for the daemon's API over its Unix socket (stdlib only: the CLI and agents use it)."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from screenrecall.errors import ScreenrecallError


class ApiError(ScreenrecallError):
    """The daemon answered with an error, or could not be reached."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: Path, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._socket_path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


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
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as exc:
            raise ApiError(f"the daemon's API at {self.socket_path} does not answer ({exc})") from None
        finally:
            connection.close()
        if response.status >= 400:
            raise ApiError(f"the daemon refused: {response.status} {data.decode(errors='replace').strip()}")
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
