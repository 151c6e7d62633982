"""The awareness stream: one JSON event per stored or extended record, fanned out to subscribers.

`publish` is called on the writer's thread and never waits: each subscriber has a bounded buffer,
and a subscriber that falls behind skips events (the next one it gets says how many) instead of
slowing the pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from screenrecall.pipeline.messages import Embedding, Record
from screenrecall.recall.moments import iso

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[dict[str, Any] | None]  # None: the API is stopping
    embeddings: bool
    missed: int = 0
    transport: asyncio.Transport | None = None  # aborted if the handler does not end at shutdown


# How long one write to a subscriber may wait for its socket to drain. A client that reads nothing
# for this long (`screenrecall stream | less`, a client stopped with Ctrl-Z) is dropped: its
# connection would otherwise pin a handler, its buffers and the API's shutdown.
WRITE_TIMEOUT_S = 10.0


@dataclass
class Broadcaster:
    buffer: int
    write_timeout_s: float = WRITE_TIMEOUT_S
    _loop: asyncio.AbstractEventLoop | None = None
    _subscribers: set[Subscription] = field(default_factory=set)
    _previous: dict[tuple[str, int], Embedding] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    published: int = 0
    dropped_subscribers: int = 0

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Events are delivered on this loop (the API's); None detaches (nothing is delivered)."""
        self._loop = loop

    def publish(self, record: Record, is_new: bool) -> None:
        """Any thread. Builds the event and hands it to the API loop; returns at once."""
        self._send(self._event(record, "record" if is_new else "extended"), record)

    def _send(self, event: dict[str, Any], record: Record) -> None:
        self.published += 1
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # RuntimeError: the loop closed between the check and the call (the API is stopping).
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._fan_out, event, record.embedding)

    def _novelty(self, record: Record) -> float:
        key = (record.host, record.monitor)
        with self._lock:
            previous = self._previous.get(key)
            if record.embedding.size:
                self._previous[key] = record.embedding
        if previous is not None and record.embedding.size and previous.size == record.embedding.size:
            return max(0.0, 1.0 - float(np.dot(previous, record.embedding)))
        return 1.0

    def _event(self, record: Record, kind: str, novelty: bool = True) -> dict[str, Any]:
        return {
            "type": kind,
            "id": record.id,
            "time": iso(record.captured_at_ms),
            "time_ms": record.captured_at_ms,
            "last_seen_ms": record.last_seen_ms,
            "source": record.source,
            "monitor": record.monitor,
            "window_title": record.window.title,
            "app": record.window.app,
            "path": record.path,
            "host": record.host,
            "monitor_geometry": record.geometry,
            "novelty": round(self._novelty(record), 6) if novelty else 0.0,
            "text": record.text,
        }

    def subscribe(self, embeddings: bool, transport: asyncio.Transport | None = None) -> Subscription:
        """On the API loop."""
        subscription = Subscription(asyncio.Queue(self.buffer), embeddings, transport=transport)
        self._subscribers.add(subscription)
        return subscription

    def close_all(self) -> None:
        """On the API loop, at shutdown: every stream handler gets None and ends at once."""
        for subscription in list(self._subscribers):
            if subscription.queue.full():
                subscription.queue.get_nowait()
            subscription.queue.put_nowait(None)

    async def close_all_within(self, seconds: float) -> None:
        """close_all(), then abort the connections of handlers that did not end in time (stuck in a
        write to a client that reads nothing: closing gracefully would wait for it forever)."""
        self.close_all()
        deadline = asyncio.get_running_loop().time() + seconds
        while self._subscribers and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        for subscription in list(self._subscribers):
            if subscription.transport is not None:
                subscription.transport.abort()

    def drop_laggard(self, subscription: Subscription) -> None:
        """On the API loop: a subscriber whose socket did not take a write in time is let go."""
        self.dropped_subscribers += 1
        self._subscribers.discard(subscription)
        logger.warning("dropped a stream subscriber that read nothing for %.0f s", self.write_timeout_s)

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _fan_out(self, event: dict[str, Any], embedding: Embedding) -> None:
        for subscription in list(self._subscribers):
            item = dict(event)
            if subscription.embeddings and embedding.size:
                item["embedding"] = [round(float(x), 7) for x in embedding]
            if subscription.queue.full():
                subscription.queue.get_nowait()  # drop the oldest: the freshest state matters most
                subscription.missed += 1
            if subscription.missed:
                item["missed"] = subscription.missed
            subscription.queue.put_nowait(item)
