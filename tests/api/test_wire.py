"""The client's HTTP/1.1: replies by length, chunked or to the end of the connection; cut or foreign
replies are errors, never a silent partial answer."""

from __future__ import annotations

import socket
import threading

import pytest

from screenrecall.api import wire


def exchange_with(reply: bytes, method: str = "POST", payload: bytes | None = b'{"q": 1}') -> tuple[wire.Reply, bytes]:
    """Our side of a real socket pair whose other end sends `reply` (in two pieces) and hangs up."""
    ours, theirs = socket.socketpair()
    received: list[bytes] = []

    def serve() -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += theirs.recv(4096)
        head, _, rest = request.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
        )
        while len(rest) < length:
            rest += theirs.recv(4096)
        received.append(request)
        half = len(reply) // 2
        theirs.sendall(reply[:half])
        theirs.sendall(reply[half:])
        theirs.close()

    server = threading.Thread(target=serve)
    server.start()
    try:
        got = wire.exchange(ours, method, "/v1/search", payload)
        try:
            body = b"".join(got.body)
        finally:
            got.close()
    finally:
        ours.close()
        server.join()
    return got, received[0] + b"|" + body


def test_a_reply_is_read_by_its_length_and_the_request_says_what_it_sends() -> None:
    reply, seen = exchange_with(b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\n{"ok": 1}\r\nignored')
    request, body = seen.split(b"|")
    assert reply.status == 200 and reply.headers["x-a"] == "b"
    assert body == b'{"ok": 1}\r\n'
    assert request.startswith(b"POST /v1/search HTTP/1.1\r\n")
    assert b"Content-Length: 8\r\n" in request and b"Connection: close\r\n" in request


def test_a_chunked_reply_is_joined_and_its_extensions_and_trailers_skipped() -> None:
    chunks = b"4;ext=1\r\ndata\r\n6\r\n: one\n\r\n0\r\nTrailer: x\r\n\r\n"
    _, seen = exchange_with(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    assert seen.split(b"|")[1] == b"data: one\n"


def test_a_reply_without_length_runs_to_the_end_of_the_connection() -> None:
    reply, seen = exchange_with(b"HTTP/1.0 404 Not Found\r\n\r\nno such thing", method="GET", payload=None)
    assert reply.status == 404 and seen.split(b"|")[1] == b"no such thing"


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\ntoo short",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Len",
    ],
)
def test_a_cut_or_foreign_reply_is_an_error(reply: bytes) -> None:
    with pytest.raises(wire.WireError):
        exchange_with(reply)


def test_lines_split_where_the_data_says_whatever_the_pieces() -> None:
    pieces = [b'data: {"a"', b": 1}\r\n\r\ndata: 2\n", b"tail"]
    assert list(wire.lines(pieces)) == [b'data: {"a": 1}', b"", b"data: 2", b"tail"]
