"""The visual half's plans (exact on the few, post-filtered on the many, Chroma's walk among the
passing ids between, Chroma's filtered walk where the side table cannot be trusted) all give the
nearest records that pass the filters; the ids alone, best first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from screenrecall.pipeline.messages import Embedding, Record, Window
from screenrecall.recall import visual
from screenrecall.recall.search import Filters, where_clause
from screenrecall.store.chroma import Store, UnknownIdsError
from screenrecall.store.layout import record_id_for_screen
from screenrecall.store.text_index import TextFilters

DIM = 16
T0 = 1_790_000_000_000
MINUTE = 60_000
COUNT = 400


def unit(rng: np.random.Generator) -> Embedding:
    vector = rng.standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def screen(index: int, rng: np.random.Generator) -> Record:
    at = T0 + index * MINUTE
    # Monitor 2 holds ~25 % of the records, host "laptop" ~4 %, at random times (not periodic: the
    # share estimate samples evenly spaced times).
    monitor = 2 if rng.random() < 0.25 else 1
    host = "laptop" if rng.random() < 0.04 else "desk"
    return Record(
        id=record_id_for_screen(monitor, at, host),
        embedding=unit(rng),
        captured_at_ms=at,
        last_seen_ms=at,
        source="screen",
        monitor=monitor,
        path="",
        window=Window(title="", app="term"),
        width=1920,
        height=1080,
        host=host,
    )


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[Record]]]:
    rng = np.random.default_rng(7)
    records = [screen(i, rng) for i in range(COUNT)]
    with Store.open(tmp_path_factory.mktemp("visual") / "store") as store:
        store.add(records)
        yield store, records


def brute_force(records: list[Record], query: Embedding, filters: Filters, depth: int) -> list[str]:
    def passes(r: Record) -> bool:
        return (
            (filters.monitor is None or r.monitor == filters.monitor)
            and (filters.host is None or r.host == filters.host)
            and (filters.since_ms is None or r.last_seen_ms >= filters.since_ms)
        )

    kept = sorted((r for r in records if passes(r)), key=lambda r: -float(r.embedding @ query))
    return [r.id for r in kept[:depth]]


def text_filters(filters: Filters) -> TextFilters:
    return TextFilters(filters.since_ms, filters.until_ms, None, filters.monitor, filters.source, filters.host)


CASES = {
    "few: a 10-minute window": Filters(since_ms=T0 + (COUNT - 10) * MINUTE),
    "many: monitor 2": Filters(monitor=2),
    "between: host laptop": Filters(host="laptop"),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("plan", ["as planned", "pre-filter", "post-filter", "walk among ids", "chroma walk"])
def test_every_plan_finds_the_nearest_records_that_pass(
    filled: tuple[Store, list[Record]], name: str, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, records = filled
    if plan == "pre-filter":
        monkeypatch.setattr(visual, "PRE_FILTER_MAX", COUNT)
    elif plan == "post-filter":
        monkeypatch.setattr(visual, "PRE_FILTER_MAX", 0)
        monkeypatch.setattr(visual, "POST_FILTER_MIN_SHARE", 0.0)
        monkeypatch.setattr(visual, "POST_FILTER_MAX_K", COUNT * 10)
    elif plan == "walk among ids":
        monkeypatch.setattr(visual, "PRE_FILTER_MAX", 0)
        monkeypatch.setattr(visual, "POST_FILTER_MIN_SHARE", 2.0)
        monkeypatch.setattr(visual, "AMONG_MAX", COUNT)
    elif plan == "chroma walk":
        monkeypatch.setattr(visual, "PRE_FILTER_MAX", 0)
        monkeypatch.setattr(visual, "POST_FILTER_MIN_SHARE", 2.0)
        monkeypatch.setattr(visual, "AMONG_MAX", 0)
    filters = CASES[name]
    for seed in range(5):
        query = unit(np.random.default_rng(100 + seed))
        got = visual.nearest(store, query, 8, where_clause(filters, lambda: []), text_filters(filters))
        assert [record_id for record_id, _ in got] == brute_force(records, query, filters, 8)
        scores = [score for _, score in got]
        assert scores == sorted(scores, reverse=True)


def test_the_planner_picks_by_selectivity(
    filled: tuple[Store, list[Record]], monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    store, _ = filled
    query = unit(np.random.default_rng(1))
    # (A store of 400 records: pre-filtering takes up to 20 here, as it takes up to 4,000 of 1M.)
    assert len(store.text_index.candidates(text_filters(CASES["few: a 10-minute window"]), 20) or []) == 10
    assert store.text_index.candidates(text_filters(CASES["many: monitor 2"]), 20) is None
    # Monitor 2 (~25 %): a first walk of 12 x 8 = 96 neighbours; the side table says which pass.
    assert visual.post_filtered(store, query, 8, text_filters(CASES["many: monitor 2"])) is not None
    # Host laptop (~4 %) needs ~400 neighbours: more than the cap sends it to Chroma's filtered walk.
    monkeypatch.setattr(visual, "POST_FILTER_MAX_K", 100)
    assert visual.post_filtered(store, query, 8, text_filters(CASES["between: host laptop"])) is None


def test_candidates_a_walk_could_serve_are_walked_before_they_are_scored_exactly(
    filled: tuple[Store, list[Record]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, records = filled
    # Scaled to 400 records: more than 5 candidates and at least 10 % of the store is worth a walk.
    monkeypatch.setattr(visual, "EXACT_ANYWAY", 5)
    monkeypatch.setattr(visual, "POST_FILTER_MIN_SHARE", 0.1)
    assert not visual.post_filter_may_serve(store, 5)
    assert not visual.post_filter_may_serve(store, 39)  # under 10 %: a walk would not find enough
    assert visual.post_filter_may_serve(store, 100)
    walks: list[int] = []
    original = store.nearest
    monkeypatch.setattr(store, "nearest", lambda *a, **k: walks.append(1) or original(*a, **k))
    for name, walked in (("few: a 10-minute window", False), ("many: monitor 2", True)):
        walks.clear()
        filters = CASES[name]
        query = unit(np.random.default_rng(3))
        got = visual.nearest(store, query, 8, where_clause(filters, lambda: []), text_filters(filters))
        assert [record_id for record_id, _ in got] == brute_force(records, query, filters, 8)
        assert bool(walks) is walked, name


def test_the_side_table_says_which_ids_pass(filled: tuple[Store, list[Record]]) -> None:
    store, records = filled
    ids = [r.id for r in records[:40]] + ["no-such-id"]
    passing = store.text_index.passing(ids, TextFilters(monitor=2))
    assert passing == {r.id for r in records[:40] if r.monitor == 2}
    assert store.text_index.passing(ids, TextFilters()) == {r.id for r in records[:40]}


def test_a_walk_among_ids_chroma_no_longer_has_falls_back_to_chromas_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(11)
    records = [screen(i, rng) for i in range(60)]
    ghost = screen(60, rng)  # listed by the side table, gone from Chroma (a delete under way)
    with Store.open(tmp_path / "store") as store:
        store.add(records)
        store.text_index.upsert([ghost])
        with pytest.raises(UnknownIdsError):
            store.nearest(ghost.embedding, 5, among=[records[0].id, ghost.id])
        monkeypatch.setattr(visual, "PRE_FILTER_MAX", 0)
        monkeypatch.setattr(visual, "POST_FILTER_MIN_SHARE", 2.0)
        monkeypatch.setattr(visual, "AMONG_MAX", 100)  # the walk among ids is planned, and fails
        filters = Filters(since_ms=T0)
        query = unit(np.random.default_rng(5))
        got = visual.nearest(store, query, 8, where_clause(filters, lambda: []), text_filters(filters))
        assert [record_id for record_id, _ in got] == brute_force(records, query, filters, 8)
