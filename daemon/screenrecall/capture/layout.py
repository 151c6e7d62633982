"""Which windows are visible where: the X stacking order with each window's place, title and app.

Exclusions act on what a monitor shows, not on which window has the focus: a password manager left
open beside the browser is on screen although the browser is focused. The window manager's EWMH
stacking list (`_NET_CLIENT_LIST_STACKING`) is read when there is one; without a window manager the
X tree itself is the truth (top-level windows sit exactly where they say, in stacking order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from Xlib import X, Xatom
from Xlib import error as xerror

from screenrecall.pipeline.messages import Box, Window

Rect = tuple[int, int, int, int]  # x, y, width, height in root (whole-screen) pixels
AtomOf = Callable[[str], int]
# A window listed a moment ago can be destroyed before we ask about it; any other X error (or a
# lost connection) still fails the whole read, and the caller fails closed.
_GONE = (xerror.BadWindow, xerror.BadDrawable)


@dataclass(frozen=True, slots=True)
class Seen:
    """One viewable top-level window; rect includes the window manager's frame (its title bar)."""

    window: Window
    rect: Rect
    active: bool = False


Layout = tuple[Seen, ...]  # bottom to top


def read_layout(conn: Any, atom: AtomOf, names: dict[int, Window] | None = None) -> Layout:
    """The viewable windows, bottom to top. Raises python-xlib errors; the caller fails closed on them.

    names: titles and apps already read, by window id; reused instead of read again, and filled in.
    """
    root = conn.screen().root
    active = _active_id(root, atom)
    stacking = root.get_full_property(atom("_NET_CLIENT_LIST_STACKING"), Xatom.WINDOW)
    if stacking is not None:
        windows = [conn.create_resource_object("window", int(i)) for i in stacking.value]
    else:
        # No EWMH window manager: the root's children, which query_tree lists bottom to top.
        windows = list(root.query_tree().children)
    seen = []
    for window in windows:
        try:
            found = _seen(window, root=root, atom=atom, ewmh=stacking is not None, names=names, active=active)
        except _GONE:
            continue  # closed since the list was read: not on screen any more
        if found is not None:
            seen.append(found)
    return tuple(seen)


def _seen(
    window: Any, *, root: Any, atom: AtomOf, ewmh: bool, names: dict[int, Window] | None, active: int
) -> Seen | None:
    if window.get_attributes().map_state != X.IsViewable:
        return None  # unmapped, minimised, or on another desktop
    rect = _root_rect(window, root, atom if ewmh else None)
    if rect[2] <= 0 or rect[3] <= 0:
        return None
    client = window if ewmh else _client_of(window)
    known = names.get(int(client.id)) if names is not None else None
    name = known if known is not None else describe(client, atom)
    if names is not None:
        names[int(client.id)] = name
    return Seen(name, rect, active=int(client.id) == active or int(window.id) == active)


def describe(window: Any, atom: AtomOf) -> Window:
    title = _text(window.get_full_text_property(atom("_NET_WM_NAME"), atom("UTF8_STRING")))
    if not title:
        title = _text(window.get_full_text_property(Xatom.WM_NAME, X.AnyPropertyType))
    wm_class = window.get_wm_class()
    return Window(title=title, app=str(wm_class[1]) if wm_class else "")


def _client_of(window: Any) -> Any:
    """The application window inside a top-level one: itself, or (under a window manager without
    EWMH) the child its frame wraps, the first that names its class."""
    if window.get_wm_class() is not None:
        return window
    for child in reversed(window.query_tree().children):
        if child.get_wm_class() is not None:
            return child
    return window


def _active_id(root: Any, atom: AtomOf) -> int:
    prop = root.get_full_property(atom("_NET_ACTIVE_WINDOW"), Xatom.WINDOW)
    return int(prop.value[0]) if prop is not None and len(prop.value) else X.NONE


def _root_rect(window: Any, root: Any, atom: AtomOf | None) -> Rect:
    geometry = window.get_geometry()
    origin = window.translate_coords(root, 0, 0)  # where the window's (0, 0) is on the root
    # translate_coords(src=root) answers the root's position in the window: negate it.
    x, y = -int(origin.x), -int(origin.y)
    width, height = int(geometry.width), int(geometry.height)
    if atom is not None:
        extents = window.get_full_property(atom("_NET_FRAME_EXTENTS"), Xatom.CARDINAL)
        if extents is not None and len(extents.value) == 4:
            left, right, top, bottom = (int(v) for v in extents.value)
            x, y, width, height = x - left, y - top, width + left + right, height + top + bottom
    return x, y, width, height


def _text(value: object) -> str:
    """python-xlib decodes STRING and UTF8_STRING; anything else (COMPOUND_TEXT) arrives as bytes."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def label_for(layout: Layout, monitor: Rect) -> Window:
    """The window a monitor shows: the active window when its centre is on the monitor, else the
    topmost window whose centre is; Window() (known: the bare desktop) when none is."""
    on_monitor = [seen for seen in layout if _contains(monitor, _centre(seen.rect))]
    for seen in on_monitor:
        if seen.active:
            return seen.window
    return on_monitor[-1].window if on_monitor else Window()


def visible_parts(layout: Layout, excluded: Callable[[Window], bool]) -> list[Rect]:
    """The parts of excluded windows not covered by a window above them (a password manager behind
    a maximised browser hides nothing of the browser)."""
    parts: list[Rect] = []
    for index, seen in enumerate(layout):
        if not excluded(seen.window):
            continue
        pieces = [seen.rect]
        for above in layout[index + 1 :]:
            pieces = [piece for rect in pieces for piece in _minus(rect, above.rect)]
        parts.extend(pieces)
    return parts


def _minus(rect: Rect, cut: Rect) -> list[Rect]:
    """rect without cut, as up to four rectangles (above, below, left, right of the overlap)."""
    x, y, w, h = rect
    cx0, cy0 = max(x, cut[0]), max(y, cut[1])
    cx1, cy1 = min(x + w, cut[0] + cut[2]), min(y + h, cut[1] + cut[3])
    if cx0 >= cx1 or cy0 >= cy1:
        return [rect]
    pieces = [
        (x, y, w, cy0 - y),
        (x, cy1, w, y + h - cy1),
        (x, cy0, cx0 - x, cy1 - cy0),
        (cx1, cy0, x + w - cx1, cy1 - cy0),
    ]
    return [piece for piece in pieces if piece[2] > 0 and piece[3] > 0]


def boxes_on(monitor: Rect, rects: Sequence[Rect]) -> list[Box]:
    """The parts of rects on this monitor, as boxes in the monitor's own pixels."""
    mx, my, mw, mh = monitor
    boxes = []
    for x, y, w, h in rects:
        x0, y0 = max(x, mx) - mx, max(y, my) - my
        x1, y1 = min(x + w, mx + mw) - mx, min(y + h, my + mh) - my
        if x0 < x1 and y0 < y1:
            boxes.append((x0, y0, x1, y1))
    return boxes


def _centre(rect: Rect) -> tuple[int, int]:
    x, y, w, h = rect
    return x + w // 2, y + h // 2


def _contains(rect: Rect, point: tuple[int, int]) -> bool:
    x, y, w, h = rect
    return x <= point[0] < x + w and y <= point[1] < y + h
