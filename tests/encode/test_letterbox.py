"""Letterboxing keeps the whole frame: nothing cropped, aspect kept, padding of CLIP's mean colour."""

from __future__ import annotations

import numpy as np
import pytest

from screenrecall.encode.letterbox import PAD_RGB, fitted_size, letterbox


def test_a_16_9_screen_keeps_its_left_and_right_edges() -> None:
    screen = np.zeros((1080, 1920, 3), dtype=np.uint8)
    screen[:, :200] = (255, 0, 0)  # left edge: centre-cropping would lose it
    screen[:, -200:] = (0, 0, 255)  # right edge
    square = letterbox(screen, 224)
    assert square.shape == (224, 224, 3)
    new_w, new_h = fitted_size(1920, 1080, 224)
    assert (new_w, new_h) == (224, 126)
    top = (224 - new_h) // 2
    assert tuple(square[112, 5]) == (255, 0, 0)
    assert tuple(square[112, 218]) == (0, 0, 255)
    assert tuple(square[top // 2, 112]) == PAD_RGB
    assert tuple(square[224 - top // 2, 112]) == PAD_RGB


def test_portrait_image_is_padded_left_and_right() -> None:
    tall = np.full((1000, 400, 3), 200, dtype=np.uint8)
    square = letterbox(tall, 224)
    assert tuple(square[112, 2]) == PAD_RGB
    assert tuple(square[112, 112]) == (200, 200, 200)


def test_small_image_is_scaled_up_to_fit() -> None:
    tiny = np.full((10, 20, 3), 50, dtype=np.uint8)
    square = letterbox(tiny, 224)
    assert tuple(square[112, 112]) == (50, 50, 50)


def test_non_rgb_input_is_refused() -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        letterbox(np.zeros((10, 10, 4), dtype=np.uint8))
