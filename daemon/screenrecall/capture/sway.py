"""The focused window on Sway (and i3-IPC compatible wlroots compositors), read over its IPC socket.

Wayland has no protocol for "which window is active"; Sway says it in `get_tree`. This speaks the
i3-ipc wire format directly (a 14-byte header and JSON) on the socket named by $SWAYSOCK, so it
needs no swaymsg process per grab. Titles are private: they are never logged.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from screenrecall.pipeline.messages import Window, geometry_of

logger = logging.getLogger(__name__)

_MAGIC = b"i3-ipc"
_HEADER = struct.Struct("=6sII")
_GET_OUTPUTS = 3
_GET_TREE = 4
_TIMEOUT_S = 1.0
_MAX_REPLY = 64 * 1024 * 1024


def sway_socket(environ: Mapping[str, str]) -> str:
    """The IPC socket of the running Sway, or "" when this is not Sway (or it is not reachable)."""
    path = environ.get("SWAYSOCK", "")
    return path if path and os.path.exists(path) else ""


class Output(NamedTuple):
    name: str  # what grim -o takes ("" = the whole layout)
    geometry: str  # its place in the layout, "WxH+X+Y" in layout pixels ("" = unknown)


class SwayProbe:
    """`current()` is the focused window, Window() when none has focus, None when Sway cannot be asked."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._sock: socket.socket | None = None

    def current(self) -> Window | None:
        try:
            tree = self._ask(_GET_TREE)
        except (OSError, ValueError) as exc:
            logger.debug("Sway's focused window cannot be read: %s", type(exc).__name__)
            self.close()
            return None
        focused = next((node for node in _nodes(tree) if node.get("focused")), None)
        if focused is None or focused.get("type") not in ("con", "floating_con"):
            return Window()  # the focus is on a workspace or output: no window is active
        app = focused.get("app_id") or (focused.get("window_properties") or {}).get("class") or ""
        return Window(title=str(focused.get("name") or ""), app=str(app))

    def outputs(self) -> list[Output] | None:
        """The active outputs, left to right then top to bottom; None when Sway cannot be asked."""
        try:
            listed = self._ask(_GET_OUTPUTS)
        except (OSError, ValueError) as exc:
            logger.debug("Sway's outputs cannot be read: %s", type(exc).__name__)
            self.close()
            return None
        active = [o for o in listed if isinstance(o, dict) and o.get("active")]
        active.sort(key=lambda o: (o.get("rect", {}).get("x", 0), o.get("rect", {}).get("y", 0)))
        return [Output(str(o["name"]), _place(o.get("rect", {}))) for o in active if o.get("name")]

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _ask(self, kind: int) -> Any:
        sock = self._connect()
        sock.sendall(_HEADER.pack(_MAGIC, 0, kind))
        magic, length, reply_kind = _HEADER.unpack(_read(sock, _HEADER.size))
        if magic != _MAGIC or reply_kind != kind or length > _MAX_REPLY:
            raise ValueError("not an i3-ipc reply")
        return json.loads(_read(sock, length))

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(_TIMEOUT_S)
            try:
                sock.connect(self._path)
            except OSError:
                sock.close()
                raise
            self._sock = sock
        return self._sock


def _read(sock: socket.socket, count: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < count:
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            raise ConnectionError("Sway closed the IPC socket")
        chunks += chunk
    return bytes(chunks)


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(node, dict):
        return
    yield node
    for child in [*node.get("nodes", []), *node.get("floating_nodes", [])]:
        yield from _nodes(child)


def _place(rect: Any) -> str:
    try:
        return geometry_of(int(rect["x"]), int(rect["y"]), int(rect["width"]), int(rect["height"]))
    except (KeyError, TypeError, ValueError):
        return ""
