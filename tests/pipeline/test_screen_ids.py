"""Screen record ids stay unique when the wall clock comes back to an instant already used."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from screenrecall.pipeline.messages import Embedded, Embedding, Frame
from screenrecall.pipeline.screen_ids import ScreenIds
from screenrecall.pipeline.writer import Writer
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_screen

DIM = 16
T0 = 1_790_000_000_000


def unit(seed: int) -> Embedding:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def screen(at_ms: int, seed: int) -> Embedded:
    pixels = np.full((18, 32, 3), seed % 256, dtype=np.uint8)
    return Embedded(Frame(pixels, at_ms, "screen", monitor=1), 1920, 1080, unit(seed))


class WallClock:
    """The writer's injected wall clock; frames are stamped from it, as the capture stage does."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def writer_on(store: Store, clock: WallClock) -> Writer:
    writer = Writer(store, None, dedup_cosine=0.98, batch_size=64, flush_interval_s=0.05, clock=clock)
    writer.start()
    return writer


def finish(writer: Writer) -> None:
    writer.stop()
    writer.join(10)
    assert not writer.is_alive()


def test_a_new_moment_after_the_clock_went_back_keeps_the_older_record(tmp_path: Path) -> None:
    clock = WallClock(T0)
    with Store.open(tmp_path / "store") as store:
        writer = writer_on(store, clock)
        writer.put(screen(clock.ms, seed=1))
        clock.ms += 2_000
        writer.put(screen(clock.ms, seed=2))
        clock.ms = T0  # NTP stepped the clock back to the very millisecond of the first moment
        writer.put(screen(clock.ms, seed=3))
        finish(writer)

        records = sorted(store.records(), key=lambda r: r.id)
        assert len(records) == 3
        first = store.get(record_id_for_screen(1, T0))
        assert first is not None and np.allclose(first.embedding, unit(1), atol=1e-6)
        assert sum(r.captured_at_ms == T0 for r in records) == 2


def test_a_repeat_after_a_restart_with_the_clock_back_keeps_the_older_record(tmp_path: Path) -> None:
    clock = WallClock(T0)
    with Store.open(tmp_path / "store") as store:
        writer = writer_on(store, clock)
        writer.put(screen(clock.ms, seed=1))
        finish(writer)
        # Restarted while the clock is back at the first record's instant: nothing in memory knows
        # that millisecond was used.
        writer = writer_on(store, clock)
        writer.put(screen(clock.ms, seed=4))
        finish(writer)

        assert store.count() == 2
        first = store.get(record_id_for_screen(1, T0))
        assert first is not None and np.allclose(first.embedding, unit(1), atol=1e-6)


def test_ids_are_the_plain_ones_while_time_moves_on() -> None:
    asked: list[str] = []
    ids = ScreenIds("desk", lambda record_id: asked.append(record_id) is not None)
    assert ids.new(1, T0) == record_id_for_screen(1, T0, "desk")  # first since start: checked once
    assert ids.new(1, T0 + 1) == record_id_for_screen(1, T0 + 1, "desk")
    assert ids.new(2, T0 + 1) == record_id_for_screen(2, T0 + 1, "desk")
    assert len(asked) == 2  # one check per monitor at start, none while time moves forward


def test_a_failed_check_gives_a_salted_id_rather_than_risk_an_overwrite() -> None:
    def broken(record_id: str) -> bool:
        if record_id == record_id_for_screen(1, T0):
            raise OSError("store unreachable")
        return False

    assert ScreenIds("", broken).new(1, T0) == record_id_for_screen(1, T0, salt=1)
