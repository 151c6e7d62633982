"""Reading image files: good ones become upright RGB, every kind of bad one is refused with a reason."""

from __future__ import annotations

import io
import os
import shutil
import struct
import tempfile
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFile

from screenrecall.capture.untrusted_image import BadImage, load_image, pillow_formats
from tests.support.as_nobody import as_nobody

ALL = pillow_formats(["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"])
LIMIT = 89_478_485


def _load(path: Path, max_pixels: int = LIMIT) -> np.ndarray:
    return load_image(path, max_pixels=max_pixels, formats=ALL)


def _gradient(width: int = 64, height: int = 48) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], axis=-1))


def _save(image: Image.Image, path: Path, **params: Any) -> Path:
    image.save(path, **params)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_declaring(width: int, height: int) -> bytes:
    """A few dozen bytes that claim to be a width x height RGB PNG: a decompression bomb's header."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


# --- good files ---


@pytest.mark.parametrize(
    ("suffix", "params", "tolerance"),
    [("png", {}, 0), ("jpg", {"quality": 95}, 12), ("webp", {"lossless": True}, 0)],
)
def test_reads_good_files_as_rgb(tmp_path: Path, suffix: str, params: dict[str, Any], tolerance: int) -> None:
    original = _gradient()
    pixels = _load(_save(original, tmp_path / f"a.{suffix}", **params))
    assert pixels.shape == (48, 64, 3)
    assert pixels.dtype == np.uint8
    diff = np.abs(pixels.astype(int) - np.asarray(original).astype(int))
    assert diff.mean() <= tolerance


def test_composites_alpha_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 0)  # fully transparent red
    rgba[0, 1] = (0, 0, 0, 255)  # opaque black
    rgba[0, 2] = (0, 0, 255, 128)  # half-transparent blue
    pixels = _load(_save(Image.fromarray(rgba), tmp_path / "a.png"))
    assert tuple(pixels[0, 0]) == (255, 255, 255)
    assert tuple(pixels[0, 1]) == (0, 0, 0)
    assert np.allclose(pixels[0, 2], (127, 127, 255), atol=2)


def test_reads_palette_images_with_a_transparent_index(tmp_path: Path) -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.putpixel((1, 0), 1)
    plain = _load(_save(image, tmp_path / "plain.png"))
    assert [tuple(p) for p in plain[0]] == [(10, 20, 30), (200, 100, 50)]
    transparent = _load(_save(image, tmp_path / "transparent.png", transparency=0))
    assert [tuple(p) for p in transparent[0]] == [(255, 255, 255), (200, 100, 50)]


def test_reads_greyscale_as_equal_channels(tmp_path: Path) -> None:
    grey = Image.fromarray(np.array([[0, 100, 255]], dtype=np.uint8))
    pixels = _load(_save(grey, tmp_path / "a.png"))
    assert pixels.tolist() == [[[0, 0, 0], [100, 100, 100], [255, 255, 255]]]


def test_scales_16_bit_greyscale_instead_of_clipping(tmp_path: Path) -> None:
    wide = Image.fromarray(np.array([[0, 32896, 65535]], dtype=np.uint16))
    assert wide.mode == "I;16"
    for suffix in ("png", "tif"):
        pixels = _load(_save(wide, tmp_path / f"a.{suffix}"))
        assert pixels[0, :, 0].tolist() == [0, 128, 255]


def test_applies_exif_orientation(tmp_path: Path) -> None:
    # Stored 40 wide x 20 tall, left half red; orientation 6 = "rotate 90 degrees clockwise to view".
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:, :20] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    pixels = _load(_save(Image.fromarray(stored), tmp_path / "a.jpg", exif=exif, quality=95))
    assert pixels.shape == (40, 20, 3)  # upright: 20 wide, 40 tall
    assert pixels[5, 10, 0] > 200 and pixels[5, 10, 1] < 60  # the red half is now on top
    assert pixels[35, 10].max() < 60


def test_reads_the_first_frame_of_an_animation(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "a.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as written:
        assert getattr(written, "n_frames", 1) == 2
    assert tuple(_load(path)[4, 4]) == (255, 0, 0)


# --- bad files ---


def _refusal(path: Path, max_pixels: int = LIMIT, formats: tuple[str, ...] = ALL) -> str:
    with pytest.raises(BadImage) as caught:
        load_image(path, max_pixels=max_pixels, formats=formats)
    return str(caught.value)


def test_refuses_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "a.png").touch()
    assert _refusal(tmp_path / "a.png") == "empty file"


@pytest.mark.parametrize("keep", [0.5, 40 / 6300], ids=["in-pixel-data", "in-header"])
def test_refuses_a_truncated_png(tmp_path: Path, keep: float) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG")
    data = buffer.getvalue()
    (tmp_path / "a.png").write_bytes(data[: int(len(data) * keep)])
    assert _refusal(tmp_path / "a.png").startswith("truncated")


def test_refuses_random_bytes_and_text(tmp_path: Path) -> None:
    (tmp_path / "random.png").write_bytes(np.random.default_rng(1).bytes(4096))
    (tmp_path / "notes.png").write_text("hello, this is not an image\n" * 20)
    assert _refusal(tmp_path / "random.png") == "not an image"
    assert _refusal(tmp_path / "notes.png") == "not an image"


def test_refuses_a_format_that_is_not_accepted(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    _gradient().save(buffer, "PPM")
    (tmp_path / "a.png").write_bytes(buffer.getvalue())
    assert _refusal(tmp_path / "a.png") == "unsupported format (PPM)"
    # The same bytes are a fine image when PPM is accepted: the refusal is the format list's doing.
    assert load_image(tmp_path / "a.png", max_pixels=LIMIT, formats=("PPM",)).shape == (48, 64, 3)


def test_refuses_a_decompression_bomb_before_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_declaring(100_000, 100_000))
    assert bomb.stat().st_size < 200
    assert _refusal(bomb).startswith("too large")


def test_refuses_what_pillow_only_warns_about_even_when_warnings_are_ignored(tmp_path: Path) -> None:
    # Between Pillow's limit and twice it, Pillow merely warns; the loader must refuse regardless.
    path = tmp_path / "big.png"
    path.write_bytes(_png_declaring(10_000, 10_000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        message = _refusal(path, max_pixels=200_000_000)
    assert message == f"too large (100000000 pixels > limit {Image.MAX_IMAGE_PIXELS})"
    assert _refusal(path, max_pixels=200_000_000).startswith("too large")  # warnings as errors


def test_refuses_images_over_the_configured_limit(tmp_path: Path) -> None:
    path = _save(_gradient(), tmp_path / "a.png")
    assert _refusal(path, max_pixels=1000) == "too large (3072 pixels > limit 1000)"
    assert _load(path, max_pixels=3072).shape == (48, 64, 3)


def test_refuses_non_regular_files_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "dir.png").mkdir()
    assert _refusal(tmp_path / "pipe.png") == "not a regular file"
    assert _refusal(tmp_path / "dir.png") == "not a regular file"
    assert _refusal(tmp_path / "missing.png") == "unreadable (No such file or directory)"


def test_leaves_pillow_global_settings_alone(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(_png_declaring(100_000, 100_000))
    _refusal(tmp_path / "bomb.png", max_pixels=10)
    _load(_save(_gradient(), tmp_path / "a.png"))
    assert Image.MAX_IMAGE_PIXELS == LIMIT
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory an unprivileged user may enter (pytest's tmp dirs are 0700 root)."""
    path = Path(tempfile.mkdtemp(prefix="screenrecall-perm-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path)


def _load_as_unprivileged(path: Path) -> str:
    """Loads path as a user without root's permission bypass: 'ok' or the BadImage message."""
    if os.geteuid() != 0:
        try:
            _load(path)
        except BadImage as exc:
            return str(exc)
        return "ok"
    # Root ignores mode bits, so drop to nobody in a forked child (no re-exec: the module is loaded).
    return as_nobody(lambda: _load_as_unprivileged(path))


def test_refuses_a_file_it_may_not_read(shared_dir: Path) -> None:
    path = _save(_gradient(), shared_dir / "a.png")
    path.chmod(0o644)
    assert _load_as_unprivileged(path) == "ok"  # the same user can read it when the mode allows
    path.chmod(0o000)
    assert _load_as_unprivileged(path) == "unreadable (permission denied)"


def test_maps_extensions_to_pillow_formats() -> None:
    assert ALL == ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
    assert pillow_formats([".JPG"]) == ("JPEG",)
    with pytest.raises(ValueError, match="'xyz'"):
        pillow_formats(["png", "xyz"])
