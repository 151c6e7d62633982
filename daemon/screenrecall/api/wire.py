"""HTTP/1.1 as the API client speaks it: one request per connection (Connection: close), a reply read
by Content-Length, chunked transfer coding or to the end of the connection.

Enough for our own daemon's replies (aiohttp's), not a general client: no redirects, no keep-alive,
no compression (the request asks for none).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from io import BufferedReader

MAX_HEAD_LINE = 65536  # bytes in the status line or a header line
MAX_HEADERS = 100
CHUNK = 65536


class WireError(Exception):
    """The reply is not HTTP/1.x as expected (or it was cut off)."""


class Reply:
    """A plain class, not a dataclass: dataclasses imports inspect (6 ms of a CLI command's start)."""

    def __init__(self, status: int, headers: dict[str, str], body: Iterator[bytes], reader: BufferedReader) -> None:
        self.status = status
        self.headers = headers  # names lower-cased
        self.body = body  # read as iterated; the connection must stay open until then
        self.reader = reader

    def close(self) -> None:
        """Closes the reply's reader (the socket itself closes once its owner closes it too)."""
        self.reader.close()


def exchange(sock: socket.socket, method: str, path: str, payload: bytes | None) -> Reply:
    """Sends one request and reads the reply's head; the body is read as Reply.body is iterated."""
    head = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close", "Accept-Encoding: identity"]
    if payload is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + (payload or b""))
    reader = sock.makefile("rb")
    try:
        status = _status(_line(reader))
        headers = _headers(reader)
        return Reply(status, headers, _body(reader, headers, method), reader)
    except BaseException:
        reader.close()
        raise


def lines(body: Iterable[bytes]) -> Iterator[bytes]:
    """The body's lines, without their line endings, as they arrive."""
    pending = b""
    for data in body:
        pending += data
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r")
    if pending:
        yield pending.rstrip(b"\r")


def _line(reader: BufferedReader) -> bytes:
    line = reader.readline(MAX_HEAD_LINE + 1)
    if len(line) > MAX_HEAD_LINE:
        raise WireError("a reply line is too long")
    if not line.endswith(b"\n"):
        raise WireError("the connection closed before the reply was complete")
    return line.rstrip(b"\r\n")


def _status(line: bytes) -> int:
    parts = line.split(maxsplit=2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise WireError(f"not an HTTP reply: {line[:80]!r}")
    return int(parts[1])


def _headers(reader: BufferedReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        line = _line(reader)
        if not line:
            return headers
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise WireError(f"a malformed header line: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    raise WireError(f"more than {MAX_HEADERS} header lines")


def _body(reader: BufferedReader, headers: dict[str, str], method: str) -> Iterator[bytes]:
    if method == "HEAD":
        return iter(())
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _chunked(reader)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise WireError(f"a bad Content-Length: {length!r}")
        return _exactly(reader, int(length))
    return iter(lambda: reader.read1(CHUNK), b"")  # to the end of the connection


def _exactly(reader: BufferedReader, length: int) -> Iterator[bytes]:
    left = length
    while left > 0:
        data = reader.read1(min(left, CHUNK))
        if not data:
            raise WireError(f"the connection closed {left} bytes before the reply's end")
        left -= len(data)
        yield data


def _chunked(reader: BufferedReader) -> Iterator[bytes]:
    while True:
        size_text = _line(reader).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise WireError(f"a bad chunk size: {size_text[:20]!r}") from None
        if size == 0:
            while _line(reader):  # trailers, up to the blank line
                pass
            return
        yield from _exactly(reader, size)
        if _line(reader):
            raise WireError("a chunk did not end where its size said")
