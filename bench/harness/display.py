"""A private 1080p Xvfb for the daemon benchmarks, and a painter that changes its whole picture at once."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray
from Xlib import X
from Xlib import display as xdisplay

from tests.support.xvfb import Xvfb

SCREEN = (1920, 1080)


@contextmanager
def screen(width: int = SCREEN[0], height: int = SCREEN[1]) -> Iterator[Xvfb]:
    """A private Xvfb; DISPLAY is set for this process (children get it through private_env)."""
    with Xvfb(width, height) as server:
        previous = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = server.display
        try:
            yield server
        finally:
            if previous is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = previous


class Painter:
    """Shows whole RGB images on an Xvfb: each is uploaded to a pixmap first, then made the root
    window's background in one step, so a capture never sees half a picture."""

    def __init__(self, display: str) -> None:
        self._conn: Any = xdisplay.Display(display)  # python-xlib ships no type hints
        self._root = self._conn.screen().root
        self._depth = self._conn.screen().root_depth
        # Without BIG-REQUESTS one request carries at most max_request_length 4-byte units.
        self._max_bytes = (self._conn.display.info.max_request_length - 64) * 4
        self._shown: Any = None

    def upload(self, pixels: NDArray[np.uint8]) -> Any:
        """A server-side pixmap holding the image (Xvfb's 24-bit visual wants B, G, R, pad bytes)."""
        height, width = pixels.shape[:2]
        pixmap = self._root.create_pixmap(width, height, self._depth)
        gc = pixmap.create_gc()
        bgrx = np.zeros((height, width, 4), dtype=np.uint8)
        bgrx[..., :3] = pixels[..., ::-1]
        rows = max(1, self._max_bytes // (width * 4))
        for top in range(0, height, rows):
            strip = bgrx[top : top + rows]
            pixmap.put_image(gc, 0, top, width, strip.shape[0], X.ZPixmap, self._depth, 0, strip.tobytes())
        gc.free()
        self._conn.sync()
        return pixmap

    def show(self, pixmap: Any) -> float:
        """Makes the pixmap the root's picture; returns time.time() once the server has done it."""
        self._root.change_attributes(background_pixmap=pixmap)
        self._root.clear_area(0, 0, 0, 0)
        self._conn.sync()
        shown_at = time.time()
        if self._shown is not None:
            self._shown.free()  # the server keeps what the root still uses
        self._shown = pixmap
        return shown_at

    def close(self) -> None:
        self._conn.close()
