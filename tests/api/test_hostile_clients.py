"""Clients that hold connections open, flood them, or send what JSON and HTTP do not allow: refused, never a 500."""

from __future__ import annotations

import dataclasses
import json
import resource
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from screenrecall.api import server as api_server
from screenrecall.app import App
from screenrecall.pipeline.messages import Record, Window
from screenrecall.store.layout import record_id_for_screen
from screenrecall.system.limits import raise_open_files_limit
from tests.support.chroma_server import free_port
from tests.support.daemon import wait_until
from tests.support.recall import http_tcp, http_unix, post_json, private_xdg, recall_config, running_app

TOKEN_FILE = "api-token"


@dataclass
class Served:
    app: App
    port: int
    socket: Path  # resolved in the fixture's XDG dirs (each test gets other ones)

    def bearer(self) -> dict[str, str]:
        token = (self.socket.parent / TOKEN_FILE).read_text().strip()
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def served(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    port = free_port()
    with private_xdg(tmp_path_factory.mktemp("hostile")) as patch:
        patch.setattr(api_server, "IDLE_TIMEOUT_S", 1.0)
        patch.setattr(api_server, "MAX_CONNECTIONS", 6)
        with running_app(recall_config(tiny_bundle, {"api": {"tcp_port": port}})) as app:
            yield Served(app, port, app.config.socket_path())


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False


@pytest.mark.parametrize("sent", [b"", b"GET /v1/status HTTP/1.1\r\nHo"], ids=["idle", "half-sent-headers"])
def test_idle_and_half_sent_connections_are_closed(served: Served, sent: bytes) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(sent)
        began = time.monotonic()
        assert _closed_within(sock, 10), "the connection was kept open"
        assert time.monotonic() - began < 5


def test_connections_past_the_cap_are_closed_and_the_others_still_served(served: Served) -> None:
    with ExitStack() as stack:
        held = [stack.enter_context(socket.create_connection(("127.0.0.1", served.port))) for _ in range(6)]
        time.sleep(0.3)
        extra = stack.enter_context(socket.create_connection(("127.0.0.1", served.port)))
        assert _closed_within(extra, 2)
        held[0].sendall(b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        held[0].settimeout(10)
        assert held[0].recv(64).startswith(b"HTTP/1.1 4")  # answered (a refusal: no token)
    # The server counts those connections until it has seen them close (slow on a loaded machine):
    # the next test must not find the cap still full.
    wait_until(lambda: _answers(served), 30, "the capped connections to be released")


def _answers(served: Served) -> bool:
    try:
        return http_tcp(served.port, "GET", "/v1/status", headers=served.bearer()).status == 200
    except OSError:
        return False


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e300"])
def test_non_finite_or_huge_numbers_are_a_400(served: Served, value: str) -> None:
    body = f'{{"for_s": {value}}}'.encode()
    reply = http_tcp(served.port, "POST", "/v1/pause", body, served.bearer())
    assert reply.status == 400, reply.text
    assert not served.app.pause.state().paused
    search = http_unix(served.socket, "POST", "/v1/search", f'{{"text": "x", "limit": {value}}}'.encode())
    assert search.status == 400, search.text


def test_a_non_utf8_authorization_header_is_a_401(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        host = f"Host: 127.0.0.1:{served.port}\r\n".encode()
        sock.sendall(b"GET /v1/status HTTP/1.1\r\n" + host + b"Authorization: Bearer \xff\xfe\x80\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(64).startswith(b"HTTP/1.1 401")


def test_the_thumbnail_route_never_serves_the_path_stored_in_the_record(served: Served, tmp_path: Path) -> None:
    secret = tmp_path / "secret.webp"
    secret.write_bytes(b"not yours")
    assert served.app.pipeline is not None
    store = served.app.pipeline.store
    record = Record(
        id=record_id_for_screen(1, 1_790_000_000_000, "elsewhere"),
        embedding=np.eye(16, dtype=np.float32)[0],
        captured_at_ms=1_790_000_000_000,
        last_seen_ms=1_790_000_000_000,
        source="screen",
        monitor=1,
        path="",
        window=Window("t", "a"),
        width=10,
        height=10,
        host="elsewhere",
    )
    # Another machine on a shared store wrote this metadata.
    store.add([dataclasses.replace(record, thumbnail=str(secret))])
    reply = http_unix(served.socket, "GET", f"/v1/records/{record.id}/thumbnail")
    assert reply.status == 404 and b"not yours" not in reply.body


def test_a_query_image_is_decoded_off_the_event_loop(served: Served) -> None:
    # A bad image still gets its 400 from the decoder, now run on the executor.
    reply = post_json(served.socket, "/v1/search", {"image_b64": "aGVsbG8="})
    assert reply.status == 400 and "image" in reply.text
    assert json.loads(http_unix(served.socket, "GET", "/v1/status").body)["running"]


def test_the_open_files_limit_is_raised_up_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        got = raise_open_files_limit(4096)
        expected = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
        assert got == expected == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
