"""The OCR reader sees a few fixed shapes: frames in overlapping bands, padded; each line read once."""

from __future__ import annotations

import numpy as np
import pytest

from screenrecall.ocr.bands import BAND_ROWS, OVERLAP_ROWS, PAD_STEP, bands, bucket_width, pad
from screenrecall.ocr.engine import OcrEngine
from tests.support.screens import terminal


@pytest.mark.parametrize("height", [40, BAND_ROWS, BAND_ROWS + 1, 720, 1080, 1440, 2160])
def test_every_row_belongs_to_exactly_one_band(height: int) -> None:
    frame = np.zeros((height, 300, 3), dtype=np.uint8)
    owners = np.zeros(height, dtype=int)
    for band in bands(frame):
        owners[band.keep_from : band.keep_to] += 1
        assert band.top <= band.keep_from < band.keep_to <= band.top + min(height, BAND_ROWS)
        assert band.pixels.shape[0] % PAD_STEP == 0 and band.pixels.shape[1] % PAD_STEP == 0
    assert (owners == 1).all()


@pytest.mark.parametrize("height", [BAND_ROWS + 1, 1080, 2160])
def test_a_line_owned_by_a_band_lies_whole_inside_it(height: int) -> None:
    frame = np.zeros((height, 64, 3), dtype=np.uint8)
    line_height = OVERLAP_ROWS - 2
    for line_top in range(0, height - line_height):
        centre = line_top + line_height / 2
        owner = [b for b in bands(frame) if b.keep_from <= centre < b.keep_to]
        assert len(owner) == 1
        assert owner[0].top <= line_top and line_top + line_height <= owner[0].top + BAND_ROWS


def test_a_frame_has_one_band_shape_and_the_detector_few_shapes_overall() -> None:
    shapes = {band.pixels.shape for band in bands(np.zeros((1080, 1920, 3), dtype=np.uint8))}
    assert shapes == {(BAND_ROWS // PAD_STEP * PAD_STEP + PAD_STEP * (BAND_ROWS % PAD_STEP > 0), 1920, 3)}
    crops = {pad(np.zeros((h, w, 3), dtype=np.uint8)).shape for h in range(20, 449, 7) for w in range(30, 1921, 31)}
    assert len(crops) <= (448 // PAD_STEP + 1) * (1920 // PAD_STEP)


def test_padding_keeps_the_pixels_and_reads_as_background() -> None:
    image = np.full((50, 70, 3), (30, 40, 50), dtype=np.uint8)
    image[20:30, 10:60] = 255  # "text"
    padded = pad(image)
    assert padded.shape == (128, 128, 3)
    np.testing.assert_array_equal(padded[:50, :70], image)
    assert (padded[50:, :] == (30, 40, 50)).all() and (padded[:, 70:] == (30, 40, 50)).all()
    assert pad(np.zeros((128, 256, 3), dtype=np.uint8)).shape == (128, 256, 3)  # already a multiple


def test_recogniser_widths_come_in_steps() -> None:
    assert [bucket_width(w) for w in (1, 127.9, 128, 129, 640.5)] == [128, 128, 128, 256, 768]


@pytest.mark.slow
def test_lines_across_band_seams_are_read_once_and_whole() -> None:
    # 48 lines of ~20 px on 1080 rows (22-px pitch): band seams fall inside lines; each comes back once.
    names = ["alpha", "beta", "gamma", "delta"]
    lines = [f"row{n:02d} seam check {names[n % 4]} {n * 7919 % 100000:05d}" for n in range(48)]
    engine = OcrEngine(warm=False)
    try:
        read = engine.read(terminal(lines, (1920, 1080), font_size=15))
    finally:
        engine.close()
    texts = [line.text for line in read]
    for n in range(48):
        tag = f"row{n:02d}"
        assert sum(tag in text for text in texts) <= 1, f"{tag} read twice: {texts}"
    assert sum(any(f"row{n:02d}" in text for text in texts) for n in range(48)) >= 47, texts
    numbers = {f"{n * 7919 % 100000:05d}" for n in range(48)}
    assert sum(any(number in text for text in texts) for number in numbers) >= 47, texts
