"""Very wide lines are recognised in pieces cut between words, and read as the same words."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from screenrecall.ocr.engine import OcrEngine
from screenrecall.ocr.lines import MAX_RATIO, split_wide
from tests.support.screens.canvas import terminal

WORDS = [f"word{n:02d}" for n in range(60)]


def wide_line() -> np.ndarray:
    """One line of 60 words at 15 px across a 1,900-px terminal, cropped to the line as the detector does."""
    screen = terminal([" ".join(WORDS[:30]), " ".join(WORDS[30:])], (1900, 60), font_size=15)
    return screen[8:32, :]  # the first line only


def test_a_wide_line_is_cut_only_in_blank_runs_into_pieces_under_the_ratio() -> None:
    line = wide_line()
    pieces = split_wide(line)
    assert len(pieces) > 1
    assert all(piece.shape[1] <= MAX_RATIO * line.shape[0] for piece in pieces)
    assert np.array_equal(np.hstack(pieces), line)  # nothing lost, nothing repeated
    for left, right in itertools.pairwise(pieces):
        edge = np.hstack([left[:, -2:], right[:, :2]]).mean(axis=2)
        assert edge.max() - edge.min() < 32, "a cut went through ink"


def test_narrow_lines_and_lines_without_a_gap_are_read_whole() -> None:
    short = wide_line()[:, :400]
    assert split_wide(short)[0] is short and len(split_wide(short)) == 1
    ink = np.random.default_rng(0).integers(0, 256, (24, 1900, 3), dtype=np.uint8)  # no blank run anywhere
    assert len(split_wide(ink)) == 1


@pytest.mark.slow
def test_a_screen_of_wide_lines_reads_every_word() -> None:
    lines = [" ".join(WORDS[n : n + 20]) + f" end{n:02d}" for n in range(0, 40, 2)]
    engine = OcrEngine(warm=False)
    try:
        read = engine.read(terminal(lines, (1920, 600), font_size=15))
    finally:
        engine.close()
    texts = [line.text for line in read]
    found = " ".join(texts).split()
    for n in range(0, 40, 2):  # each line once (the detector may box a line's last word apart)
        assert found.count(f"end{n:02d}") == 1, texts
    planted = " ".join(lines).split()
    assert sum(word in found for word in planted) >= 0.97 * len(planted), texts
