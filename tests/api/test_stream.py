"""The awareness stream: the Broadcaster's fan-out, SSE and WebSocket subscribers, and slow subscribers."""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from screenrecall.api.client import ApiClient
from screenrecall.api.stream import Broadcaster, Subscription
from screenrecall.app import App
from screenrecall.pipeline.messages import Embedding, Record, Window
from screenrecall.store.layout import record_id_for_screen
from tests.support.daemon import REPO, Daemon, wait_until
from tests.support.recall import (
    Daemons,
    default_socket,
    ingest_files,
    png_of,
    recall_config,
    running_app,
    schema_problems,
    screen_frame,
    websocket,
    write_image,
)

T0 = 1_790_000_000_000


def _axis(*weights: float) -> Embedding:
    vector = np.zeros(16, dtype=np.float32)
    vector[: len(weights)] = weights
    return (vector / np.linalg.norm(vector)).astype(np.float32)


A, A2, B = _axis(1.0), _axis(1.0, 0.5), _axis(0.0, 1.0)


def shown(monitor: int, at_ms: int, embedding: Embedding, host: str = "desk") -> Record:
    return Record(
        id=record_id_for_screen(monitor, at_ms, host),
        embedding=embedding,
        captured_at_ms=at_ms,
        last_seen_ms=at_ms,
        source="screen",
        monitor=monitor,
        path="",
        window=Window("notes.txt - gedit", "Gedit"),
        width=640,
        height=480,
        host=host,
    )


class Loop:
    """An event loop this test drives by hand, standing in for the API's."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run_callbacks(self) -> None:
        self.loop.run_until_complete(asyncio.sleep(0.01))

    def close(self) -> None:
        self.loop.close()


@pytest.fixture
def loop() -> Iterator[Loop]:
    driven = Loop()
    yield driven
    driven.close()


def drain_all(subscription: Subscription) -> list[dict[str, Any] | None]:
    """Everything in the subscription's buffer, the closing None included."""
    items = []
    while not subscription.queue.empty():
        items.append(subscription.queue.get_nowait())
    return items


def drain(subscription: Subscription) -> list[dict[str, Any]]:
    events = drain_all(subscription)
    assert None not in events, "the subscription was closed"
    return [event for event in events if event is not None]


# --- the Broadcaster ---------------------------------------------------------------------------------


def test_novelty_is_one_for_a_monitors_first_event_then_one_minus_cosine_to_its_previous(loop: Loop) -> None:
    broadcaster = Broadcaster(buffer=16)
    broadcaster.attach(loop.loop)
    subscription = broadcaster.subscribe(embeddings=False)
    for record in (shown(1, T0, A), shown(1, T0 + 1, A2), shown(2, T0 + 2, B), shown(1, T0 + 3, B)):
        broadcaster.publish(record, is_new=True)
    broadcaster.publish(shown(1, T0 + 4, B, host="laptop"), is_new=True)  # another machine's monitor 1
    loop.run_callbacks()
    novelty = [event["novelty"] for event in drain(subscription)]
    cos_a_a2 = float(A @ A2)
    assert novelty == pytest.approx([1.0, 1 - cos_a_a2, 1.0, 1 - float(A2 @ B), 1.0], abs=1e-6)


def test_events_carry_the_record_and_match_the_openapi_schema(loop: Loop) -> None:
    broadcaster = Broadcaster(buffer=4)
    broadcaster.attach(loop.loop)
    subscription = broadcaster.subscribe(embeddings=False)
    record = shown(2, T0 + 1500, A)
    broadcaster.publish(record, is_new=True)
    broadcaster.publish(record, is_new=False)
    loop.run_callbacks()
    new, extended = drain(subscription)
    assert (new["type"], extended["type"]) == ("record", "extended")
    assert schema_problems(new, "StreamEvent") == []
    assert (new["id"], new["monitor"], new["app"], new["window_title"]) == (record.id, 2, "Gedit", "notes.txt - gedit")
    assert int(datetime.fromisoformat(new["time"]).timestamp()) == (T0 + 1500) // 1000
    assert new["time_ms"] == T0 + 1500


def test_only_subscribers_that_asked_get_the_embedding(loop: Loop) -> None:
    broadcaster = Broadcaster(buffer=4)
    broadcaster.attach(loop.loop)
    plain, full = broadcaster.subscribe(embeddings=False), broadcaster.subscribe(embeddings=True)
    broadcaster.publish(shown(1, T0, A2), is_new=True)
    loop.run_callbacks()
    (without,), (with_embedding,) = drain(plain), drain(full)
    assert "embedding" not in without
    assert with_embedding["embedding"] == pytest.approx(A2.tolist(), abs=1e-6)
    assert {k: v for k, v in with_embedding.items() if k != "embedding"} == without


def test_a_subscriber_that_does_not_drain_keeps_the_newest_events_and_counts_the_rest(loop: Loop) -> None:
    broadcaster = Broadcaster(buffer=3)
    broadcaster.attach(loop.loop)
    stalled = broadcaster.subscribe(embeddings=False)
    records = [shown(1, T0 + i, A if i % 2 else B) for i in range(10)]
    for record in records:
        broadcaster.publish(record, is_new=True)
    loop.run_callbacks()
    kept = drain(stalled)
    assert [event["id"] for event in kept] == [r.id for r in records[-3:]]
    assert kept[-1]["missed"] == 7
    assert broadcaster.published == 10


def test_one_stalled_subscriber_costs_another_nothing(loop: Loop) -> None:
    broadcaster = Broadcaster(buffer=3)
    broadcaster.attach(loop.loop)
    stalled, reader = broadcaster.subscribe(embeddings=False), broadcaster.subscribe(embeddings=False)
    got: list[dict[str, Any]] = []
    for i in range(12):
        broadcaster.publish(shown(1, T0 + i, A), is_new=True)
        loop.run_callbacks()
        got.extend(drain(reader))  # this one keeps up
    assert len(got) == 12 and all("missed" not in event for event in got)
    assert drain(stalled)[-1]["missed"] == 9


def test_publish_with_no_loop_attached_is_a_no_op(loop: Loop) -> None:
    broadcaster = Broadcaster(buffer=2)
    subscription = broadcaster.subscribe(embeddings=True)
    broadcaster.publish(shown(1, T0, A), is_new=True)  # the API is off: nothing to deliver to
    broadcaster.attach(loop.loop)
    broadcaster.attach(None)  # the API stopped
    broadcaster.publish(shown(1, T0 + 1, A), is_new=True)
    closed = asyncio.new_event_loop()
    closed.close()
    broadcaster.attach(closed)  # stopped between the check and the call
    broadcaster.publish(shown(1, T0 + 2, A), is_new=True)
    loop.run_callbacks()
    assert drain(subscription) == []
    assert broadcaster.published == 3


def test_closing_ends_every_subscription_even_one_that_is_full(loop: Loop) -> None:
    broadcaster = Broadcaster(buffer=2)
    broadcaster.attach(loop.loop)
    full, idle = broadcaster.subscribe(embeddings=False), broadcaster.subscribe(embeddings=False)
    for i in range(3):
        broadcaster.publish(shown(1, T0 + i, A), is_new=True)
    loop.run_callbacks()
    drain(idle)
    broadcaster.close_all()  # the API is stopping: every handler must wake and end
    assert drain_all(full)[-1] is None
    assert drain_all(idle) == [None]


# --- subscribers over the socket (the App in this process) ------------------------------------------


@pytest.fixture
def app(tiny_bundle: Path) -> Iterator[App]:
    with running_app(recall_config(tiny_bundle)) as running:
        yield running


class SseReader:
    """ApiClient.stream on a thread of its own, collecting events until it has `count`."""

    def __init__(self, client: ApiClient, count: int, embeddings: bool) -> None:
        self.events: list[dict[str, Any]] = []
        self._client, self._count, self._embeddings = client, count, embeddings
        # A daemon thread: if the server never sends the events, the test fails on its own timeout
        # instead of hanging in a blocking read.
        self._thread = threading.Thread(target=self._run, name="sse-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stream = self._client.stream(embeddings=self._embeddings)
        assert isinstance(stream, Generator)
        try:
            for event in stream:
                self.events.append(event)
                if len(self.events) >= self._count:
                    return
        finally:
            stream.close()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the SSE reader got {len(self.events)} of {self._count} events"


def _until_subscribed(app: App, count: int) -> None:
    wait_until(lambda: app.broadcaster.subscriber_count == count, 10, f"{count} stream subscriber(s)")


async def _receive(ws: Any, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    return [await ws.receive_json(timeout=timeout) for _ in range(count)]


def test_sse_and_websocket_subscribers_get_the_same_events_in_the_same_order(app: App, tmp_path: Path) -> None:
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    colours = ["red", "green", "black", "white"] * 2
    files = [write_image(pictures, f"{i:02d}-{c}.png", c, time.time() - 600 + i) for i, c in enumerate(colours)]
    socket = app.config.socket_path()

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with websocket(socket) as ws:
            sse = SseReader(ApiClient(socket), len(files), embeddings=True)
            await asyncio.to_thread(_until_subscribed, app, 2)
            await asyncio.to_thread(ingest_files, app, files)
            events = await _receive(ws, len(files))
            await asyncio.to_thread(sse.join, 30)
            return events, sse.events

    ws_events, sse_events = asyncio.run(scenario())
    assert [e["id"] for e in ws_events] == [e["id"] for e in sse_events]
    assert [{k: v for k, v in e.items() if k != "embedding"} for e in sse_events] == ws_events
    assert sorted(e["path"] for e in ws_events) == sorted(str(p.resolve()) for p in files)
    assert all(e["type"] == "record" and e["source"] == "folder" for e in ws_events)
    assert ws_events[0]["novelty"] == 1.0
    for event in sse_events:
        assert schema_problems(event, "StreamEvent") == []
        assert len(event["embedding"]) == 16
        assert float(np.linalg.norm(event["embedding"])) == pytest.approx(1.0, abs=1e-4)


def test_a_still_screen_gives_a_record_event_then_extended_events(tiny_bundle: Path) -> None:
    with running_app(recall_config(tiny_bundle, {"dedup": {"cosine": 0.999}})) as app:

        async def scenario() -> list[dict[str, Any]]:
            async with websocket(app.config.socket_path(), "?embeddings=1") as ws:
                await asyncio.to_thread(_until_subscribed, app, 1)
                assert app.pipeline is not None
                for at in (T0, T0 + 2000, T0 + 4000):  # the same screen three times
                    app.pipeline.inbox.put_frame(screen_frame("white", at, monitor=1, app_name="XTerm"))
                    await asyncio.sleep(0.3)  # one frame per write batch, as a real sampler spaces them
                return await _receive(ws, 3)

        events = asyncio.run(scenario())
    assert [e["type"] for e in events] == ["record", "extended", "extended"]
    assert len({e["id"] for e in events}) == 1
    assert [e["last_seen_ms"] for e in events] == [T0, T0 + 2000, T0 + 4000]
    assert events[0]["novelty"] == 1.0 and events[2]["novelty"] == pytest.approx(0.0, abs=1e-4)
    assert len(events[0]["embedding"]) == 16


def test_the_api_lets_go_of_a_stream_subscriber_that_has_left(tiny_bundle: Path, tmp_path: Path) -> None:
    picture = write_image(tmp_path, "one.png", "red", time.time())
    with running_app(recall_config(tiny_bundle)) as app:
        reader = SseReader(ApiClient(app.config.socket_path()), 1, embeddings=False)
        _until_subscribed(app, 1)
        ingest_files(app, [picture])
        reader.join(10)  # it read its event and hung up
        leaving = time.monotonic()
    took = time.monotonic() - leaving
    assert took < 5, f"the App took {took:.0f} s to stop after its only SSE subscriber had hung up"


@pytest.mark.slow
def test_a_stalled_websocket_does_not_slow_ingest_and_is_told_what_it_missed(tiny_bundle: Path, tmp_path: Path) -> None:
    count = 500

    def batch(name: str) -> list[Path]:
        # Deep, long folder names make every event ~3 kB, so the socket and client buffers between the
        # server and the stalled reader fill after a few dozen events, whatever their sizes here.
        folder = tmp_path.joinpath(name, *[f"{i}-{'x' * 240}" for i in range(12)])
        folder.mkdir(parents=True)
        pixels = np.random.default_rng(len(name)).integers(0, 256, (count, 24, 32, 3), dtype=np.uint8)
        files = [folder / f"{i:04d}.png" for i in range(count)]
        for path, image in zip(files, pixels, strict=True):
            path.write_bytes(png_of(image))
        return files

    config = recall_config(tiny_bundle, {"api": {"stream_buffer": 128}, "thumbnails": {"enabled": False}})
    with running_app(config) as app:
        # This subscriber stalls for the whole ingest and reads afterwards: longer than the default
        # write timeout on a loaded machine, after which it would be dropped (test_slow_clients.py).
        app.broadcaster.write_timeout_s = 600
        started = time.monotonic()
        ingest_files(app, batch("alone"))
        alone_s = time.monotonic() - started
        socket = app.config.socket_path()

        async def scenario() -> tuple[float, list[dict[str, Any]], list[dict[str, Any]]]:
            async with websocket(socket, "?embeddings=1") as stalled:
                healthy = SseReader(ApiClient(socket), count, embeddings=False)
                await asyncio.to_thread(_until_subscribed, app, 2)
                began = time.monotonic()
                await asyncio.to_thread(ingest_files, app, batch("watched"), 60)
                took = time.monotonic() - began
                await asyncio.to_thread(healthy.join, 30)
                late: list[dict[str, Any]] = []  # the stalled one reads at last
                while True:
                    try:
                        late.append(await stalled.receive_json(timeout=2))
                    except TimeoutError:
                        return took, late, healthy.events

        watched_s, late, healthy_events = asyncio.run(scenario())
    assert watched_s < 2 * alone_s + 3, (
        f"ingest took {watched_s:.1f} s with a stalled subscriber, {alone_s:.1f} s alone"
    )
    assert len(healthy_events) == count and all("missed" not in e for e in healthy_events)
    missed = max(e.get("missed", 0) for e in late)
    assert missed > 0
    assert len(late) + missed == count  # every event was either delivered or counted as missed
    assert late[-1]["id"] == healthy_events[-1]["id"]  # what it kept is the newest


# --- the real daemon and the CLI ----------------------------------------------------------------------


@pytest.fixture
def daemons(tmp_path: Path, tiny_bundle: Path) -> Iterator[Daemons]:
    factory = Daemons(tmp_path, tiny_bundle)
    yield factory
    factory.close()


def _folder_daemon(daemons: Daemons, tmp_path: Path) -> tuple[Daemon, Path]:
    watched = tmp_path / "watched"
    watched.mkdir()
    daemon = daemons.make({"capture": {"enabled": False}, "watch": {"folders": [str(watched)]}}).start()
    return daemon, watched


def _cli_stream(daemon: Daemon, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "screenrecall", "--config", str(daemon.config_path), "stream", *args],
        env={**daemon.env, "PYTHONPATH": str(REPO / "daemon")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _until_the_cli_is_live(cli: subprocess.Popen[str], watched: Path) -> int:
    """Drops warm-up files until `screenrecall stream` prints an event (it takes a while to start); how many."""
    for attempt in range(1, 21):
        write_image(watched, f"warm-up-{attempt}.png", "black", time.time())
        if await asyncio.to_thread(_readable, cli, 1.5):
            return attempt
    raise AssertionError("`screenrecall stream` printed nothing")


def _readable(process: subprocess.Popen[str], timeout: float) -> bool:
    assert process.stdout is not None
    return bool(select.select([process.stdout], [], [], timeout)[0])


def _read_line(process: subprocess.Popen[str], timeout: float = 30) -> dict[str, Any]:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "no line from `screenrecall stream`"
    line = process.stdout.readline()
    assert line, f"`screenrecall stream` ended: {process.stderr.read() if process.stderr else ''}"
    event: dict[str, Any] = json.loads(line)
    return event


@pytest.mark.slow
def test_cli_stream_prints_json_lines_as_the_daemon_ingests_files(daemons: Daemons, tmp_path: Path) -> None:
    daemon, watched = _folder_daemon(daemons, tmp_path)

    async def scenario(cli: subprocess.Popen[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with websocket(default_socket()) as ws:
            warm_up = await _until_the_cli_is_live(cli, watched)
            last_warm_up = (await _receive(ws, warm_up))[-1]["id"]
            while (await asyncio.to_thread(_read_line, cli))["id"] != last_warm_up:
                pass  # the CLI may have printed several warm-up events
            ws_events: list[dict[str, Any]] = []
            cli_events: list[dict[str, Any]] = []
            for i, colour in enumerate(["red", "green", "white"]):
                write_image(watched, f"{i}-{colour}.png", colour, time.time())
                ws_events += await _receive(ws, 1)
                cli_events.append(await asyncio.to_thread(_read_line, cli))
            return ws_events, cli_events

    with _cli_stream(daemon, "--embeddings") as cli:
        try:
            ws_events, cli_events = asyncio.run(scenario(cli))
        finally:
            cli.terminate()
    assert [e["id"] for e in cli_events] == [e["id"] for e in ws_events]
    assert [Path(e["path"]).name for e in cli_events] == ["0-red.png", "1-green.png", "2-white.png"]
    assert all(len(e["embedding"]) == 16 and "embedding" not in w for e, w in zip(cli_events, ws_events, strict=True))


@pytest.mark.slow
def test_the_daemon_stops_promptly_while_stream_subscribers_are_connected(daemons: Daemons, tmp_path: Path) -> None:
    daemon, watched = _folder_daemon(daemons, tmp_path)
    assert daemon.process is not None
    process = daemon.process

    async def scenario(cli: subprocess.Popen[str]) -> float:
        async with websocket(default_socket()) as ws:
            await _receive(ws, await _until_the_cli_is_live(cli, watched))
            started = time.monotonic()
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                return time.monotonic() - started
            closing = await ws.receive(timeout=5)
            assert closing.type.name in ("CLOSE", "CLOSED", "CLOSING"), closing
            return time.monotonic() - started

    with _cli_stream(daemon) as cli:
        try:
            took = asyncio.run(scenario(cli))
            assert took < 10, f"SIGTERM took {took:.0f} s with a WebSocket and an SSE subscriber connected"
            assert process.returncode == 0, daemon.log()
            assert cli.wait(10) == 0  # the CLI's stream ends with the daemon
        finally:
            if cli.poll() is None:
                cli.kill()


def test_cli_stream_without_a_daemon_says_how_to_start_one(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    done = run_cli("stream", timeout=60)
    assert done.returncode == 1
    assert "no daemon answers on" in done.stderr and "screenrecall run" in done.stderr
    assert "Traceback" not in done.stderr
