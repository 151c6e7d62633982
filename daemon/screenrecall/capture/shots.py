"""One round of per-monitor grabs made into frames, by the same rules on every Wayland backend."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from screenrecall.capture.screen import is_all_black
from screenrecall.pipeline.messages import Frame, Pixels, Window

logger = logging.getLogger(__name__)

# (1-based monitor number, its pixels or None when nothing was delivered yet, its place on the desktop)
Shot = tuple[int, Pixels | None, str]


def grab_round(
    take: Callable[[], list[Shot]],
    window_now: Callable[[], Window | None],
    unknown: Window,
    selected: Sequence[int],
    now_ms: int,
) -> list[Frame]:
    """Reads the focused window on both sides of `take`: a focus change in between means nobody
    knows which window the shots show, so they get `unknown` (privacy then drops or keeps them as
    configured). Unselected, undelivered and all-black monitors give no frame."""
    before = window_now()
    shots = take()
    after = window_now()
    window = before if before is not None and before == after else unknown
    frames = []
    for number, pixels, place in shots:
        if (selected and number not in selected) or pixels is None:
            continue
        if is_all_black(pixels):
            logger.debug("monitor %d is all black; frame skipped", number)
            continue
        frames.append(Frame(pixels, now_ms, "screen", monitor=number, window=window, geometry=place))
    return frames
