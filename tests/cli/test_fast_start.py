"""The CLI starts like a native tool: --help, --version and a search through the daemon import no heavy library."""

from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import REPO

# http.client is heavy too for a command that should start like a native tool: it imports ssl and email.
HEAVY = ("chromadb", "openvino", "numpy", "pydantic", "onnxruntime", "PIL", "http", "ssl", "email")
PROBE = """
import json, sys
from screenrecall.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(os.environ["HEAVY"])))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def probe(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, object], str]:
    """Runs the real entry point in a fresh interpreter; returns its exit code, heavy modules and stdout."""
    child_env = {**os.environ, **(env or {}), "HEAVY": json.dumps(HEAVY), "PYTHONPATH": str(REPO / "daemon")}
    done = subprocess.run(
        [sys.executable, "-c", "import os\n" + PROBE, *args],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return json.loads(done.stderr.strip().splitlines()[-1]), done.stdout


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_no_heavy_library(flag: str) -> None:
    result, out = probe(flag)
    assert result == {"code": 0, "heavy": []}
    assert "screenrecall" in out


class _Daemon(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _Answers(BaseHTTPRequestHandler):
    """Answers as the daemon's API would; the test is about what the client process imports."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)  # type: ignore[attr-defined]
        self._reply({"results": [_MOMENT]})

    def _reply(self, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        return None


_MOMENT = {
    "snippet": "the invoice from acme",
    "id": "abc",
    "score": 1.0,
    "captured_at": "2026-01-01T00:00:00+00:00",
    "last_seen": "2026-01-01T00:00:00+00:00",
    "captured_at_ms": 1_767_225_600_000,
    "last_seen_ms": 1_767_225_600_000,
    "source": "screen",
    "monitor": 1,
    "window_title": "Inbox",
    "app": "thunderbird",
    "path": "",
    "thumbnail": "",
    "host": "desk",
    "record_ids": ["abc"],
}


@pytest.fixture
def daemon_socket(tmp_path: Path) -> Iterator[tuple[Path, list[dict[str, object]]]]:
    socket_path = tmp_path / "run" / "screenrecall" / "api.sock"
    # Private, as a real $XDG_RUNTIME_DIR is: the client trusts no other (paths.runtime_dir).
    socket_path.parent.parent.mkdir(mode=0o700)
    socket_path.parent.mkdir(mode=0o700)
    server = _Daemon(str(socket_path), _Answers)
    server.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield socket_path, server.bodies  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_search_through_the_daemon_imports_no_heavy_library(
    daemon_socket: tuple[Path, list[dict[str, object]]],
) -> None:
    socket_path, bodies = daemon_socket
    env = {"XDG_RUNTIME_DIR": str(socket_path.parent.parent)}
    result, out = probe("search", "invoice from acme", "--app", "thunder", "--since", "2h", "--json", env=env)
    assert result == {"code": 0, "heavy": []}
    assert json.loads(out)[0]["snippet"] == "the invoice from acme"
    assert bodies[0]["text"] == "invoice from acme" and bodies[0]["app"] == "thunder"
    result, out = probe("search", "invoice", env=env)  # the table, too
    assert result == {"code": 0, "heavy": []} and "thunderbird" in out


def test_a_socket_nobody_answers_falls_back_to_the_store(tmp_path: Path) -> None:
    stale = tmp_path / "run" / "screenrecall" / "api.sock"
    stale.parent.mkdir(parents=True)
    stale.touch()  # left behind by a daemon that died
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "run"), "XDG_DATA_HOME": str(tmp_path / "data")}
    result, out = probe("search", "anything", "--json", env=env)
    assert result["code"] == 0 and json.loads(out) == []  # no store yet: the offline search finds nothing


def test_a_search_with_a_config_file_takes_the_fast_path_too(
    daemon_socket: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    socket_path, bodies = daemon_socket
    config = tmp_path / "screenrecall.toml"
    # Keys the fast path has no use for are left to the daemon; only api.socket is read from the file.
    config.write_text(f'[api]\nsocket = "{socket_path}"\n[store]\nflush_interval_s = 0.2\n[ocr]\nenabled = false\n')
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "elsewhere")}  # the socket is found through the file, not the default
    result, out = probe("--config", str(config), "search", "invoice", "--json", env=env)
    assert result == {"code": 0, "heavy": []}
    assert json.loads(out)[0]["id"] == "abc" and bodies[-1]["text"] == "invoice"


def test_a_config_file_the_fast_path_cannot_read_is_reported_by_the_full_path(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[api\nsocket = \n")
    env = {"XDG_RUNTIME_DIR": str(tmp_path / "run")}
    done = subprocess.run(
        [sys.executable, "-m", "screenrecall", "--config", str(config), "search", "x"],
        env={**os.environ, **env, "PYTHONPATH": str(REPO / "daemon")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1 and str(config) in done.stderr and "Traceback" not in done.stderr
