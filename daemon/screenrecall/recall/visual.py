"""The visual half of a search: the record ids nearest a CLIP embedding that pass the filters.

It returns ids and similarities only; the caller fetches the records it keeps, once for both halves.
How the filters are applied is planned per query, from the filter's selectivity (measured on the
2-core machine with `bench/query.py`, figures at 1M records):

- few records pass (a few hours in a year): they are scored exactly on their embeddings (940 in
  ~60 ms, 2,800 in ~165 ms; Chroma's filtered walk took 700-870 ms for the 940);
- many pass (an app, a monitor, a host, half the span): an unfiltered walk fetches enough neighbours
  for the depth asked to pass, and the text index's side table says which pass (ids only, ~20 ms
  for 1,000 neighbours);
- in between (a day in a year): Chroma walks among the ids the side table gives (11k ids in
  ~200 ms, where its own metadata filter took 400-520);
- when the side table cannot be trusted (a shared server, where it may lag other hosts' writes by
  a sync; tiles, which it does not know): Chroma's filtered walk.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from screenrecall.pipeline.messages import Embedding
from screenrecall.store.chroma import Store, UnknownIdsError
from screenrecall.store.text_index import TextFilters

Ranking = list[tuple[str, float]]  # (record id, score), best first

TILE_FANOUT = 4  # tiles fetched per frame asked for (a 2x2 grid has 4 per frame)
# A filter leaving at most this many records is scored exactly on their embeddings (~0.06 ms each
# to fetch): cheaper than Chroma's filtered HNSW walk, which slows down the more selective it is.
PRE_FILTER_MAX = 4000
EXACT_ANYWAY = 600  # this few are scored exactly even when a post-filtered walk could serve them
# Between that and what a post-filtered walk serves, Chroma walks among at most this many ids.
AMONG_MAX = 50_000
# A filter passing at least this share of the records is applied after an unfiltered walk that
# fetches enough neighbours for `depth` of them to pass (POST_FILTER_SLACK x the expected need),
# as long as that is at most POST_FILTER_MAX_K neighbours (~35 ms for ids alone at 100k).
FIRST_WALK = 12  # x depth: enough for a filter passing 10 % of the records, in one walk (~10 ms)
POST_FILTER_MIN_SHARE = 0.02
POST_FILTER_SLACK = 2.0
POST_FILTER_MAX_K = 3000


def nearest(
    store: Store, embedding: Embedding, depth: int, where: dict[str, Any] | None, filters: TextFilters
) -> Ranking:
    """The depth best record ids for the embedding among those passing the filters, best first;
    with tiles, a frame scores its best of whole frame and tiles."""
    tiled = store.tiles.any()
    if where is not None and store.text_sync is None and not tiled:
        few = store.text_index.candidates(filters, PRE_FILTER_MAX)
        if few is not None and not post_filter_may_serve(store, len(few)):
            return exact(embedding, store.embeddings(few), depth)
        passed = post_filtered(store, embedding, depth, filters)
        if passed is not None:
            return passed
        if few is not None:
            return exact(embedding, store.embeddings(few), depth)
        among = store.text_index.candidates(filters, AMONG_MAX)
        if among is not None:
            try:
                return store.nearest(embedding, depth, among=among)
            except UnknownIdsError:
                pass  # one was deleted from Chroma since the side table listed it: Chroma's own filter
    hits = store.nearest(embedding, depth, where)
    if not tiled:
        return hits
    scores = dict(hits)
    for frame_id, score in store.tiles.query(embedding, depth * TILE_FANOUT, where).items():
        scores[frame_id] = max(scores.get(frame_id, -1.0), score)
    return sorted(scores.items(), key=lambda hit: hit[1], reverse=True)


def post_filter_may_serve(store: Store, passing: int) -> bool:
    """Whether a post-filtered walk is worth trying before exact scoring: for more than a few
    hundred records passing, if they are a share of the store it can serve (a 3,000-record filter
    of 100k: a walk of ~2,700 ids, ~50 ms, where fetching 3,000 embeddings costs ~180)."""
    return passing > EXACT_ANYWAY and passing >= POST_FILTER_MIN_SHARE * store.text_index.count()


def post_filtered(store: Store, embedding: Embedding, depth: int, filters: TextFilters) -> Ranking | None:
    """The depth nearest ids that pass, or None when the filter is too narrow for this.

    A first walk of FIRST_WALK x depth neighbours; when too few of them pass, the share that did
    estimates how deep a second walk must go (no estimate is made beforehand: for the broad filters
    this plan is for, the first walk usually suffices)."""
    k = depth * FIRST_WALK
    for _ in range(2):
        hits = store.nearest(embedding, k)
        passing = store.text_index.passing([record_id for record_id, _ in hits], filters)
        passed = [hit for hit in hits if hit[0] in passing]
        if len(passed) >= depth or len(hits) < k:  # enough, or every record was walked
            return passed[:depth]
        share = max(len(passed), 1) / len(hits)
        deeper = math.ceil(depth / share * POST_FILTER_SLACK)
        if share < POST_FILTER_MIN_SHARE or deeper > POST_FILTER_MAX_K:
            return None
        k = max(deeper, k * 2)
    return None  # still too few: the estimate was off; Chroma's filtered walk is exact


def exact(embedding: Embedding, embeddings: dict[str, Embedding], depth: int) -> Ranking:
    """Cosine similarity of each record to the query (both are unit vectors), best depth first."""
    if not embeddings:
        return []
    ids = list(embeddings)
    scores = np.stack([embeddings[i] for i in ids]) @ np.asarray(embedding, dtype=np.float32)
    order = np.argsort(-scores)[:depth]
    return [(ids[i], float(scores[i])) for i in order]
