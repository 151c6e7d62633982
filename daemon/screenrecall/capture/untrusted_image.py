"""Reads untrusted image files into RGB pixels, refusing bad ones with a reason (BadImage)."""

from __future__ import annotations

import io
import logging
import math
import os
import stat
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from screenrecall.pipeline.messages import Pixels

logger = logging.getLogger(__name__)

_WHITE = (255, 255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WIDE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_PREFIX_BYTES = 16  # what Pillow's format sniffers look at
# Files larger than this are refused before Pillow opens them: a 95 MB TIFF declaring a 1x1 image
# took 649 MB while its tags were parsed. A 4K screenshot PNG is ~5-25 MB; a camera JPEG ~10.
MAX_FILE_BYTES = 64 * 2**20
# Pictures are decoded at most this large on their longer side: CLIP reads 224 px and OCR reads
# screen text at screen resolution (4K screens still pass whole).
MAX_SIDE = 4096
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class BadImage(Exception):  # noqa: N818 -- the agreed public name
    """A file that cannot be read as an image; the message says why."""


def pillow_formats(extensions: Sequence[str]) -> tuple[str, ...]:
    """Pillow format names for file extensions ("jpg" -> "JPEG"); ValueError names an unknown one."""
    # registered_extensions() loads Pillow's plugin table on first use (at run time, not import time).
    known = Image.registered_extensions()
    formats: list[str] = []
    for extension in extensions:
        name = known.get("." + extension.lower().lstrip("."))
        if name is None:
            raise ValueError(f"no Pillow image format for extension {extension!r}")
        if name not in formats:
            formats.append(name)
    return tuple(formats)


def load_image(path: Path, *, max_pixels: int, formats: Sequence[str]) -> Pixels:
    """The file's first frame as H x W x 3 RGB uint8, upright; BadImage if it is unusable."""
    with _open_regular(path) as handle:
        image = _identify(handle, path, formats)
        with image:
            _check_size(image, max_pixels)
            return _decode(image)


def decode_image(data: bytes, *, max_pixels: int, formats: Sequence[str]) -> Pixels:
    """The same checks as load_image, for image bytes that did not come from a file (an API upload)."""
    if not data:
        raise BadImage("empty image")
    if len(data) > MAX_FILE_BYTES:
        raise BadImage(f"too large ({len(data)} bytes > {MAX_FILE_BYTES})")
    with io.BytesIO(data) as handle:
        image = _identify(handle, Path("upload"), formats)
        with image:
            _check_size(image, max_pixels)
            return _decode(image)


def _open_regular(path: Path) -> IO[bytes]:
    try:
        # O_NONBLOCK: a FIFO swapped in under an image name must not hang the reader on open().
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except PermissionError:
        raise BadImage("unreadable (permission denied)") from None
    except OSError as exc:
        raise BadImage(f"unreadable ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise BadImage("not a regular file")
    if info.st_size == 0:
        os.close(fd)
        raise BadImage("empty file")
    if info.st_size > MAX_FILE_BYTES:
        os.close(fd)
        raise BadImage(f"too large a file ({info.st_size} bytes > {MAX_FILE_BYTES})")
    return os.fdopen(fd, "rb")


def _identify(handle: IO[bytes], path: Path, formats: Sequence[str]) -> Image.Image:
    """Reads only the header, trying nothing but the accepted formats."""
    try:
        return Image.open(handle, formats=list(formats))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning arrives as an exception when the process filters warnings to errors.
        raise BadImage(f"too large ({exc})") from None
    except UnidentifiedImageError:
        handle.seek(0)
        sniffed = _sniff_format(handle.read(_PREFIX_BYTES))
        if sniffed in formats:
            # Its magic bytes say it is one of ours, yet the plugin could not parse the header.
            raise BadImage(f"truncated or corrupt {sniffed} header") from None
        if sniffed:
            raise BadImage(f"unsupported format ({sniffed})") from None
        raise BadImage("not an image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage(f"{_reason(exc)} header ({exc})") from None


def _sniff_format(prefix: bytes) -> str:
    """The name of the first format whose magic bytes match, or ""."""
    # Only the plugins' magic-byte checks run here, never their parsers.
    Image.init()
    for name in Image.ID:
        accept = Image.OPEN[name][1]
        if accept is None:
            continue
        try:
            if accept(prefix):
                return name
        except (IndexError, TypeError, ValueError, struct.error):
            continue
    return ""


def _reason(exc: BaseException) -> str:
    return "truncated" if "truncated" in str(exc).lower() else "corrupt"


def _check_size(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    pixels = width * height
    # Pillow's own limit is process-global; we never raise it, so the lower of the two applies. Every
    # image Pillow merely warns about is refused here, before a byte of pixel data is decoded.
    limit = max_pixels if Image.MAX_IMAGE_PIXELS is None else min(max_pixels, Image.MAX_IMAGE_PIXELS)
    if pixels > limit:
        raise BadImage(f"too large ({pixels} pixels > limit {limit})")
    if pixels == 0:
        raise BadImage("empty image (0 pixels)")


def _decode(image: Image.Image) -> Pixels:
    try:
        # JPEG decodes straight to a 1/2..1/8 scale when that still covers MAX_SIDE: never the full size.
        longer = max(image.size)
        if longer > MAX_SIDE:
            image.draft("RGB", (image.width * MAX_SIDE // longer, image.height * MAX_SIDE // longer))
        image.load()
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        rgb = _to_rgb(_shrunk(image))
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"too large ({exc})") from None
    except Exception as exc:
        # Pillow's decoders raise a wide, undocumented range of types on hostile input (OSError,
        # SyntaxError, struct.error, IndexError, ...); one bad file must never kill the reader.
        raise BadImage(f"{_reason(exc)} ({type(exc).__name__}: {exc})") from None
    method = _ORIENTATION.get(orientation) if isinstance(orientation, int) else None
    if method is not None:
        rgb = rgb.transpose(method)
    return np.array(rgb, dtype=np.uint8)


def _shrunk(image: Image.Image) -> Image.Image:
    """At most MAX_SIDE on its longer side, made smaller *before* the colour conversion, which is
    where an 81 Mpx palette PNG became 1 GB (P -> RGBA -> composite -> RGB -> array)."""
    factor = math.ceil(max(image.size) / MAX_SIDE)
    if factor <= 1:
        return image
    size = (max(1, image.width // factor), max(1, image.height // factor))
    if image.mode in ("P", "PA", "1"):
        return image.resize(size, Image.Resampling.NEAREST)  # averaging palette indices means nothing
    try:
        return image.reduce(factor)
    except ValueError:  # a mode reduce() does not take (wide grey): nearest is fine for a picture that big
        return image.resize(size, Image.Resampling.NEAREST)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in _WIDE_MODES or image.mode == "F":
        return _wide_grey_to_rgb(image)
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        # Transparent pixels become white, as a viewer on a light background would show them.
        background = Image.new("RGBA", image.size, _WHITE)
        background.alpha_composite(image.convert("RGBA"))
        return background.convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError:
        raise BadImage(f"unsupported colour mode {image.mode}") from None


def _wide_grey_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit (and 32-bit int) grey scaled to 8 bits; Pillow's own convert would clip at 255."""
    values = np.asarray(image)
    if image.mode == "F":
        grey = np.clip(values, 0, 255).astype(np.uint8)
    else:
        grey = (np.clip(values, 0, 65535).astype(np.uint32) // 257).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(np.stack([grey] * 3, axis=-1)))
