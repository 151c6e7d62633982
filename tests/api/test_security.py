"""Who may use the API: its own user on the 0600 Unix socket; token holders on loopback TCP, never a web page."""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from screenrecall.api.security import (
    TOKEN_FILE,
    ApiSecurityError,
    load_or_create_token,
    origin_allowed,
    require_loopback,
    token_matches,
)
from screenrecall.app import App
from screenrecall.config import ConfigError
from tests.support.as_nobody import as_nobody
from tests.support.chroma_server import free_port
from tests.support.recall import Daemons, Reply, http_tcp, http_unix, private_xdg, recall_config, running_app

# --- the rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_addresses_may_be_bound(host: str) -> None:
    require_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "localhost", "example.com", ""])
def test_any_other_bind_address_is_refused_naming_it(host: str) -> None:
    with pytest.raises(ApiSecurityError, match=re.escape(f"api.tcp_host = {host!r} is not a loopback address")):
        require_loopback(host)


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ("Bearer s3cret-token", True),
        ("Bearer s3cret-token  ", True),
        ("Bearer s3cret-toke", False),
        ("Bearer s3cret-token-and-more", False),
        ("bearer s3cret-token", False),
        ("s3cret-token", False),
        ("Basic czNjcmV0LXRva2Vu", False),
        ("Bearer ", False),
        ("", False),
        (None, False),
    ],
)
def test_only_the_exact_bearer_token_matches(header: str | None, matches: bool) -> None:
    assert token_matches(header, "s3cret-token") is matches


def test_the_token_is_made_once_into_a_private_file(tmp_path: Path) -> None:
    token = load_or_create_token(tmp_path)
    path = tmp_path / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 40 and token == path.read_text().strip()
    assert load_or_create_token(tmp_path) == token  # stable across restarts
    path.write_text("")
    assert load_or_create_token(tmp_path) not in ("", token)  # an emptied file gets a new token


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a browser
        ("http://127.0.0.1:8765", True),
        ("http://localhost:8765", True),
        ("http://[::1]:8765", True),
        ("http://evil.example", False),
        ("http://127.0.0.1.evil.example:8765", False),
        ("http://127.0.0.1:9999", False),
        ("https://127.0.0.1:8765", False),
        ("null", False),
    ],
)
def test_browsers_may_only_call_from_the_apis_own_origin(origin: str | None, allowed: bool) -> None:
    assert origin_allowed(origin, 8765) is allowed


# --- the running API ---------------------------------------------------------------------------------


@dataclass
class Served:
    app: App
    socket: Path
    port: int

    @property
    def token(self) -> str:
        return (self.socket.parent / TOKEN_FILE).read_text().strip()

    def tcp(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> Reply:
        reply = http_tcp(self.port, method, path, body, headers)
        assert "Access-Control-Allow-Origin" not in reply.headers, f"{method} {path}: a CORS header was sent"
        return reply

    def bearer(self, **more: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **more}


@pytest.fixture(scope="module")
def served(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """An App serving both the socket and a TCP port; the socket sits in a dir other users may enter."""
    shared = Path(tempfile.mkdtemp(prefix="screenrecall-api-"))  # pytest's tmp dirs are 0700: nobody stops there
    shared.chmod(0o711)
    port = free_port()
    try:
        with private_xdg(tmp_path_factory.mktemp("security")):
            socket_path = shared / "api" / "api.sock"
            config = recall_config(tiny_bundle, {"api": {"socket": str(socket_path), "tcp_port": port}})
            with running_app(config) as app:
                yield Served(app, socket_path, port)
    finally:
        shutil.rmtree(shared)


def test_the_socket_is_0600_in_a_0700_dir_and_the_token_file_0600(served: Served) -> None:
    assert stat.S_ISSOCK(served.socket.stat().st_mode)
    assert stat.S_IMODE(served.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(served.socket.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((served.socket.parent / TOKEN_FILE).stat().st_mode) == 0o600


def test_the_socket_serves_its_own_user_without_a_token(served: Served) -> None:
    assert http_unix(served.socket, "GET", "/v1/status").status == 200


@pytest.mark.parametrize("path", ["/v1/status", "/v1/openapi.json", "/v1/stream", "/v1/records/0"])
def test_tcp_without_a_token_is_401(served: Served, path: str) -> None:
    reply = served.tcp("GET", path)
    assert reply.status == 401
    assert "bearer token" in reply.text


def test_tcp_with_a_wrong_token_is_401(served: Served) -> None:
    assert served.tcp("GET", "/v1/status", {"Authorization": "Bearer not-the-token"}).status == 401
    assert served.tcp("GET", "/v1/status", {"Authorization": served.token}).status == 401  # no scheme


def test_tcp_with_the_token_is_served(served: Served) -> None:
    reply = served.tcp("GET", "/v1/status", served.bearer())
    assert reply.status == 200 and reply.json()["running"] is True
    own_origin = served.bearer(Origin=f"http://localhost:{served.port}", Host=f"localhost:{served.port}")
    assert served.tcp("GET", "/v1/status", own_origin).status == 200


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "evil.example", "127.0.0.1.nip.io:{port}", "127.0.0.1:1", "192.168.1.20:{port}"]
)
def test_tcp_with_a_foreign_host_header_is_403_even_with_the_token(served: Served, host: str) -> None:
    # DNS rebinding: a page at evil.example whose name now resolves to 127.0.0.1 sends its own Host.
    reply = served.tcp("GET", "/v1/status", served.bearer(Host=host.format(port=served.port)))
    assert reply.status == 403
    assert "Host" in reply.text


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1"])
def test_tcp_with_a_foreign_origin_is_403_even_with_the_token(served: Served, origin: str) -> None:
    reply = served.tcp("POST", "/v1/pause", served.bearer(Origin=origin), b"{}")
    assert reply.status == 403
    assert served.app.pause.state().paused is False


def test_a_cors_preflight_is_not_granted(served: Served) -> None:
    headers = {
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    reply = served.tcp("OPTIONS", "/v1/search", headers)
    assert reply.status >= 400
    assert not any(name.lower().startswith("access-control-") for name in reply.headers)


@pytest.mark.parametrize("path", ["/v1/search", "/v1/pause", "/v1/resume", "/v1/forget"])
def test_state_changing_endpoints_refuse_get_on_tcp_too(served: Served, path: str) -> None:
    assert served.tcp("GET", path, served.bearer()).status == 405
    assert served.app.pause.state().paused is False


def _as_nobody(socket_path: Path) -> str:
    """What a process of another user gets from the socket: the HTTP status line, or the errno name."""

    def connect() -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            try:
                sock.connect(str(socket_path))
            except OSError as exc:
                return errno.errorcode.get(exc.errno or 0, str(exc))
            sock.sendall(b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return sock.recv(4096).split(b"\r\n", 1)[0].decode()

    return as_nobody(connect)


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user needs root (to setuid to nobody)")
def test_another_user_is_refused_by_the_file_modes_and_then_by_the_peer_check(served: Served) -> None:
    # As installed: the 0700 dir (and the 0600 socket) stop another user at connect(), with EACCES.
    assert _as_nobody(served.socket) == "EACCES"
    # Were the modes loosened by mistake, SO_PEERCRED still turns the other user away, with 403.
    served.socket.parent.chmod(0o711)
    served.socket.chmod(0o666)
    try:
        assert _as_nobody(served.socket) == "HTTP/1.1 403 Forbidden"
    finally:
        served.socket.chmod(0o600)
        served.socket.parent.chmod(0o700)
    assert http_unix(served.socket, "GET", "/v1/status").status == 200  # its own user still gets in


def test_a_non_loopback_address_is_refused_when_the_config_is_loaded(tiny_bundle: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("api.tcp_host = '0.0.0.0'") + ".*loopback only"):
        recall_config(tiny_bundle, {"api": {"tcp_port": free_port(), "tcp_host": "0.0.0.0"}})


@pytest.mark.slow
def test_the_daemon_exits_1_at_start_up_when_asked_to_listen_beyond_loopback(tmp_path: Path, tiny_bundle: Path) -> None:
    daemons = Daemons(tmp_path, tiny_bundle)
    try:
        config: dict[str, dict[str, Any]] = {
            "capture": {"enabled": False},
            "api": {"tcp_port": free_port(), "tcp_host": "0.0.0.0"},
        }
        daemon = daemons.make(config).start(wait_running=False)
        assert daemon.wait_exit(60) == 1
        log = daemon.log()
        assert "api.tcp_host = '0.0.0.0'" in log and "loopback only" in log
        assert "use 127.0.0.1 or ::1" in log
        assert "Traceback" not in log
    finally:
        daemons.close()
