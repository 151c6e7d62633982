"""The change gate: unchanged frames dropped, changes kept, still screens re-confirmed each heartbeat."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from screenrecall.frames import Frame, Pixels
from screenrecall.gate import SIGNATURE_H, SIGNATURE_W, ChangeGate, Decision, signature

CHANGED, HEARTBEAT, UNCHANGED = Decision.CHANGED, Decision.HEARTBEAT, Decision.UNCHANGED
THRESHOLD = 0.01
HEARTBEAT_S = 60.0


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


@pytest.fixture
def gate() -> ChangeGate:
    return ChangeGate(threshold=THRESHOLD, heartbeat_s=HEARTBEAT_S)


def test_first_frame_of_a_monitor_is_changed(gate: ChangeGate) -> None:
    assert gate.decide(frame(desktop(), 0)) is CHANGED


def test_identical_frame_is_unchanged(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))

    assert gate.decide(frame(screen.copy(), 2_000)) is UNCHANGED


def test_a_new_window_over_part_of_the_screen_is_changed(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))
    opened = screen.copy()
    opened[500:800, 1000:1500] = (20, 20, 160)  # a 500x300 window: 7% of a 1080p screen

    assert gate.decide(frame(opened, 2_000)) is CHANGED
    assert gate.decide(frame(opened, 4_000)) is UNCHANGED  # and it becomes the new reference


def test_small_noise_below_threshold_is_unchanged(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))
    noise = np.random.default_rng(7).integers(-2, 3, screen.shape)
    noisy = np.clip(screen.astype(np.int16) + noise, 0, 255).astype(np.uint8)

    assert gate.decide(frame(noisy, 2_000)) is UNCHANGED


def test_a_blinking_cursor_is_unchanged(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))
    blinked = screen.copy()
    blinked[600:620, 300:310] = 0

    assert gate.decide(frame(blinked, 2_000)) is UNCHANGED


def test_still_screen_heartbeats_every_heartbeat_s(gate: ChangeGate) -> None:
    screen = desktop()
    decisions = [gate.decide(frame(screen, at)) for at in (0, 59_999, 60_000, 60_001, 119_999, 120_000)]

    assert decisions == [CHANGED, UNCHANGED, HEARTBEAT, UNCHANGED, UNCHANGED, HEARTBEAT]


def test_a_change_restarts_the_heartbeat_clock(gate: ChangeGate) -> None:
    screen, other = desktop(), desktop()[::-1].copy()
    gate.decide(frame(screen, 0))
    assert gate.decide(frame(other, 30_000)) is CHANGED

    assert gate.decide(frame(other, 60_000)) is UNCHANGED
    assert gate.decide(frame(other, 90_000)) is HEARTBEAT


def test_wall_clock_stepping_back_heartbeats_at_once(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 1_000_000))

    assert gate.decide(frame(screen, 5_000)) is HEARTBEAT
    assert gate.decide(frame(screen, 7_000)) is UNCHANGED


def test_monitors_are_independent(gate: ChangeGate) -> None:
    left, right = desktop(), np.full((1080, 1920, 3), 90, dtype=np.uint8)

    assert gate.decide(frame(left, 0, monitor=1)) is CHANGED
    assert gate.decide(frame(right, 0, monitor=2)) is CHANGED
    assert gate.decide(frame(left, 2_000, monitor=1)) is UNCHANGED
    assert gate.decide(frame(right, 2_000, monitor=2)) is UNCHANGED
    assert gate.decide(frame(right, 4_000, monitor=1)) is CHANGED
    assert gate.decide(frame(right, 60_000, monitor=2)) is HEARTBEAT
    assert gate.decide(frame(right, 60_000, monitor=1)) is UNCHANGED


def test_slow_drift_is_measured_against_the_last_kept_frame(gate: ChangeGate) -> None:
    screen = desktop()
    gate.decide(frame(screen, 0))
    decisions = []
    for step in range(1, 8):
        # Each step brightens by one more grey level than the last kept frame, 0.4% of full scale.
        brighter = np.clip(screen.astype(np.int16) + step, 0, 255).astype(np.uint8)
        decisions.append(gate.decide(frame(brighter, step * 1_000)))

    assert decisions[:2] == [UNCHANGED, UNCHANGED]
    assert CHANGED in decisions


def test_a_resolution_change_is_changed(gate: ChangeGate) -> None:
    gate.decide(frame(desktop(1080, 1920), 0))

    assert gate.decide(frame(desktop(1440, 2560), 1_000)) is CHANGED


def test_signature_is_a_small_grey_grid_in_zero_to_one() -> None:
    white = np.full((1080, 1920, 3), 255, dtype=np.uint8)
    black = np.zeros((480, 640, 3), dtype=np.uint8)
    tiny = desktop(10, 10)

    assert signature(white).shape == (SIGNATURE_H, SIGNATURE_W)
    assert np.allclose(signature(white), 1.0)
    assert np.allclose(signature(black), 0.0)
    assert signature(tiny).shape == (SIGNATURE_H, SIGNATURE_W)
    assert signature(desktop()).dtype == np.float32


def test_signature_sees_where_content_is() -> None:
    half = np.zeros((1080, 1920, 3), dtype=np.uint8)
    half[:, 960:] = 255

    grid = signature(half)

    assert np.allclose(grid[:, : SIGNATURE_W // 2], 0.0)
    assert np.allclose(grid[:, SIGNATURE_W // 2 :], 1.0)


@pytest.mark.parametrize(("threshold", "heartbeat_s"), [(-0.1, 60.0), (1.5, 60.0), (0.01, 0.0)])
def test_rejects_out_of_range_settings(threshold: float, heartbeat_s: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        ChangeGate(threshold=threshold, heartbeat_s=heartbeat_s)
