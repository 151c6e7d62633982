"""Text search terms: OCR's usual misreadings still match; quoted phrases stay whole."""

from __future__ import annotations

import re

from screenrecall.recall.search import fuse_hits
from screenrecall.recall.text_search import pattern, snippet, terms


def test_a_term_matches_its_common_ocr_misreadings_and_nothing_looser() -> None:
    assert re.search(pattern("OPS-6468"), "ticket 0PS-6468 is open")
    assert re.search(pattern("Marnexyarwright"), "from Mamexyarwright")
    assert re.search(pattern("invoice"), "INV0ICE")
    assert re.search(pattern("build.log"), "bui1d.log")
    assert not re.search(pattern("build.log"), "buildxlog")  # the dot is literal
    assert not re.search(pattern("OPS-6468"), "OPS-6469")


def test_phrases_allow_any_whitespace_between_words() -> None:
    assert re.search(pattern("undefined reference"), "undefined\n  reference to main")
    assert terms('the "undefined reference" in build.log') == ["undefined reference", "the", "in", "build.log"]


def test_the_snippet_is_the_line_holding_a_misread_term() -> None:
    text = "first line\nticket 0PS-6468 open\nlast"
    assert snippet(text, ["OPS-6468"]) == "ticket 0PS-6468 open"


def _hit(record_id: str) -> tuple[str, float]:
    return record_id, 0.5


def test_on_equal_fused_scores_the_text_match_comes_first() -> None:
    fused = fuse_hits([_hit("has-the-words")], [_hit("only-looks-alike")])
    assert [record_id for record_id, _ in fused] == ["has-the-words", "only-looks-alike"]


def test_a_record_in_both_rankings_outranks_one_in_either() -> None:
    fused = fuse_hits([_hit("words"), _hit("both")], [_hit("both"), _hit("look")])
    assert fused[0][0] == "both"
