"""Recall test helpers: the daemon's App in this process, images with known looks and times, schema checks."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
import numpy as np
import pytest
from PIL import Image

from screenrecall import paths
from screenrecall.api.client import ApiClient
from screenrecall.app import App
from screenrecall.config import Config, validate
from screenrecall.pipeline.messages import FileJob, Frame, Pixels, Window
from tests.support.daemon import FAST_CONFIG, Daemon, merged, toml_of, wait_until

OPENAPI = Path(__file__).resolve().parents[2] / "daemon" / "screenrecall" / "api" / "openapi.json"

# Solid colours the tiny random-weight model keeps apart (pairwise cosine < 0.9, measured), so a
# query by one of them finds its own record first and near-duplicate merging never joins them.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
}

# FAST_CONFIG, typed as the config layer it is.
FAST: Mapping[str, Mapping[str, Any]] = cast(Mapping[str, Mapping[str, Any]], FAST_CONFIG)

IN_PROCESS_CONFIG: dict[str, dict[str, Any]] = merged(
    FAST,
    {
        "capture": {"enabled": False, "max_queue_frames": 256},
        "store": {"host": "testhost", "flush_interval_s": 0.05},
        # Every frame is its own record (nothing is folded into the previous one by the writer), so
        # merging into moments is left to the search.
        "dedup": {"cosine": 1.0},
    },
)


def solid(colour: str, size: tuple[int, int] = (160, 100), mark: int = 0) -> Pixels:
    """One colour; mark > 0 adds a small dark square at a place of its own: a near-identical variant."""
    width, height = size
    pixels = np.full((height, width, 3), COLOURS[colour], dtype=np.uint8)
    if mark:
        x = (mark * 12) % (width - 10)
        pixels[4:14, x : x + 10] = (40, 40, 40)
    return pixels


def png_of(pixels: Pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_image(folder: Path, name: str, colour: str, mtime_s: float) -> Path:
    """A finished image file with this mtime (folder records are captured_at their file's mtime)."""
    staging = folder.parent / f".staging-{name}"
    staging.write_bytes(png_of(solid(colour)))
    os.utime(staging, (mtime_s, mtime_s))
    target = folder / name
    staging.rename(target)  # rename keeps the mtime, and the watcher sees a complete file
    return target


def recall_config(bundle: Path, *layers: Mapping[str, Mapping[str, Any]]) -> Config:
    return validate(merged(IN_PROCESS_CONFIG, {"model": {"path": str(bundle)}}, *layers))


@contextlib.contextmanager
def running_app(config: Config) -> Iterator[App]:
    """The daemon's composition root in this process: pipeline, API server, scheduler; stopped at exit."""
    app = App(config, environ={})  # no NOTIFY_SOCKET, no display needed (capture is off)
    try:
        app.build()
        app.start()
        yield app
    finally:
        app.stop()


def client_of(app: App) -> ApiClient:
    return ApiClient(app.config.socket_path(), timeout=30)


def stored_count(app: App) -> int:
    assert app.pipeline is not None
    return app.pipeline.writer.stats.added


def ingest_files(app: App, files: list[Path], timeout: float = 30) -> None:
    """Hands files to the running pipeline (what the folder watcher does) and waits until all are stored."""
    assert app.pipeline is not None
    before = stored_count(app)
    for path in files:
        info = path.stat()
        app.pipeline.inbox.put_file(FileJob(str(path.resolve()), info.st_size, info.st_mtime_ns))
    wait_until(lambda: stored_count(app) >= before + len(files), timeout, f"{len(files)} files stored")


def show_frames(app: App, frames: list[Frame], timeout: float = 30) -> None:
    """Hands screen frames to the running pipeline (what the sampler does) and waits until all are stored."""
    assert app.pipeline is not None
    before = stored_count(app)
    for frame in frames:
        assert app.pipeline.inbox.put_frame(frame), "the inbox dropped a frame; raise capture.max_queue_frames"
    wait_until(lambda: stored_count(app) >= before + len(frames), timeout, f"{len(frames)} frames stored")


def screen_frame(
    colour: str, at_ms: int, monitor: int = 1, *, app_name: str = "", title: str = "", mark: int = 0
) -> Frame:
    pixels = solid(colour, mark=mark)
    return Frame(pixels, at_ms, "screen", monitor=monitor, window=Window(title=title, app=app_name))


@contextlib.contextmanager
def private_xdg(root: Path) -> Iterator[pytest.MonkeyPatch]:
    """XDG dirs of their own under root, for a fixture wider than one test (which cannot use xdg_home)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in xdg_environment(root).items():
            patch.setenv(name, value)
        yield patch


def xdg_environment(root: Path) -> dict[str, str]:
    """Private XDG dirs under root (for fixtures wider than one test, which cannot use xdg_home)."""
    names = {"XDG_CONFIG_HOME": "config", "XDG_DATA_HOME": "data", "XDG_CACHE_HOME": "cache", "XDG_RUNTIME_DIR": "run"}
    environment = {}
    for variable, sub in names.items():
        path = root / sub
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        environment[variable] = str(path)
    return environment


def openapi() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return data


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _kinds(declared: str | list[str] | None) -> tuple[type, ...]:
    # OpenAPI 3.1 allows a list of types, e.g. ["string", "null"].
    if not declared:
        return (object,)
    names = [declared] if isinstance(declared, str) else declared
    return tuple(kind for name in names for kind in _JSON_TYPES.get(name, (object,)))


def schema_problems(item: Mapping[str, Any], schema_name: str) -> list[str]:
    """What in item breaks the OpenAPI component schema: missing required fields, wrong types, enums, dates."""
    schema = openapi()["components"]["schemas"][schema_name]
    problems = [f"missing {key!r}" for key in schema.get("required", []) if key not in item]
    for key, spec in schema.get("properties", {}).items():
        if key not in item:
            continue
        value = item[key]
        kinds = _kinds(spec.get("type"))
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            problems.append(f"{key!r} is {value!r}, not {spec.get('type')}")
        elif "enum" in spec and value not in spec["enum"]:
            problems.append(f"{key!r} is {value!r}, not one of {spec['enum']}")
        elif spec.get("format") == "date-time" and not _is_zoned_iso(str(value)):
            problems.append(f"{key!r} is {value!r}, not an ISO 8601 date-time with a zone")
    return problems


def _is_zoned_iso(value: str) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: Path) -> None:
        super().__init__("localhost", timeout=30)
        self._socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self._socket_path))


def http_unix(
    socket_path: Path, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> Reply:
    """One raw HTTP exchange over the API's Unix socket (any body, any status: nothing is interpreted)."""
    return _exchange(_UnixHTTPConnection(socket_path), method, path, body, headers)


def http_tcp(
    port: int, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> Reply:
    return _exchange(http.client.HTTPConnection("127.0.0.1", port, timeout=30), method, path, body, headers)


def _exchange(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None,
    headers: Mapping[str, str] | None,
) -> Reply:
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def post_json(socket_path: Path, path: str, body: object) -> Reply:
    return http_unix(socket_path, "POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})


class Daemons:
    """Real `screenrecall run` children with FAST_CONFIG and the tiny bundle; close() kills any left running."""

    def __init__(self, tmp_path: Path, bundle: Path) -> None:
        self._tmp = tmp_path
        self._bundle = bundle
        self._started: list[Daemon] = []

    def make(self, extra: Mapping[str, Mapping[str, Any]] | None = None, name: str = "daemon") -> Daemon:
        config = merged(FAST, {"model": {"path": str(self._bundle)}}, extra or {})
        path = self._tmp / f"{name}.toml"
        path.write_text(toml_of(config))
        daemon = Daemon(path, self._tmp / f"{name}.log")
        self._started.append(daemon)
        return daemon

    def close(self) -> None:
        for daemon in self._started:
            if daemon.process is not None and daemon.process.poll() is None:
                daemon.kill()


def default_socket() -> Path:
    """Where a daemon with the default api.socket listens, in this test's XDG dirs."""
    return paths.runtime_dir() / "api.sock"


@contextlib.asynccontextmanager
async def websocket(socket_path: Path, query: str = "") -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A WebSocket subscription to the awareness stream over the Unix socket."""
    async with (
        aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(socket_path))) as session,
        session.ws_connect(f"http://localhost/v1/stream{query}") as ws,
    ):
        yield ws
