"""The full-text index on its own: folding, phrases, prefixes, CJK, ranking and every filter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from screenrecall.pipeline.messages import Record, Window
from screenrecall.store import text_index, text_query
from screenrecall.store.text_fold import adjacency, fold, query_terms
from screenrecall.store.text_index import TextFilters, TextIndex

HOUR = 3_600_000
T0 = 1_800_000_000_000


def doc(name: str, text: str, at_ms: int = T0, **changes: object) -> Record:
    record = Record(
        id=name,
        embedding=np.empty(0, np.float32),
        captured_at_ms=at_ms,
        last_seen_ms=at_ms,
        source="screen",
        monitor=1,
        path="",
        window=Window(title="", app="XTerm"),
        width=1,
        height=1,
        host="desk",
        text=text,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[TextIndex]:
    opened = TextIndex(tmp_path / "text-index.sqlite3")
    yield opened
    opened.close()


def find(index: TextIndex, query: str, filters: TextFilters | None = None, depth: int = 10) -> list[str]:
    hits = index.search(query_terms(query), filters or TextFilters(), depth, adjacency(query))
    return [hit.id for hit in hits]


def test_case_and_ocr_misreadings_are_folded_at_index_and_query_time(index: TextIndex) -> None:
    index.upsert([doc("a", "ticket 0PS-6468 in bui1d.log from Mamexyarwright: INV0ICE"), doc("b", "xlog OPS-6469")])
    for query in ("OPS-6468", "build.log", "Marnexyarwright", "invoice", "iNvOiCe"):
        assert find(index, query) == ["a"], query
    assert find(index, '"OPS-6468"') == ["a"]


def test_a_quoted_phrase_matches_its_words_side_by_side_across_any_spacing(index: TextIndex) -> None:
    index.upsert([doc("near", "undefined\n   reference to main"), doc("apart", "reference is undefined")])
    assert find(index, '"undefined reference"') == ["near"]
    assert set(find(index, "undefined reference")) == {"near", "apart"}
    assert find(index, "undefined reference")[0] == "near"  # side by side ranks first


def test_a_partly_remembered_word_finds_the_whole_word(index: TextIndex) -> None:
    index.upsert([doc("a", "three invoices are overdue"), doc("b", "an invitation")])
    assert find(index, "invoi") == ["a"]
    assert find(index, '"invoi"') == []  # a quoted word is exact


def test_chinese_and_other_unsegmented_text_is_found_by_any_word_in_it(index: TextIndex) -> None:
    index.upsert([doc("zh", "今天的会议记录很重要"), doc("ja", "請求書をダウンロード"), doc("th", "ใบแจ้งหนี้ล่าสุด")])
    assert find(index, "会议") == ["zh"]
    assert find(index, "会议记录") == ["zh"]
    assert find(index, "议会") == []
    assert find(index, "ダウンロード") == ["ja"]
    assert find(index, "แจ้งหนี้") == ["th"]


def test_query_syntax_is_never_interpreted(index: TextIndex) -> None:
    index.upsert([doc("a", "join at zoom.us NOT later (see *notes*)")])
    for query in ("zoom.us", "NOT", 'a"b', "(", "*", "NEAR(", "col:umn", "---"):
        find(index, query)  # no FTS5 syntax error
    assert find(index, "zoom.us") == ["a"]


def test_title_app_and_path_are_searched_too(index: TextIndex) -> None:
    index.upsert(
        [
            doc("t", "", window=Window(title="Quarterly report.ods", app="libreoffice-calc")),
            doc("p", "", source="folder", path="/home/u/Pictures/receipt-acme.png"),
        ]
    )
    assert find(index, "quarterly") == ["t"]
    assert find(index, "libreoffice") == ["t"]
    assert find(index, "acme") == ["p"]


def test_records_with_every_term_come_first_then_rarer_terms_weigh_more(index: TextIndex) -> None:
    common = [doc(f"common{i}", "status build", T0 - i) for i in range(20)]
    index.upsert([*common, doc("rare", "kernel panic", T0 - 100), doc("both", "kernel status", T0 - 200)])
    found = find(index, "kernel status", depth=30)
    assert found[0] == "both"  # every term
    assert found[1] == "rare"  # the rarer term alone outweighs the common one alone
    assert set(found[2:]) == {c.id for c in common}


def test_the_newest_of_equal_matches_comes_first_whatever_the_storage_order(index: TextIndex) -> None:
    records = [doc(f"r{i}", "deploy failed", T0 + ((i * 7919) % 1000) * HOUR) for i in range(1000)]
    index.upsert(records)
    newest = sorted(records, key=lambda r: r.captured_at_ms, reverse=True)
    assert find(index, "deploy failed", depth=5) == [r.id for r in newest[:5]]


def test_same_millisecond_records_keep_distinct_rows(index: TextIndex) -> None:
    index.upsert([doc(f"m{i}", "same moment", T0) for i in range(50)])
    assert len(find(index, "moment", depth=100)) == 50


@pytest.mark.parametrize("pre_filter_max", [2000, 3])  # pre-filtered (range or exact) and post-filtered
def test_every_filter_applies_inside_the_index(
    index: TextIndex, monkeypatch: pytest.MonkeyPatch, pre_filter_max: int
) -> None:
    monkeypatch.setattr(text_query, "PRE_FILTER_MAX", pre_filter_max)
    index.upsert(
        [
            doc("old", "alpha", T0 - 48 * HOUR),
            doc("long", "alpha", T0 - 30 * HOUR, last_seen_ms=T0 - HOUR // 2),
            doc("new", "alpha", T0),
            doc("code", "alpha", T0 - 5 * HOUR, window=Window("main.py", "Code")),
            doc("m2", "alpha", T0 - 6 * HOUR, monitor=2),
            doc("file", "alpha", T0 - 7 * HOUR, source="folder", monitor=0),
            doc("laptop", "alpha", T0 - 8 * HOUR, host="laptop"),
        ]
    )
    assert set(find(index, "alpha", TextFilters(since_ms=T0 - HOUR))) == {"long", "new"}
    assert set(find(index, "alpha", TextFilters(until_ms=T0 - 30 * HOUR))) == {"old", "long"}
    assert find(index, "alpha", TextFilters(since_ms=T0 - 40 * HOUR, until_ms=T0 - 40 * HOUR)) == []
    assert find(index, "alpha", TextFilters(apps=("Code",))) == ["code"]
    assert find(index, "alpha", TextFilters(apps=())) == []
    assert find(index, "alpha", TextFilters(monitor=2)) == ["m2"]
    assert find(index, "alpha", TextFilters(source="folder")) == ["file"]
    assert find(index, "alpha", TextFilters(host="laptop")) == ["laptop"]
    assert set(find(index, "alpha", TextFilters(host="desk", monitor=1, since_ms=T0 - 6 * HOUR))) == {
        "long",
        "new",
        "code",
    }
    index.extend([("old", T0)])  # still on screen: last_seen moves, since sees it
    assert "old" in find(index, "alpha", TextFilters(since_ms=T0 - HOUR))


def test_scattered_few_records_are_scored_exactly_like_the_index_matches(
    index: TextIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_query, "PRE_FILTER_MAX", 10)
    monkeypatch.setattr(text_query, "DENSE_FACTOR", 1)
    laptop = [doc(f"l{i}", text, T0 - i * 100 * HOUR, host="laptop") for i, text in enumerate(["INV0ICE acme", "acme"])]
    desk = [doc(f"d{i}", "invoice acme", T0 - i * HOUR - HOUR) for i in range(300)]
    index.upsert([*laptop, *desk])
    assert find(index, "invoi acme", TextFilters(host="laptop")) == ["l0", "l1"]
    assert find(index, '"acme invoice"', TextFilters(host="laptop")) == []


def test_set_text_and_delete_change_what_is_found(index: TextIndex) -> None:
    index.upsert([doc("a", ""), doc("b", "kept")])
    index.set_text("a", "now readable")
    assert find(index, "readable") == ["a"]
    index.delete(["a"])
    assert find(index, "readable") == []
    assert index.count() == 1


def test_an_index_of_another_version_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "text-index.sqlite3"
    first = TextIndex(path)
    assert first.state == "missing"
    first.mark_built()
    first.close()
    monkeypatch.setattr(text_index, "VERSION", "0.0")
    second = TextIndex(path)
    assert second.state == "old"
    second.close()


def test_the_fold_keeps_words_apart_and_bigrams_unsegmented_runs() -> None:
    assert fold("Hello|World he||o a | b") == "hello|world hello a | b"
    assert fold("会议记录").split() == ["会议", "议记", "记录"]
    assert fold("\uff21\uff22\uff23\uff15") == "abcs"  # full-width forms (common in CJK text) as ASCII


def test_a_bulk_load_finds_what_upsert_finds_with_same_millisecond_and_known_records(index: TextIndex) -> None:
    index.upsert([doc("known", "obsolete", T0)])
    same_moment = [doc(f"m{i}", "same moment", T0) for i in range(50)]  # slots collide within the batch
    index.load([*same_moment, doc("known", "replacement", T0 + HOUR), doc("later", "same moment", T0 + HOUR)])
    assert len(find(index, "moment", depth=100)) == 51
    assert find(index, "replacement") == ["known"]
    assert find(index, "obsolete") == []
    assert index.count() == 52
    assert find(index, "same moment", depth=1) == ["later"]  # still newest first


def test_clear_empties_a_filled_index_and_it_fills_again(index: TextIndex) -> None:
    index.upsert([doc(f"r{i}", "deploy failed", T0 + i) for i in range(100)])
    index.mark_pending(["r1"])
    index.clear()
    assert (index.count(), index.pending(), index.state) == (0, [], "missing")
    assert find(index, "deploy") == []
    index.load([doc("again", "deploy failed", T0)])
    index.mark_built()
    assert (find(index, "deploy"), index.state) == (["again"], "ok")


def test_a_broad_until_bound_is_where_the_newest_first_walk_starts(
    index: TextIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_query, "PRE_FILTER_MAX", 3)  # broad: post-filtered, walked in FTS5
    index.upsert([doc(f"r{i}", "alpha", T0 + i * HOUR) for i in range(20)])
    until = T0 + 9 * HOUR
    plan = index._ranker._plan(TextFilters(until_ms=until))
    assert isinstance(plan, text_query.Span)
    assert plan.high == (until + 1) * text_query.SLOTS - 1  # not every newer match stepped over
    assert find(index, "alpha", TextFilters(until_ms=until), depth=3) == ["r9", "r8", "r7"]
