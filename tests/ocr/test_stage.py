"""OCR: real RapidOCR on OpenVINO over rendered screens; changed-region reads match full reads."""

from __future__ import annotations

import numpy as np
import pytest

from screenrecall.ocr.engine import Line, OcrEngine, text_of
from screenrecall.ocr.regions import area_fraction, carried_over, changed_regions, read_regions
from tests.support.screens import terminal, words

SCRIPT = [
    ["$ ls"],
    ["$ ls", "notes.txt  invoice-acme.pdf  build.log"],
    ["$ ls", "notes.txt  invoice-acme.pdf  build.log", "$ grep -i error build.log"],
    [
        "$ ls",
        "notes.txt  invoice-acme.pdf  build.log",
        "$ grep -i error build.log",
        "error: undefined reference to main",
    ],
    [
        "$ ls",
        "notes.txt  invoice-acme.pdf  build.log",
        "$ grep -i error build.log",
        "error: undefined reference to main",
        "$ make clean && make release",
    ],
    # an edit in the middle of a line that was read before
    [
        "$ ls",
        "notes.txt  invoice-acme.pdf  build.log",
        "$ grep -i warning build.log",
        "error: undefined reference to main",
        "$ make clean && make release",
    ],
]


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine()


def test_reads_rendered_terminal_text(engine: OcrEngine) -> None:
    lines = engine.read(terminal(["Invoice #4471 from ACME Corp", "error: undefined reference to main"]))
    text = text_of(lines)
    assert "ACME Corp" in text
    assert "undefined reference" in text
    assert all(line.box[2] > line.box[0] and line.box[3] > line.box[1] for line in lines)


def test_a_blank_screen_reads_as_no_lines(engine: OcrEngine) -> None:
    assert engine.read(terminal([])) == []


def test_no_change_means_nothing_to_read() -> None:
    screen = terminal(["same"])
    assert changed_regions(screen, screen.copy(), []) == []


def test_a_different_size_or_a_mostly_new_screen_asks_for_a_full_read() -> None:
    assert changed_regions(terminal(["a"]), terminal(["a"], size=(640, 480)), []) is None
    full = np.full((720, 1280, 3), 240, dtype=np.uint8)
    assert changed_regions(terminal(["a"]), full, []) is None


@pytest.mark.slow
def test_changed_region_reads_find_the_same_words_as_full_reads(engine: OcrEngine) -> None:
    previous = None
    previous_lines: list = []
    read_share = []
    for step in SCRIPT:
        screen = terminal(step)
        full = engine.read(screen)
        regions = changed_regions(previous, screen, previous_lines) if previous is not None else None
        if regions is None:
            lines = full
            read_share.append(1.0)
        else:
            lines = carried_over(previous_lines, regions) + read_regions(engine.read, screen, regions)
            read_share.append(area_fraction(regions, screen.shape[1], screen.shape[0]))
        assert words(text_of(lines)) == words(text_of(full)), step
        previous, previous_lines = screen, lines
    # After the first full read, each step read a small part of the screen.
    assert max(read_share[1:]) < 0.1


def test_a_new_line_below_a_block_does_not_pull_the_block_into_the_read() -> None:
    from screenrecall.ocr.engine import Line

    before = terminal(["line one", "line two", "line three"])
    after = terminal(["line one", "line two", "line three", "line four"])
    # OCR boxes of adjacent lines overlap by a few pixels, as PP-OCR's do.
    lines = [Line(f"line {n}", (10, 8 + 24 * i, 120, 32 + 24 * i)) for i, n in enumerate(["one", "two", "three"])]
    regions = changed_regions(before, after, lines)
    assert regions is not None and len(regions) == 1
    assert [line.text for line in carried_over(lines, regions)] == ["line one", "line two", "line three"]
    assert regions[0][1] >= 8 + 24 * 2 + 10  # starts below the middle of "line three"


def test_a_region_grown_over_a_line_box_reaching_past_the_frame_stays_inside_it() -> None:
    before = terminal(["first line of text"])
    after = terminal(["first line of text changed"])
    height, width = after.shape[:2]
    wide = Line("first line of text", (0, 0, width + 40, height // 4), 0.9)

    regions = changed_regions(before, after, [wide])

    assert regions
    assert all(0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height for x0, y0, x1, y1 in regions)
