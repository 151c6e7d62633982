"""Web UI test helpers: a running App seeded with readable text screens, and a logged-in HTTP session."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from screenrecall.api.client import ApiClient
from screenrecall.app import App
from screenrecall.pipeline.messages import Frame, Pixels, Window
from tests.support.recall import Reply, http_tcp, private_xdg, recall_config, running_app, show_frames

MINUTE_MS = 60_000
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SIZE = (1280, 720)


def text_screen(title: str, lines: list[str], background: tuple[int, int, int]) -> Pixels:
    """A window-like screen: a coloured title bar and dark text on a light page."""
    image = Image.new("RGB", SIZE, (248, 248, 244))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, SIZE[0], 60), fill=background)
    big, body = ImageFont.truetype(FONT, 30), ImageFont.truetype(FONT, 24)
    draw.text((24, 14), title, font=big, fill=(255, 255, 255))
    for row, line in enumerate(lines):
        draw.text((40, 100 + row * 40), line, font=body, fill=(25, 25, 35))
    return np.asarray(image).copy()


# (minutes before now, monitor, app, title, lines, title-bar colour): two monitors, with a gap
# of 40 minutes on monitor 1 between the second and third screens.
INVOICE = ["Invoice 4471 from Acme Lantern Co", "Total due: 1,250 EUR"]
TESTS = ["$ make test", "147 passed, 2 failed", "FAILED test_harbor_ferry"]
RED, DARK, BLUE = (200, 40, 40), (30, 30, 30), (40, 90, 200)
SCREENS = [
    (70, 1, "Firefox", "Invoice 4471 - Mozilla Firefox", INVOICE, RED),
    (68, 1, "Firefox", "Invoice 4471 - Mozilla Firefox", [*INVOICE, "Paid on Monday"], RED),
    (28, 1, "XTerm", "make test", TESTS, DARK),
    (27, 1, "XTerm", "make test", [*TESTS, "$ git status"], DARK),
    (60, 2, "Thunderbird", "Quarterly budget review", ["Budget review meeting", "Agenda: copper falcon"], BLUE),
]


@dataclass
class Seeded:
    app: App
    socket: Path
    now_ms: int
    ids: dict[tuple[int, int], str] = field(default_factory=dict)  # (monitor, minutes ago) -> record id

    @property
    def client(self) -> ApiClient:
        return ApiClient(self.socket, timeout=30)


@contextlib.contextmanager
def seeded_app(bundle: Path, root: Path, ocr: bool = False) -> Iterator[Seeded]:
    """A running App (Unix socket API, TCP off until a login link asks for it) holding SCREENS."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(private_xdg(root / "home"))
        socket = root / "api" / "api.sock"
        layers: dict[str, dict[str, Any]] = {"api": {"socket": str(socket)}}
        if ocr:
            layers["ocr"] = {"enabled": True, "max_waiting_frames": 16}  # none skipped
        app = stack.enter_context(running_app(recall_config(bundle, layers)))
        now_ms = int(time.time() * 1000)
        frames = [
            Frame(
                text_screen(title, lines, colour),
                now_ms - ago * MINUTE_MS,
                "screen",
                monitor=monitor,
                window=Window(title=title, app=name),
            )
            for ago, monitor, name, title, lines, colour in SCREENS
        ]
        show_frames(app, frames)
        seeded = Seeded(app, socket, now_ms)
        assert app.pipeline is not None
        for record in app.pipeline.store.records():
            ago = round((now_ms - record.captured_at_ms) / MINUTE_MS)
            seeded.ids[(record.monitor, ago)] = record.id
        yield seeded


def login_link(seeded: Seeded) -> str:
    url: str = seeded.client.request("POST", "/v1/ui/login-link")["url"]
    return url


@dataclass
class Browserless:
    """A logged-in HTTP session the way a browser holds one: the cookie, and the page's CSRF token."""

    port: int
    cookie: str
    csrf: str

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return http_tcp(self.port, "GET", path, headers={"Cookie": self.cookie, **(headers or {})})

    def post(self, path: str, body: object, csrf: bool = True, headers: dict[str, str] | None = None) -> Reply:
        sent = {"Cookie": self.cookie, "Content-Type": "application/json", **(headers or {})}
        if csrf:
            sent["X-CSRF-Token"] = self.csrf
        return http_tcp(self.port, "POST", path, json.dumps(body).encode(), sent)


def log_in(seeded: Seeded) -> Browserless:
    url = urlsplit(login_link(seeded))
    assert url.port is not None
    code = parse_qs(url.query)["code"][0]
    reply = spend(url.port, code)
    assert reply.status == 303, reply.text
    cookie = reply.headers["Set-Cookie"].split(";")[0]
    page = http_tcp(url.port, "GET", "/ui/search", headers={"Cookie": cookie})
    assert page.status == 200, page.text
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    return Browserless(url.port, cookie, csrf)


def spend(port: int, code: str) -> Reply:
    return http_tcp(
        port, "POST", "/ui/login", f"code={code}".encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    )
