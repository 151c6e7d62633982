"""What a screen frame adds to the memory: new record, update in place, or more time seen."""

from __future__ import annotations

import numpy as np

from screenrecall.pipeline.messages import Embedding, Record, Window
from screenrecall.pipeline.screen_moments import Current, Verdict, judge, words_of

LOOK = np.array([1.0, 0.0], dtype=np.float32)
OTHER_LOOK = np.array([0.0, 1.0], dtype=np.float32)


def current(text: str, last_seen_ms: int = 1_000, embedding: Embedding = LOOK) -> Current:
    record = Record("r", embedding, 0, last_seen_ms, "screen", 1, "", Window(), 640, 480, text=text)
    return Current.of(record)


def verdict(now: Current | None, text: str | None, at_ms: int = 2_000, embedding: Embedding = LOOK) -> Verdict:
    return judge(now, embedding, text, at_ms, dedup_cosine=0.98, max_gap_ms=10_000)


def test_the_first_frame_of_a_monitor_is_a_new_record() -> None:
    assert verdict(None, "hello") is Verdict.NEW


def test_the_same_words_only_extend_the_record() -> None:
    assert verdict(current("$ make test\nall passed"), "$ make test\nall passed") is Verdict.EXTEND


def test_a_printed_line_updates_the_record_in_place() -> None:
    assert verdict(current("$ make test"), "$ make test\nall 12 passed") is Verdict.UPDATE


def test_a_word_being_typed_updates_the_record_in_place() -> None:
    assert verdict(current("subject: quarterly rep"), "subject: quarterly report") is Verdict.UPDATE


def test_a_page_replaced_in_place_is_a_new_record() -> None:
    assert verdict(current("chapter one the harbour"), "chapter two the lighthouse") is Verdict.NEW


def test_words_scrolled_off_with_none_new_only_extend() -> None:
    assert verdict(current("alpha bravo charlie delta"), "charlie delta") is Verdict.EXTEND


def test_a_ticking_clock_is_not_news() -> None:
    assert verdict(current("build log 12:34:56"), "build log 12:34:57") is Verdict.EXTEND


def test_a_different_look_is_a_new_record_whatever_the_text() -> None:
    assert verdict(current("same words"), "same words", embedding=OTHER_LOOK) is Verdict.NEW


def test_a_gap_ends_the_moment() -> None:
    assert verdict(current("same words", last_seen_ms=0), "same words", at_ms=20_000) is Verdict.NEW


def test_without_text_only_the_look_decides() -> None:
    assert verdict(current("anything"), None) is Verdict.EXTEND
    assert verdict(current("anything"), None, embedding=OTHER_LOOK) is Verdict.NEW


def test_words_are_case_folded_and_ignore_one_and_two_digit_numbers() -> None:
    assert words_of("Invoice 4471 due 12:05, a ACME") == frozenset({"invoice", "4471", "due", "acme"})


def test_frames_skipped_while_ocr_was_behind_are_no_gap_in_watching() -> None:
    behind = judge(
        current("same words", last_seen_ms=0), LOOK, "same words", 20_000,
        dedup_cosine=0.98, max_gap_ms=10_000, watched_ms=15_000,
    )  # fmt: skip

    assert behind is Verdict.EXTEND
