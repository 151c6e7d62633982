"""The readable-frame archive: exact round trips, small deltas, private files, forget that leaves nothing."""

from __future__ import annotations

import gc
import stat
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from screenrecall.pipeline.frame_archive import FrameArchive, FullFrameBudget
from screenrecall.pipeline.messages import Pixels

SIZE = (640, 400)


def screen(lines: list[str]) -> Pixels:
    """A light page with dark text lines: screen-like, so lossless WebP keeps it exact."""
    image = Image.new("RGB", SIZE, (250, 250, 245))
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((20, 20 + row * 18), line, fill=(20, 20, 30))
    return np.asarray(image).copy()


def test_frames_come_back_exactly_and_a_small_change_is_stored_as_a_few_tiles(tmp_path: Path) -> None:
    archive = FrameArchive(tmp_path / "frames")
    first = screen(["hello world", "second line"])
    second = screen(["hello world", "second line", "a third line typed"])
    archive.write("aa01", first, (), SIZE, stream="screen:1")
    archive.write("aa02", second, (), SIZE, stream="screen:1")
    assert np.array_equal(archive.read("aa01"), first)
    assert np.array_equal(archive.read("aa02"), second)
    delta = archive.delta("aa02")
    assert delta is not None and delta.key == "aa01" and 0 < len(delta.tiles) <= 4
    assert archive.read("nope") is None


def test_every_file_is_private(tmp_path: Path) -> None:
    archive = FrameArchive(tmp_path / "frames")
    archive.write("bb01", screen(["x"]), (), SIZE, stream="screen:1")
    archive.write("bb02", screen(["y"]), (), SIZE, stream="screen:1")
    for entry in (tmp_path / "frames").rglob("*"):
        mode = stat.S_IMODE(entry.stat().st_mode)
        assert mode == (0o700 if entry.is_dir() else 0o600), entry


def test_forgetting_the_keyframe_record_blanks_what_only_it_showed(tmp_path: Path) -> None:
    archive = FrameArchive(tmp_path / "frames")
    secret = screen(["top secret words here"])
    later = screen(["something else entirely"])
    archive.write("cc01", secret, (), SIZE, stream="screen:1")
    archive.write("cc02", later, (), SIZE, stream="screen:1")
    archive.remove("cc01")
    assert archive.read("cc01") is None
    assert np.array_equal(archive.read("cc02"), later)  # still whole
    key = np.asarray(Image.open(archive.key_path("cc01")).convert("RGB"))
    delta = archive.delta("cc02")
    assert delta is not None
    x0, y0, x1, y1 = delta.tile_box(delta.tiles[0])
    assert not key[y0:y1, x0:x1].any()  # the keyframe's own text under the delta is gone
    archive.remove("cc02")
    assert not archive.key_path("cc01").parent.exists()
    assert [p for p in (tmp_path / "frames").rglob("*") if p.is_file()] == []


def test_a_new_frame_after_the_keyframe_was_forgotten_starts_a_new_group(tmp_path: Path) -> None:
    archive = FrameArchive(tmp_path / "frames")
    archive.write("dd01", screen(["one"]), (), SIZE, stream="screen:1")
    archive.write("dd02", screen(["two"]), (), SIZE, stream="screen:1")
    archive.remove("dd01")
    third = screen(["three"])
    archive.write("dd03", third, (), SIZE, stream="screen:1")
    delta = archive.delta("dd03")
    assert delta is not None and delta.key == "dd03"
    assert np.array_equal(archive.read("dd03"), third)


def test_hiding_masks_the_box_in_the_frame_it_belongs_to(tmp_path: Path) -> None:
    archive = FrameArchive(tmp_path / "frames")
    archive.write("ee01", screen(["plain"]), (), SIZE, stream="screen:1")
    archive.write("ee02", screen(["plain", "card 4111 1111 1111 1111"]), (), SIZE, stream="screen:1")
    box = (20, 38, 200, 52)
    archive.hide("ee02", [box], SIZE)
    shown = archive.read("ee02")
    assert shown is not None
    region = shown[box[1] : box[3], box[0] : box[2]].reshape(-1, 3)
    assert len(np.unique(region, axis=0)) == 1  # one flat colour: nothing to read back


def test_masked_boxes_are_never_written(tmp_path: Path) -> None:
    archive = FrameArchive(tmp_path / "frames")
    pixels = screen(["password hunter2"])
    archive.write("ff01", pixels, [(20, 20, 200, 34)], SIZE, stream="")
    shown = archive.read("ff01")
    assert shown is not None and len(np.unique(shown[20:34, 20:200].reshape(-1, 3), axis=0)) == 1


def test_the_budget_refuses_frames_beyond_its_limit_until_one_is_released() -> None:
    budget = FullFrameBudget(2)
    first, second = np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)
    assert budget.take(first) is not None and budget.take(second) is not None
    assert budget.take(np.zeros((4, 4, 3), np.uint8)) is None and budget.refused == 1
    del first
    gc.collect()
    assert budget.take(np.zeros((4, 4, 3), np.uint8)) is not None
