"""A search request (the API's JSON body, or the CLI's arguments made into one) checked and parsed into a Query."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from screenrecall.capture.untrusted_image import BadImage, decode_image, pillow_formats
from screenrecall.recall.search import MODES, Filters, Query, QueryError

__all__ = ["QueryError", "query_from_body"]

QUERY_IMAGE_TYPES = ("png", "jpg", "webp", "bmp", "gif", "tiff")

FILTER_TYPES: dict[str, type | tuple[type, ...]] = {
    "since_ms": int,
    "until_ms": int,
    "app": str,
    "monitor": int,
    "source": str,
    "host": str,
}


def query_from_body(body: dict[str, Any], max_pixels: int) -> Query:
    """A search request body (see openapi.json) as a Query; QueryError says what is wrong."""
    unknown = set(body) - {"text", "image_b64", "limit", "mode", *FILTER_TYPES}
    if unknown:
        raise QueryError(f"unknown field(s): {', '.join(sorted(unknown))}")
    for key, kind in FILTER_TYPES.items():
        if body.get(key) is not None and (not isinstance(body[key], kind) or isinstance(body[key], bool)):
            raise QueryError(f"{key} has the wrong type")
    if body.get("source") not in (None, "screen", "folder"):
        raise QueryError("source must be 'screen' or 'folder'")
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise QueryError("limit must be an integer")
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise QueryError("text must be a string")
    image = _decode_image(body["image_b64"], max_pixels) if body.get("image_b64") is not None else None
    mode = body.get("mode", "hybrid")
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}")
    filters = Filters(**{key: body.get(key) for key in FILTER_TYPES})
    return Query(text=text, image=image, filters=filters, limit=limit, mode=mode)


def _decode_image(encoded: Any, max_pixels: int) -> np.typing.NDArray[np.uint8]:
    if not isinstance(encoded, str):
        raise QueryError("image_b64 must be a base64 string")
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise QueryError(f"image_b64 is not base64: {exc}") from None
    # The same hardened loader as watched files: accepted formats only, size checked before decoding.
    try:
        return decode_image(data, max_pixels=max_pixels, formats=pillow_formats(QUERY_IMAGE_TYPES))
    except BadImage as exc:
        raise QueryError(f"image_b64 is not a usable image: {exc}") from None
