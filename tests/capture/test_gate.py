"""The change gate: any new glyph is kept once it settles; still screens, blinking cursors and clocks are not."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from screenrecall.capture.gate import ChangeGate, Decision, frame_bytes
from screenrecall.pipeline.messages import Frame, Pixels

CHANGED, HEARTBEAT, UNCHANGED = Decision.CHANGED, Decision.HEARTBEAT, Decision.UNCHANGED
HEARTBEAT_S = 60.0
TICK = 1_000


@functools.cache
def desktop(height: int = 1080, width: int = 1920) -> Pixels:
    """A busy, reproducible screen: a gradient with a few flat panels. Shared and read-only: copy to edit."""
    y, x = np.ogrid[0:height, 0:width]
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = x * 255 // width
    pixels[..., 1] = y * 255 // height
    pixels[..., 2] = (x + y) % 256
    pixels[100:400, 200:900] = (240, 240, 240)
    pixels[height - 40 :, :] = (30, 30, 30)
    pixels.flags.writeable = False
    return pixels


def frame(pixels: Pixels, at_ms: int, monitor: int = 1) -> Frame:
    return Frame(pixels, at_ms, "screen", monitor=monitor)


def with_glyph(screen: Pixels, x: int, y: int, value: int = 0) -> Pixels:
    """The screen with one character cell (7x13 px, a small terminal font) drawn at x, y."""
    changed = screen.copy()
    changed[y : y + 13, x : x + 7] = value
    return changed


def run(gate: ChangeGate, screens: list[Pixels], start_ms: int = TICK) -> list[Decision]:
    return [gate.decide(frame(s, start_ms + i * TICK)) for i, s in enumerate(screens)]


@pytest.fixture
def gate() -> ChangeGate:
    return ChangeGate(HEARTBEAT_S, settle_s=3.0)


def test_first_frame_of_a_monitor_is_changed(gate: ChangeGate) -> None:
    assert gate.decide(frame(desktop(), 0)) is CHANGED


def test_identical_frame_is_unchanged(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))

    assert gate.decide(frame(screen.copy(), 2_000)) is UNCHANGED


def test_one_new_character_is_kept_once_it_has_settled(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))
    typed = with_glyph(screen, 600, 700)

    # Seen, then seen again unchanged: kept on the second look, then it is the reference.
    assert run(gate, [typed, typed, typed]) == [UNCHANGED, CHANGED, UNCHANGED]


def test_a_typing_burst_becomes_one_frame(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))
    line = screen
    frames = []
    for column in range(4):  # one character a tick at 1 Hz sampling: still typing, not settled
        line = with_glyph(line, 600 + column * 7, 700)
        frames.append(line)
    frames += [line, line]

    decisions = run(gate, frames)

    assert decisions.count(CHANGED) == 1
    assert decisions[-2:] in ([CHANGED, UNCHANGED], [UNCHANGED, UNCHANGED])


def test_continuous_change_is_kept_at_least_every_settle_s(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))
    rng = np.random.default_rng(3)
    frames = []
    for _ in range(8):  # a terminal scrolling every tick: never settles
        moving = screen.copy()
        moving[:800] = rng.integers(0, 255, (800, 1920, 3), dtype=np.uint8)
        frames.append(moving)

    decisions = run(gate, frames)

    assert decisions.count(CHANGED) >= 2
    first = decisions.index(CHANGED)
    assert first <= 3


def test_a_page_replaced_in_place_by_same_sized_text_is_changed(gate: ChangeGate) -> None:
    page = desktop().copy()
    page[100:400, 200:900] = 255
    for row in range(20):
        page[110 + row * 14 : 110 + row * 14 + 2, 210 : 210 + (row * 37) % 600] = 0
    gate.decide(frame(page, 0))
    replaced = page.copy()
    replaced[100:400, 200:900] = 255
    for row in range(20):
        replaced[110 + row * 14 : 110 + row * 14 + 2, 210 : 210 + (row * 53) % 600] = 0

    assert run(gate, [replaced, replaced]) == [UNCHANGED, CHANGED]


def test_a_blinking_cursor_is_kept_at_most_once(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))
    cursor = with_glyph(screen, 600, 700, value=255)
    # Sampling aliases with the blink: the cursor stays on, then off, for a few ticks at a time.
    frames = [cursor, cursor, screen, screen, cursor, cursor, screen, screen, cursor, cursor] * 3

    decisions = run(gate, frames)

    assert decisions.count(CHANGED) <= 1


def test_a_ticking_clock_stops_being_news(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))
    frames = [with_glyph(screen, 1850, 1050, value=(second * 40) % 256) for second in range(1, 30)]

    decisions = run(gate, frames)

    assert decisions.count(CHANGED) <= 1
    assert CHANGED not in decisions[5:]


def test_new_text_is_seen_beside_a_ticking_clock(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))
    clock = [with_glyph(screen, 1850, 1050, value=(s * 40) % 256) for s in range(1, 10)]
    typed = [
        with_glyph(c, 600, 700) for c in [with_glyph(screen, 1850, 1050, value=(s * 40) % 256) for s in range(10, 14)]
    ]

    decisions = run(gate, clock + typed)

    assert CHANGED in decisions[len(clock) :]


def test_still_screen_heartbeats_every_heartbeat_s(gate: ChangeGate) -> None:
    screen = desktop()
    decisions = [gate.decide(frame(screen, at)) for at in (0, 59_999, 60_000, 60_001, 119_999, 120_000)]

    assert decisions == [CHANGED, UNCHANGED, HEARTBEAT, UNCHANGED, UNCHANGED, HEARTBEAT]


def test_a_change_restarts_the_heartbeat_clock() -> None:
    gate = ChangeGate(HEARTBEAT_S, settle_s=0)
    screen, other = desktop(), desktop()[::-1].copy()
    gate.decide(frame(screen, 0))
    assert gate.decide(frame(other, 30_000)) is CHANGED

    assert gate.decide(frame(other, 60_000)) is UNCHANGED
    assert gate.decide(frame(other, 90_000)) is HEARTBEAT


def test_without_settling_a_change_is_kept_at_once() -> None:
    gate = ChangeGate(HEARTBEAT_S, settle_s=0)
    screen = desktop()
    gate.decide(frame(screen, 0))

    assert gate.decide(frame(with_glyph(screen, 10, 10), TICK)) is CHANGED


def test_wall_clock_stepping_back_heartbeats_at_once(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 1_000_000))

    assert gate.decide(frame(screen, 5_000)) is HEARTBEAT
    assert gate.decide(frame(screen, 7_000)) is UNCHANGED


def test_monitors_are_independent() -> None:
    gate = ChangeGate(HEARTBEAT_S, settle_s=0)
    left, right = desktop(), np.full((1080, 1920, 3), 90, dtype=np.uint8)

    assert gate.decide(frame(left, 0, monitor=1)) is CHANGED
    assert gate.decide(frame(right, 0, monitor=2)) is CHANGED
    assert gate.decide(frame(left, 2_000, monitor=1)) is UNCHANGED
    assert gate.decide(frame(right, 2_000, monitor=2)) is UNCHANGED
    assert gate.decide(frame(right, 4_000, monitor=1)) is CHANGED
    assert gate.decide(frame(right, 60_000, monitor=2)) is HEARTBEAT
    assert gate.decide(frame(right, 60_000, monitor=1)) is UNCHANGED


def test_a_resolution_change_is_changed(gate: ChangeGate) -> None:
    gate.decide(frame(desktop(1080, 1920), 0))

    assert gate.decide(frame(desktop(1440, 2560), 1_000)) is CHANGED


def test_reads_a_grab_view_of_a_bgra_buffer_as_its_rows_without_copying() -> None:
    bgra = np.arange(4 * 6 * 4, dtype=np.uint8).reshape(4, 6, 4)
    rgb_view = bgra[..., 2::-1]

    rows = frame_bytes(rgb_view)

    assert rows.shape == (4, 24)
    assert np.shares_memory(rows, bgra)
    assert np.array_equal(rows, bgra.reshape(4, 24))


def test_sees_a_one_pixel_change_in_a_grab_view() -> None:
    gate = ChangeGate(HEARTBEAT_S, settle_s=0)
    bgra = np.full((480, 640, 4), 200, dtype=np.uint8)
    gate.decide(frame(bgra[..., 2::-1], 0))
    changed = bgra.copy()
    changed[300, 400, 1] = 10

    assert gate.decide(frame(changed[..., 2::-1], TICK)) is CHANGED


@pytest.mark.parametrize(("heartbeat_s", "settle_s"), [(0.0, 1.0), (60.0, -1.0)])
def test_rejects_out_of_range_settings(heartbeat_s: float, settle_s: float) -> None:
    with pytest.raises(ValueError, match="must"):
        ChangeGate(heartbeat_s, settle_s=settle_s)
