"""Thumbnails on real disk: private modes, WebP, bounded size, and deletes confined to their root."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from screenrecall.pipeline.messages import Pixels
from screenrecall.pipeline.thumbnails import ThumbnailStore, shrink

RECORD_ID = "ab12cd34ef56ab12cd34ef56"


def picture(width: int, height: int, seed: int = 0) -> Pixels:
    """A screen-like picture: smooth gradients with some detail on top."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    base = (x * [1.0, 0.3, 0.6] + y * [0.0, 0.7, 0.4]) / 1.5
    detail = rng.integers(0, 40, (height, width, 3))
    return np.clip(base + detail, 0, 255).astype(np.uint8)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would leave everything world-readable: the modes must not depend on it."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def thumbnails(tmp_path: Path) -> ThumbnailStore:
    return ThumbnailStore(tmp_path / "data" / "thumbnails", quality=70)


@pytest.mark.usefixtures("open_umask")
def test_writes_webp_files_0600_in_0700_dirs(thumbnails: ThumbnailStore) -> None:
    written = Path(thumbnails.write(RECORD_ID, picture(320, 180)))

    assert written == thumbnails.root / "ab" / f"{RECORD_ID}.webp"
    assert mode(written) == 0o600
    assert mode(written.parent) == 0o700 and mode(thumbnails.root) == 0o700
    with Image.open(written) as image:
        assert image.format == "WEBP" and image.size == (320, 180)


def test_leaves_no_partial_files(thumbnails: ThumbnailStore) -> None:
    for index in range(3):
        thumbnails.write(f"ab{index:022d}", picture(64, 36, seed=index))
    names = sorted(p.name for p in (thumbnails.root / "ab").iterdir())
    assert names == [f"ab{index:022d}.webp" for index in range(3)]


def test_rewriting_a_record_replaces_its_thumbnail(thumbnails: ThumbnailStore) -> None:
    first = thumbnails.write(RECORD_ID, picture(64, 36))
    second = thumbnails.write(RECORD_ID, picture(32, 18))
    assert first == second
    with Image.open(second) as image:
        assert image.size == (32, 18)


def test_a_full_screen_frame_becomes_a_small_thumbnail(thumbnails: ThumbnailStore) -> None:
    small = shrink(picture(1920, 1080), 320)
    written = Path(thumbnails.write(RECORD_ID, small))

    assert small.shape == (180, 320, 3)
    with Image.open(written) as image:
        assert max(image.size) <= 320
    assert written.stat().st_size < 64 * 1024


@pytest.mark.parametrize(
    ("size", "max_px", "expected"), [((1920, 1080), 320, (320, 180)), ((1080, 1920), 256, (144, 256))]
)
def test_shrink_bounds_the_longest_side_and_keeps_the_aspect(
    size: tuple[int, int], max_px: int, expected: tuple[int, int]
) -> None:
    width, height = size
    shrunk = shrink(picture(width, height), max_px)
    assert (shrunk.shape[1], shrunk.shape[0]) == expected


def test_shrink_copies_a_picture_that_is_already_small() -> None:
    original = picture(100, 60)
    shrunk = shrink(original, 320)
    assert shrunk.shape == original.shape and np.array_equal(shrunk, original)
    assert not np.shares_memory(shrunk, original)  # the frame's full pixels can be released


def test_remove_deletes_its_own_thumbnail(thumbnails: ThumbnailStore) -> None:
    written = thumbnails.write(RECORD_ID, picture(64, 36))
    thumbnails.remove(written)
    assert not Path(written).exists()
    thumbnails.remove(written)  # already gone: nothing to do, no error
    thumbnails.remove("")  # records without a thumbnail


def test_remove_refuses_paths_outside_its_root(thumbnails: ThumbnailStore, tmp_path: Path) -> None:
    thumbnails.write(RECORD_ID, picture(64, 36))
    victims = []
    for relative in ("elsewhere/ab/victim.webp", "data/victim.webp", "data/thumbnails/victim.webp"):
        victim = tmp_path / relative
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_bytes(b"precious")
        victims.append(victim)
    traversal = thumbnails.root / "ab" / ".." / ".." / ".." / "elsewhere" / "ab" / "victim.webp"
    link = thumbnails.root / "ab" / "link.webp"
    link.symlink_to(victims[0])

    for path in (*victims, traversal, link):
        thumbnails.remove(str(path))

    assert all(victim.read_bytes() == b"precious" for victim in victims)


def test_write_failure_returns_an_empty_path(thumbnails: ThumbnailStore) -> None:
    thumbnails.root.parent.mkdir(parents=True)
    thumbnails.root.write_bytes(b"a file where the thumbnail dir should be")

    assert thumbnails.write(RECORD_ID, picture(64, 36)) == ""


def test_write_failure_in_an_existing_dir_returns_an_empty_path_and_no_partial_file(
    thumbnails: ThumbnailStore,
) -> None:
    folder = thumbnails.root / RECORD_ID[:2]
    folder.mkdir(parents=True)
    (folder / f"{RECORD_ID}.webp").mkdir()  # the target name is taken by a directory

    assert thumbnails.write(RECORD_ID, picture(64, 36)) == ""
    assert [p.name for p in folder.iterdir()] == [f"{RECORD_ID}.webp"]


def test_disk_bytes_counts_the_thumbnails(thumbnails: ThumbnailStore) -> None:
    assert thumbnails.disk_bytes() == 0  # no root yet
    written = Path(thumbnails.write(RECORD_ID, picture(320, 180)))
    assert thumbnails.disk_bytes() >= written.stat().st_size > 0


def test_the_start_up_sweep_removes_part_files_and_orphans_and_keeps_stored_ones(tmp_path: Path) -> None:
    from screenrecall.pipeline.messages import Record, Window
    from screenrecall.store.chroma import Store
    from screenrecall.store.layout import record_id_for_screen

    thumbnails = ThumbnailStore(tmp_path / "thumbnails", quality=70)
    kept_id, orphan_id = record_id_for_screen(1, 1_000), record_id_for_screen(1, 2_000)
    kept = Path(thumbnails.write(kept_id, picture(64, 48)))
    orphan = Path(thumbnails.write(orphan_id, picture(64, 48, seed=1)))  # its record never got stored
    half = kept.with_name(f".{orphan_id}.webp.part")  # a write cut short by SIGKILL
    half.write_bytes(b"RIFF")
    embedding = np.eye(16, dtype=np.float32)[0]
    record = Record(kept_id, embedding, 1_000, 1_000, "screen", 1, "", Window(), 64, 48, thumbnail=str(kept))
    with Store.open(tmp_path / "store") as store:
        store.add([record])
        assert thumbnails.sweep(store.ids()) == 2
    assert kept.is_file() and not orphan.exists() and not half.exists()
