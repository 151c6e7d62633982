"""Clients that never read: they are dropped, and they cannot hold up the daemon's shutdown."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np

from screenrecall.app import App
from screenrecall.pipeline.messages import Record, Window
from screenrecall.store.layout import record_id_for_screen
from tests.support.daemon import wait_until
from tests.support.recall import recall_config, running_app

T0 = 1_790_000_000_000
# ~64 kB per event: a few of them fill the socket buffers between the server and a client that never reads.
BIG_TITLE = "x" * 65_536


def big_record(i: int) -> Record:
    embedding = np.zeros(16, dtype=np.float32)
    embedding[i % 16] = 1.0
    return Record(
        id=record_id_for_screen(1, T0 + i, "desk"),
        embedding=embedding,
        captured_at_ms=T0 + i,
        last_seen_ms=T0 + i,
        source="screen",
        monitor=1,
        path="",
        window=Window(BIG_TITLE, "XTerm"),
        width=640,
        height=480,
        host="desk",
    )


@contextmanager
def never_reading_subscriber(socket_path: Path, websocket: bool = False) -> Iterator[socket.socket]:
    """A real client on the API socket that asks for the stream and then reads nothing, ever."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    with closing(client):
        client.connect(str(socket_path))
        upgrade = (
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            if websocket
            else ""
        )
        client.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: localhost\r\n{upgrade}\r\n".encode())
        yield client


def flood(app: App, count: int = 200) -> None:
    for i in range(count):
        app.broadcaster.publish(big_record(i), is_new=True)
        time.sleep(0.002)  # let the API loop run the fan-out and get stuck in its write


def test_a_stream_client_that_never_reads_does_not_delay_shutdown(tiny_bundle: Path) -> None:
    for websocket in (False, True):
        with (
            running_app(recall_config(tiny_bundle)) as app,
            never_reading_subscriber(app.config.socket_path(), websocket),
        ):
            wait_until(lambda: app.broadcaster.subscriber_count == 1, 10, "the subscriber")
            flood(app)
            began = time.monotonic()
            app.stop()
            took = time.monotonic() - began
        assert took < 6, f"stopping took {took:.1f} s with a {'WebSocket' if websocket else 'SSE'} client not reading"


def test_a_subscriber_that_reads_nothing_is_dropped_and_others_keep_going(tiny_bundle: Path) -> None:
    with running_app(recall_config(tiny_bundle)) as app:
        app.broadcaster.write_timeout_s = 0.5
        with (
            never_reading_subscriber(app.config.socket_path()),
            never_reading_subscriber(app.config.socket_path(), websocket=True),
        ):
            wait_until(lambda: app.broadcaster.subscriber_count == 2, 10, "the subscribers")
            flood(app)
            wait_until(lambda: app.broadcaster.subscriber_count == 0, 10, "the laggards dropped")
            assert app.broadcaster.dropped_subscribers == 2
