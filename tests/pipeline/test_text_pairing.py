"""Pairing frames with OCR answers: either order, nothing evicted, a missing answer given up in time."""

from __future__ import annotations

import numpy as np

from screenrecall.pipeline.messages import Embedded, Frame, TextFound
from screenrecall.pipeline.text_pairing import TextPairing


def embedded(at_ms: int, expects_text: bool = True) -> Embedded:
    pixels = np.zeros((4, 4, 3), dtype=np.uint8)
    return Embedded(Frame(pixels, at_ms, "screen", monitor=1), 4, 4, np.ones(2, np.float32), (), expects_text)


def text(at_ms: int, words: str = "hello") -> TextFound:
    return TextFound("screen", 1, at_ms, "", words, (), (4, 4))


def test_a_frame_waits_for_its_text() -> None:
    pairing = TextPairing()
    assert pairing.embedded(embedded(1)) is None

    pair = pairing.text(text(1))

    assert pair is not None and pair.text is not None and pair.text.text == "hello"
    assert pairing.waiting == 0


def test_text_that_arrives_first_waits_for_its_frame() -> None:
    pairing = TextPairing()
    assert pairing.text(text(1)) is None

    pair = pairing.embedded(embedded(1))

    assert pair is not None and pair.text is not None


def test_a_frame_not_sent_to_ocr_is_paired_at_once_without_text() -> None:
    pair = TextPairing().embedded(embedded(1, expects_text=False))

    assert pair is not None and pair.text is None


def test_nothing_is_evicted_however_many_frames_wait() -> None:
    pairing = TextPairing()
    for at in range(1000):
        pairing.embedded(embedded(at))

    assert pairing.waiting == 1000
    assert all(pairing.text(text(at)) is not None for at in range(1000))


def test_a_frame_whose_text_never_comes_is_given_up_after_max_wait() -> None:
    now = [0.0]
    pairing = TextPairing(clock=lambda: now[0], max_wait_s=10, max_early_s=10)
    pairing.embedded(embedded(1))
    pairing.text(text(99))  # an answer for a frame that never came

    now[0] = 5.0
    assert pairing.expired() == []
    now[0] = 11.0
    late = pairing.expired()

    assert [p.item.frame.captured_at_ms for p in late] == [1]
    assert late[0].text is None
    assert pairing.given_up == 2


def test_a_file_queued_behind_others_for_minutes_still_gets_its_text() -> None:
    now = [0.0]
    pairing = TextPairing(clock=lambda: now[0])
    pairing.embedded(embedded(1))

    now[0] = 600.0  # ten minutes behind 32 files on a busy machine
    assert pairing.expired() == []
    pair = pairing.text(text(1))

    assert pair is not None and pair.text is not None
