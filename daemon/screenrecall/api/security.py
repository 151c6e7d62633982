"""Who may talk to the API: same-uid peers on the Unix socket; token holders on loopback TCP.

A loopback port is not a security boundary against web pages in the user's browser (DNS
rebinding, cross-origin requests), so TCP requests also need a bearer token and must carry our own
Host and no foreign Origin; no CORS header is ever sent.
"""

from __future__ import annotations

import hmac
import os
import secrets
import socket
import stat
import struct
from pathlib import Path

from screenrecall.config import is_loopback
from screenrecall.errors import ScreenrecallError

TOKEN_FILE = "api-token"


class ApiSecurityError(ScreenrecallError):
    """The API cannot be served safely as configured."""


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
    """The bearer token, generated at first use into a 0600 file.

    Opened with O_NOFOLLOW and checked by fstat: a symlink planted in its place or a file of another
    user is refused; a token file others could read is replaced, since the token may have leaked.
    """
    path = directory / TOKEN_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return _new_token(path)
    except OSError as exc:  # ELOOP: a symlink
        raise ApiSecurityError(f"{path} cannot be opened safely ({exc.strerror}); remove it") from None
    with os.fdopen(fd, "r", encoding="utf-8") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            raise ApiSecurityError(f"{path} is not our own file (uid {info.st_uid}); remove it")
        token = handle.read().strip() if not info.st_mode & 0o077 else ""
    if token:
        return token
    path.unlink()  # empty, or readable by others: a new one
    return _new_token(path)


def _new_token(path: Path) -> str:
    token = secrets.token_urlsafe(32)
    # O_EXCL | O_NOFOLLOW: never write through a file or link someone else put there meanwhile.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
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
