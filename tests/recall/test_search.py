"""Recall over a real Chroma store with the real (tiny) CLIP model: queries, filters, moments."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from screenrecall.config import ModelConfig
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime, load_runtime
from screenrecall.pipeline.messages import Embedding, Record, Source, Window
from screenrecall.recall import visual
from screenrecall.recall.moments import MERGE_GAP_MS, Moment, merge_moments
from screenrecall.recall.search import MAX_LIMIT, Filters, Query, QueryError, Searcher, where_clause
from screenrecall.store.chroma import Store
from screenrecall.store.layout import record_id_for_file, record_id_for_screen
from tests.support.chroma_server import ChromaServer
from tests.support.recall import COLOURS, schema_problems, solid

T0 = 1_790_000_000_000  # a fixed epoch-ms origin: 2026-09-21
MINUTE = 60_000


@pytest.fixture(scope="module")
def runtime(tiny_bundle: Path) -> ModelRuntime:
    return load_runtime(ModelConfig(path=str(tiny_bundle), cache=False), tiny_bundle)


@pytest.fixture(scope="module")
def looks(runtime: ModelRuntime) -> dict[str, Embedding]:
    """The real embedding of each solid colour, and of a near-identical variant ("red~")."""
    images = {name: solid(name) for name in COLOURS} | {"red~": solid("red", mark=3)}
    encoder = runtime.image_encoder(_ignore, _ignore)
    results = encoder.encode_batch([letterbox(pixels, runtime.image_side) for pixels in images.values()])
    embeddings: dict[str, Embedding] = {}
    for name, result in zip(images, results, strict=True):
        assert isinstance(result, np.ndarray), f"{name}: {result}"
        embeddings[name] = result
    return embeddings


def _ignore(*_: object) -> None:
    return None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store") as opened:
        yield opened


def record(
    embedding: Embedding,
    at_ms: int,
    *,
    last_ms: int | None = None,
    source: Source = "screen",
    monitor: int = 1,
    app: str = "",
    title: str = "",
    host: str = "desk",
    name: str = "",
) -> Record:
    if source == "screen":
        record_id, path, key = record_id_for_screen(monitor, at_ms, host), "", ""
    else:
        path = f"/pictures/{name or at_ms}.png"
        key = f"{path}|100|{at_ms}"
        record_id, monitor = record_id_for_file(key), 0
    return Record(
        id=record_id,
        embedding=embedding,
        captured_at_ms=at_ms,
        last_seen_ms=at_ms if last_ms is None else last_ms,
        source=source,
        monitor=monitor,
        path=path,
        window=Window(title=title, app=app),
        width=160,
        height=100,
        file_key=key,
        host=host,
    )


def ids(moments: Sequence[Moment]) -> set[str]:
    return {m.record.id for m in moments}


def by_image(colour: str, **filters: Any) -> Query:
    return Query(image=solid(colour), filters=Filters(**filters), limit=20)


# --- queries ---------------------------------------------------------------------------------


def test_an_image_query_finds_its_own_record_first_with_score_one(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    wanted = record(looks["green"], T0 + 2 * MINUTE, source="folder", name="green")
    store.add([record(looks["red"], T0, source="folder", name="red"), wanted])
    store.add([record(looks["black"], T0 + 4 * MINUTE, source="folder", name="black")])
    moments = Searcher(store, runtime).search(by_image("green"))
    assert moments[0].record.id == wanted.id
    assert moments[0].score == pytest.approx(1.0, abs=1e-3)
    assert [m.score for m in moments] == sorted((m.score for m in moments), reverse=True)
    assert len(moments) == 3


def test_a_text_query_returns_at_most_limit_moments_best_first(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    store.add([record(looks[c], T0 + i * MINUTE, source="folder", name=c) for i, c in enumerate(COLOURS)])
    moments = Searcher(store, runtime).search(Query(text="a red screen", limit=2))
    assert len(moments) == 2
    assert moments[0].score >= moments[1].score


def test_an_empty_store_finds_nothing(store: Store, runtime: ModelRuntime) -> None:
    assert Searcher(store, runtime).search(Query(text="anything")) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (Query(), "exactly one"),
        (Query(text="a", image=solid("red")), "exactly one"),
        (Query(text=""), "empty"),
        (Query(text="  \n"), "empty"),
        (Query(text="a", limit=0), "limit must be 1..200"),
        (Query(text="a", limit=MAX_LIMIT + 1), "limit must be 1..200"),
        (Query(text="a", filters=Filters(app="fire(fox")), "bad --app regex 'fire\\(fox'"),
    ],
)
def test_a_query_that_cannot_be_answered_says_why(
    store: Store, runtime: ModelRuntime, query: Query, message: str
) -> None:
    store.add([record(np.eye(16, dtype=np.float32)[0], T0, app="Firefox")])
    with pytest.raises(QueryError, match=message):
        Searcher(store, runtime).search(query)


# --- filters ---------------------------------------------------------------------------------


def test_since_keeps_moments_still_visible_at_or_after_it(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    long_seen = record(looks["red"], T0, last_ms=T0 + 30 * MINUTE)  # on screen from T0 to T0+30 min
    later = record(looks["green"], T0 + 60 * MINUTE)
    store.add([long_seen, later])
    searcher = Searcher(store, runtime)
    assert ids(searcher.search(by_image("red", since_ms=T0 + 15 * MINUTE))) == {long_seen.id, later.id}
    assert ids(searcher.search(by_image("red", since_ms=T0 + 30 * MINUTE))) == {long_seen.id, later.id}
    assert ids(searcher.search(by_image("red", since_ms=T0 + 31 * MINUTE))) == {later.id}


def test_until_keeps_moments_that_began_at_or_before_it(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    early = record(looks["red"], T0, last_ms=T0 + 30 * MINUTE)
    later = record(looks["green"], T0 + 60 * MINUTE)
    store.add([early, later])
    searcher = Searcher(store, runtime)
    assert ids(searcher.search(by_image("green", until_ms=T0 + 59 * MINUTE))) == {early.id}
    assert ids(searcher.search(by_image("green", until_ms=T0 + 60 * MINUTE))) == {early.id, later.id}
    assert searcher.search(by_image("green", until_ms=T0 - 1)) == []


def test_since_and_until_together_select_what_was_visible_in_between(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    records = [record(looks[c], T0 + i * 60 * MINUTE, source="folder", name=c) for i, c in enumerate(COLOURS)]
    store.add(records)  # red at T0, green +1 h, black +2 h, white +3 h
    moments = Searcher(store, runtime).search(by_image("red", since_ms=T0 + 30 * MINUTE, until_ms=T0 + 150 * MINUTE))
    assert ids(moments) == {records[1].id, records[2].id}


def test_app_filter_is_a_case_insensitive_regex_on_the_application(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    browser = record(looks["red"], T0, app="Firefox", title="Invoice")
    terminal = record(looks["green"], T0 + MINUTE, app="XTerm", title="build")
    nameless = record(looks["black"], T0 + 2 * MINUTE)
    store.add([browser, terminal, nameless])
    searcher = Searcher(store, runtime)
    assert ids(searcher.search(by_image("green", app="firefox"))) == {browser.id}
    assert ids(searcher.search(by_image("green", app="^x"))) == {terminal.id}
    assert ids(searcher.search(by_image("green", app="fox|term"))) == {browser.id, terminal.id}
    assert searcher.search(by_image("green", app="slack")) == []  # no such app: nothing, not everything


@pytest.mark.parametrize(
    ("filters", "wanted"),
    [
        ({"monitor": 2}, {"screen-2"}),
        ({"monitor": 1}, {"screen-1"}),
        ({"source": "folder"}, {"file"}),
        ({"source": "screen"}, {"screen-1", "screen-2"}),
        ({"host": "laptop"}, {"screen-2"}),
        ({"host": "desk", "source": "screen"}, {"screen-1"}),
        ({"host": "nowhere"}, set()),
    ],
)
def test_monitor_source_and_host_filters_narrow_the_results(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding], filters: dict[str, object], wanted: set[str]
) -> None:
    named = {
        "screen-1": record(looks["red"], T0, monitor=1, host="desk"),
        "screen-2": record(looks["green"], T0 + MINUTE, monitor=2, host="laptop"),
        "file": record(looks["black"], T0 + 2 * MINUTE, source="folder", host="desk"),
    }
    store.add(list(named.values()))
    found = ids(Searcher(store, runtime).search(by_image("white", **filters)))
    assert found == {named[name].id for name in wanted}


def test_filters_apply_inside_the_nearest_neighbour_search_not_after_it(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    # 60 red records on monitor 1 crowd out everything else from an unfiltered top-k.
    store.add([record(looks["red"], T0 + i * 10 * MINUTE, monitor=1) for i in range(60)])
    lonely = record(looks["green"], T0, monitor=2)
    store.add([lonely])
    moments = Searcher(store, runtime).search(Query(image=solid("red"), filters=Filters(monitor=2), limit=1))
    assert ids(moments) == {lonely.id}


def test_a_new_app_is_searchable_at_once_when_noted_and_after_a_refresh_otherwise(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    now = [1000.0]
    searcher = Searcher(store, runtime, clock=lambda: now[0])
    store.add([record(looks["red"], T0, app="Firefox")])
    assert len(searcher.search(by_image("red", app="firefox"))) == 1  # known apps read from the store
    chat = record(looks["green"], T0 + MINUTE, app="Slack")
    store.add([chat])
    assert searcher.search(by_image("red", app="slack")) == []  # the app list is cached...
    searcher.note_app("Slack")  # ...but the writer tells the searcher about a new app at once
    assert ids(searcher.search(by_image("red", app="slack"))) == {chat.id}
    mail = record(looks["black"], T0 + 2 * MINUTE, app="Thunderbird")
    store.add([mail])  # e.g. written by another machine sharing the store
    now[0] += 61
    assert ids(searcher.search(by_image("red", app="thunder"))) == {mail.id}


def test_no_filters_make_no_where_clause_and_several_are_anded() -> None:
    assert where_clause(Filters(), list) is None
    assert where_clause(Filters(monitor=2), list) == {"monitor": 2}
    both = where_clause(Filters(since_ms=5, until_ms=9), list)
    assert both == {"$and": [{"last_seen": {"$gte": 5}}, {"captured_at": {"$lte": 9}}]}


# --- moments ---------------------------------------------------------------------------------


def _axis(*weights: float) -> Embedding:
    vector = np.zeros(16, dtype=np.float32)
    vector[: len(weights)] = weights
    return (vector / np.linalg.norm(vector)).astype(np.float32)


A = _axis(1.0)  # A and A2 are near-identical (cosine 0.995); B is unrelated
A2 = _axis(1.0, 0.1)
B = _axis(0.0, 0.0, 1.0)


def test_consecutive_near_identical_hits_of_one_monitor_are_one_moment() -> None:
    first = record(A, T0, last_ms=T0 + MINUTE)
    second = record(A2, T0 + 2 * MINUTE, last_ms=T0 + 3 * MINUTE)
    third = record(A, T0 + 4 * MINUTE)
    moments = merge_moments([(second, 0.9), (third, 0.7), (first, 0.8)])  # any order in
    assert len(moments) == 1
    moment = moments[0]
    assert (moment.first_seen_ms, moment.last_seen_ms) == (T0, T0 + 4 * MINUTE)
    assert moment.record is second and moment.score == 0.9  # the best hit represents the moment
    assert moment.record_ids == [first.id, second.id, third.id]


def test_different_monitors_hosts_and_folder_files_never_merge() -> None:
    hits = [
        (record(A, T0, monitor=1), 0.9),
        (record(A, T0 + 1000, monitor=2), 0.8),
        (record(A, T0 + 2000, monitor=1, host="laptop"), 0.7),
        (record(A, T0 + 3000, source="folder", name="a"), 0.6),
        (record(A, T0 + 4000, source="folder", name="b"), 0.5),
    ]
    assert len(merge_moments(hits)) == 5


def test_a_gap_or_a_different_screen_in_between_starts_a_new_moment() -> None:
    before = record(A, T0)
    after_gap = record(A2, T0 + MERGE_GAP_MS + 1)
    other = record(B, T0 + MERGE_GAP_MS + 2)
    back = record(A, T0 + MERGE_GAP_MS + 3)
    moments = merge_moments([(before, 0.5), (after_gap, 0.6), (other, 0.7), (back, 0.8)])
    assert [m.record_ids for m in moments] == [[back.id], [other.id], [after_gap.id], [before.id]]


def test_merged_search_results_fill_the_limit_with_distinct_moments(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    # Ten near-identical red frames in a row, then green and black: three moments, not ten reds.
    reds = [record(looks["red" if i % 2 else "red~"], T0 + i * 1000) for i in range(10)]
    others = [record(looks["green"], T0 + 20_000), record(looks["black"], T0 + 30_000)]
    store.add(reds + others)
    moments = Searcher(store, runtime).search(Query(image=solid("red"), limit=3))
    assert len(moments) == 3
    assert sorted(moments[0].record_ids) == sorted(r.id for r in reds)
    assert (moments[0].first_seen_ms, moments[0].last_seen_ms) == (T0, T0 + 9000)


def test_a_moment_as_json_matches_the_openapi_schema_with_iso_times() -> None:
    moment = merge_moments([(record(A, T0 + 123, last_ms=T0 + 5 * MINUTE, app="XTerm", title="vim"), 0.5)])[0]
    data = moment.to_json()
    assert schema_problems(data, "Moment") == []
    captured = datetime.fromisoformat(data["captured_at"])
    assert captured.tzinfo is not None
    assert int(captured.timestamp()) == (T0 + 123) // 1000
    assert int(datetime.fromisoformat(data["last_seen"]).timestamp()) == (T0 + 5 * MINUTE) // 1000
    assert (data["app"], data["window_title"], data["host"]) == ("XTerm", "vim", "desk")


# --- a shared store ----------------------------------------------------------------------------


@pytest.mark.slow
def test_machines_sharing_a_chroma_server_are_told_apart_by_host(
    tmp_path: Path, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    server = ChromaServer(tmp_path / "chroma")
    try:
        with Store.open(tmp_path / "desk", server.url) as desk, Store.open(tmp_path / "laptop", server.url) as laptop:
            desk.add([record(looks["red"], T0, host="desk", app="Firefox")])
            laptop.add([record(looks["red"], T0, host="laptop", app="Firefox")])
            searcher = Searcher(laptop, runtime)
            both = searcher.search(by_image("red"))
            assert {m.record.host for m in both} == {"desk", "laptop"}
            assert len(both) == 2  # same monitor and time, different machines: two moments
            assert [m.record.host for m in searcher.search(by_image("red", host="desk", app="fire"))] == ["desk"]
    finally:
        server.stop()


# --- words: the full-text index through the searcher ----------------------------------------------


def by_text(text: str, mode: str = "text", **filters: Any) -> Query:
    return Query(text=text, filters=Filters(**filters), limit=10, mode=mode)  # type: ignore[arg-type]


def test_text_hits_of_one_moment_merge_and_the_newest_of_equal_matches_comes_first(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    # Two minutes of one unchanged screen (near-identical looks), and two other screens, all with the word.
    steady = [replace(record(looks["red"], T0 + i * MINUTE), text="invoice 4711 overdue") for i in range(2)]
    other = replace(record(looks["white"], T0 + 60 * MINUTE, monitor=2), text="invoice 4711 overdue")
    newest = replace(record(looks["green"], T0 + 90 * MINUTE), text="invoice 4711 overdue")
    store.add([*steady, other, newest])
    moments = Searcher(store, runtime).search(by_text("invoi 4711"))
    assert [m.record.id for m in moments][:2] == [newest.id, other.id]
    assert sorted(len(m.record_ids) for m in moments) == [1, 1, 2]
    hybrid = Searcher(store, runtime).search(by_text("invoice 4711", mode="hybrid"))
    assert sorted(len(m.record_ids) for m in hybrid) == [1, 1, 2]  # hybrid hits merge the same way


def test_results_fill_the_limit_when_the_side_table_lists_records_chroma_no_longer_has(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]
) -> None:
    # Ten minutes apart: no two merge. The ghosts are newer, so they rank first among equal matches,
    # as records being forgotten (gone from Chroma, not yet from the index) would.
    kept = [replace(record(looks["red"], T0 + i * 10 * MINUTE), text="invoice from acme") for i in range(6)]
    ghosts = [replace(record(looks["red"], T0 + (100 + i * 10) * MINUTE), text="invoice from acme") for i in range(6)]
    store.add(kept)
    store.text_index.upsert(ghosts)
    moments = Searcher(store, runtime).search(replace(by_text("invoice acme"), limit=4))
    assert len(moments) == 4
    assert ids(moments) <= {r.id for r in kept}


def test_text_search_applies_every_filter(store: Store, runtime: ModelRuntime, looks: dict[str, Embedding]) -> None:
    words = "deploy checklist"
    store.add(
        [
            replace(record(looks["red"], T0, app="Code"), text=words),
            replace(record(looks["red"], T0 + 90 * MINUTE, monitor=2, host="laptop"), text=words),
            replace(record(looks["red"], T0 + 180 * MINUTE, source="folder"), text=words),
        ]
    )
    searcher = Searcher(store, runtime)

    def hosts_monitors(**filters: Any) -> set[tuple[str, str, int]]:
        return {(m.record.host, m.record.source, m.record.monitor) for m in searcher.search(by_text(words, **filters))}

    assert hosts_monitors(app="code") == {("desk", "screen", 1)}
    assert hosts_monitors(monitor=2) == hosts_monitors(host="laptop") == {("laptop", "screen", 2)}
    assert hosts_monitors(source="folder") == {("desk", "folder", 0)}
    assert hosts_monitors(since_ms=T0 + 60 * MINUTE, until_ms=T0 + 120 * MINUTE) == {("laptop", "screen", 2)}
    assert hosts_monitors(app="nothing-like-it") == set()


# Chroma's filtered kNN; exact scoring of the few; an unfiltered kNN then the filter.
@pytest.mark.parametrize("path", [(0, 2.0), (200, 2.0), (0, 0.0)])  # (pre-filter max, post-filter min share)
def test_visual_filters_give_the_same_answer_pre_or_post_filtered(
    store: Store, runtime: ModelRuntime, looks: dict[str, Embedding], monkeypatch: pytest.MonkeyPatch,
    path: tuple[int, float],
) -> None:  # fmt: skip
    monkeypatch.setattr(visual, "PRE_FILTER_MAX", path[0])
    monkeypatch.setattr(visual, "POST_FILTER_MIN_SHARE", path[1])
    store.add([record(looks["red"], T0 + i * 10 * MINUTE, monitor=1) for i in range(30)])
    lonely = record(looks["green"], T0, monitor=2)
    store.add([lonely])
    searcher = Searcher(store, runtime)
    assert ids(searcher.search(Query(image=solid("red"), filters=Filters(monitor=2), limit=1))) == {lonely.id}
    window = searcher.search(by_image("red", since_ms=T0 + 95 * MINUTE, until_ms=T0 + 125 * MINUTE))
    assert {m.first_seen_ms for m in window} == {T0 + 100 * MINUTE, T0 + 110 * MINUTE, T0 + 120 * MINUTE}
