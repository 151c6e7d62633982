"""Feeding the pipeline benchmark: frames into the inbox only while it has room, and the writer's
stored-record callbacks timed, per round."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.harness.timing import Measurement
from screenrecall.pipeline.assembly import Pipeline
from screenrecall.pipeline.messages import Frame, Pixels, Record, Window

PIPELINE = "pipeline, stored (steady)"
# A burst within this of the previous stored-callback is the same writer flush.
SAME_FLUSH_S = 0.05


@dataclass
class StoredLog:
    """What the writer reported: (perf_counter, records stored so far) at each new record."""

    stamps: list[tuple[float, int]] = field(default_factory=list)
    extended: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def on_stored(self, record: Record, is_new: bool) -> None:
        # The writer's thread, right after a flush: count and return.
        with self.lock:
            if not is_new:
                self.extended += 1
                return
            self.stamps.append((time.perf_counter(), len(self.stamps) + 1))
            self.changed.notify_all()

    @property
    def stored(self) -> int:
        with self.lock:
            return len(self.stamps)

    def wait_stored(self, count: int, timeout: float) -> float:
        """Blocks until `count` records are stored; returns the perf_counter of the last one."""
        with self.lock:
            if not self.changed.wait_for(lambda: len(self.stamps) >= count, timeout):
                raise TimeoutError(f"only {len(self.stamps)}/{count} records stored after {timeout:.0f} s")
            return self.stamps[count - 1][0]


@dataclass(frozen=True)
class PipelineRound:
    fed: int
    began: float
    fed_until: float
    stored_at: float  # when the last fed frame was stored
    steady: Measurement  # records stored between the first and the last flush while feeding

    @property
    def end_to_end(self) -> Measurement:
        return Measurement("pipeline, end to end", self.fed, self.stored_at - self.began)


class PipelineFeeder:
    """Feeds frames into the inbox only when it has room, so nothing is dropped, and times the writer."""

    def __init__(self, pipeline: Pipeline, log: StoredLog, frames: Sequence[Pixels]) -> None:
        self.pipeline = pipeline
        self.log = log
        self.frames = frames
        self.fed = 0
        self.room = pipeline.config.capture.max_queue_frames
        # Unique capture times: a record id is (monitor, captured_at_ms), so equal times would merge.
        self.clock_ms = int(time.time() * 1000) - 3_600_000

    def feed(self, count: int) -> None:
        inbox = self.pipeline.inbox
        for _ in range(count):
            while inbox.stats().frames_waiting >= self.room:
                time.sleep(0.002)  # the embedder takes one every ~20 ms: 2 ms keeps the queue full
            self.clock_ms += 1
            pixels = self.frames[self.fed % len(self.frames)]
            frame = Frame(pixels, self.clock_ms, "screen", monitor=1, window=Window("bench frame", "bench"))
            if not inbox.put_frame(frame):
                raise RuntimeError("the inbox dropped a frame although it had room")
            self.fed += 1

    def round(self, *, frames: int, seconds: float) -> PipelineRound:
        start_stored = self.log.stored
        start_fed = self.fed
        began = time.perf_counter()
        while self.fed - start_fed < frames or time.perf_counter() - began < seconds:
            self.feed(1)
        fed_until = time.perf_counter()
        stored_at = self.log.wait_stored(start_stored + self.fed - start_fed, timeout=120)
        with self.log.lock:
            mine = [(t, n) for t, n in self.log.stamps[start_stored:] if t <= fed_until]
        return PipelineRound(self.fed - start_fed, began, fed_until, stored_at, _steady(mine))

    def warm_up(self, count: int) -> None:
        self.feed(count)
        self.log.wait_stored(self.fed, timeout=120)


def _steady(stamps: list[tuple[float, int]]) -> Measurement:
    """Records stored in flushes after the first one, over the time between the first and the last flush."""
    if len(stamps) < 2:
        return Measurement(PIPELINE, 0, 0.0)
    first_end = 0
    while first_end + 1 < len(stamps) and stamps[first_end + 1][0] - stamps[first_end][0] < SAME_FLUSH_S:
        first_end += 1
    t0, n0 = stamps[first_end]
    t1, n1 = stamps[-1]
    return Measurement(PIPELINE, n1 - n0, t1 - t0)
