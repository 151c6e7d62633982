"""Who may talk to the API: same-uid peers on the Unix socket; token holders on loopback TCP.

A loopback port is not a security boundary against web pages in the user's browser (DNS
rebinding, cross-origin requests), so TCP requests also need a bearer token and must carry our own
Host and no foreign Origin; no CORS header is ever sent.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import socket
import struct
from pathlib import Path

from screenrecall.errors import ScreenrecallError

TOKEN_FILE = "api-token"


class ApiSecurityError(ScreenrecallError):
    """The API cannot be served safely as configured."""


def is_loopback(host: str) -> bool:
    """True for a loopback IP literal (a host name could resolve anywhere, so it does not count)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(host: str) -> None:
    """Refuses any bind address that is not a loopback IP; config validation already does, this
    keeps the server safe however its config was made."""
    if not is_loopback(host):
        raise ApiSecurityError(
            f"api.tcp_host = {host!r} is not a loopback address; the API only listens on this machine "
            "(use 127.0.0.1 or ::1)"
        )


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def load_or_create_token(directory: Path) -> str:
    """The bearer token, generated at first use into a 0600 file."""
    path = directory / TOKEN_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


def token_matches(header: str | None, token: str) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    # Constant-time: the comparison must not leak how much of a guess was right.
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())


def allowed_hosts(port: int) -> frozenset[str]:
    names = ("127.0.0.1", "localhost", "[::1]")
    return frozenset(f"{name}:{port}" for name in names)


def origin_allowed(origin: str | None, port: int) -> bool:
    """No Origin (a non-browser client) is fine; a browser page must be our own origin."""
    if origin is None:
        return True
    return origin in {f"http://{host}" for host in allowed_hosts(port)}
