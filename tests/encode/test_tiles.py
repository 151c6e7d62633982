"""Tiles: a frame is also embedded as a grid of tiles, so a query matching one region finds it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from screenrecall.config import validate
from screenrecall.encode.runtime import ModelRuntime, load_runtime
from screenrecall.encode.tiles import Gathering, tile_views
from screenrecall.pipeline.ingest import ingest
from screenrecall.pipeline.messages import FileJob
from screenrecall.recall.search import Query, Searcher
from screenrecall.store.chroma import Store


def test_tiles_cover_the_frame_exactly_row_by_row() -> None:
    pixels = np.arange(7 * 9 * 3, dtype=np.uint8).reshape(7, 9, 3)
    tiles = tile_views(pixels, 2)
    assert [t.shape[:2] for t in tiles] == [(4, 4), (4, 5), (3, 4), (3, 5)]
    top = np.concatenate([tiles[0], tiles[1]], axis=1)
    bottom = np.concatenate([tiles[2], tiles[3]], axis=1)
    assert np.array_equal(np.concatenate([top, bottom], axis=0), pixels)


def test_a_gathering_completes_on_its_last_part_in_any_order() -> None:
    gathering = Gathering(3)
    vectors = [np.full(2, i, dtype=np.float32) for i in range(3)]
    assert not gathering.add(2, vectors[2])
    assert not gathering.add(0, vectors[0])
    assert gathering.add(1, vectors[1])
    assert gathering.whole is vectors[0]
    assert gathering.tiles == (vectors[1], vectors[2])


def test_a_failed_tile_drops_the_grid_and_a_failed_whole_frame_is_reported() -> None:
    partial = Gathering(3)
    partial.add(0, np.ones(2, dtype=np.float32))
    partial.add(1, None)
    assert partial.add(2, np.ones(2, dtype=np.float32))
    assert partial.whole is not None and partial.tiles == ()
    headless = Gathering(2)
    headless.add(0, None)
    headless.add(1, np.ones(2, dtype=np.float32))
    assert headless.whole is None


def _quadrants(seed: int) -> np.ndarray:
    """A 1080p image whose four quadrants are unrelated random pictures."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)


@pytest.mark.slow
def test_a_query_matching_one_tile_finds_its_frame_and_forgetting_drops_its_tiles(
    tiny_bundle: Path, tmp_path: Path
) -> None:
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    frames = {}
    for seed in range(6):
        frames[seed] = _quadrants(seed)
        Image.fromarray(frames[seed]).save(folder / f"f{seed}.png")
    config = validate(
        {
            "model": {"path": str(tiny_bundle), "cache": False},
            "tiles": {"grid": 2},
            "ocr": {"enabled": False},
            "thumbnails": {"enabled": False},
        }
    )
    jobs = [FileJob(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())]
    result = ingest(config, jobs, progress=lambda _n: None)
    assert result.stored == 6

    runtime: ModelRuntime = load_runtime(config.model, tiny_bundle)
    corner = np.ascontiguousarray(frames[3][540:, 960:])  # the bottom-right tile of frame 3
    with Store.open(config.store_dir()) as store:
        assert store.tiles.count() == 6 * 4
        top = Searcher(store, runtime).search(Query(image=corner, limit=3))
        assert Path(top[0].record.path).name == "f3.png"
        # The tile match is exact; the whole frame alone would score lower.
        assert top[0].score > 0.999
        target = top[0].record
        store.delete([target.id])
        assert store.tiles.count() == 5 * 4
