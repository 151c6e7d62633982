"""Five app layouts that fill a 1080p screen with filler text around given lines (terminal, document,
chat, code editor, form); each line may carry a planted string a benchmark looks for."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.screens.canvas import FRAME, Canvas, chat_frame, chat_pitch, chrome, document_frame, terminal_frame
from tests.support.screens.fonts import width_of
from tests.support.screens.vocabulary import FILLER, PEOPLE, filler


@dataclass(frozen=True)
class Plant:
    """A string drawn on one screen that a search must find (or, for a secret, must not)."""

    text: str
    kind: str  # word | phrase | card | token | password | email
    size: int  # font px it was drawn at
    family: str
    layout: str


Host = tuple[str, Plant | None]  # a line of text, and the plant it carries if any
Layout = Callable[[random.Random, list[Host], int, str], Canvas]  # (rng, host lines, font px, family)
LAYOUTS = ("terminal", "document", "chat", "code", "form")
SIZES = {  # body text px; 11-12 px is small UI text
    "terminal": [11, 12, 13, 14, 16, 18],
    "document": [12, 14, 16, 18, 20, 24],
    "chat": [12, 13, 14, 16, 18],
    "code": [11, 12, 13, 14, 16],
    "form": [12, 13, 14, 16, 18],
}
KEYWORDS = ("def", "return", "if", "for", "class", "import", "raise", "else")


def _interleave(rng: random.Random, lines: list[str], hosts: list[Host]) -> list[Host]:
    out: list[Host] = [(line, None) for line in lines]
    for host in hosts:
        out.insert(rng.randrange(1, len(out)), host)
    return out


def log_line(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return f"$ {rng.choice(['make', 'git log', 'kubectl get pods', 'tail -f app.log'])} {filler(rng, 2)}"
    stamp = f"[{rng.randrange(10, 23)}:{rng.randrange(10, 59)}:{rng.randrange(10, 59)}]"
    return f"{stamp} {rng.choice(['INFO', 'WARN', 'DEBUG'])} {filler(rng, rng.randrange(4, 16))}"


def message(rng: random.Random, text: str) -> tuple[str, str, str]:
    return rng.choice(PEOPLE), f"{rng.randrange(9, 12)}:{rng.randrange(10, 59)} AM", text


def terminal_screen(rng: random.Random, hosts: list[Host], size: int, family: str) -> Canvas:
    count = (FRAME[1] - 80) // int(size * 1.45) - len(hosts)
    return terminal_frame([line for line, _ in _interleave(rng, [log_line(rng) for _ in range(count)], hosts)], size)


def document_screen(rng: random.Random, hosts: list[Host], size: int, family: str) -> Canvas:
    ys = [160]
    while ys[-1] + int(size * 2.8) < FRAME[1] - 2 * size:
        ys.append(ys[-1] + int(size * (1.6 if rng.random() < 0.85 else 2.8)))  # paragraph breaks
    body = [filler(rng, rng.randrange(6, 14)).capitalize() for _ in range(len(ys) - len(hosts))]
    lines = _interleave(rng, body, hosts)
    return document_frame(
        filler(rng, 4).title(), [(y, line) for y, (line, _) in zip(ys, lines, strict=True)], family, size
    )


def chat_screen(rng: random.Random, hosts: list[Host], size: int, family: str) -> Canvas:
    count = (FRAME[1] - 120) // chat_pitch(size) - len(hosts)
    lines = _interleave(rng, [filler(rng, rng.randrange(4, 14)) for _ in range(count)], hosts)
    return chat_frame([message(rng, line) for line, _ in lines], size)


def code_screen(rng: random.Random, hosts: list[Host], size: int, family: str) -> Canvas:
    dark = rng.random() < 0.6
    canvas = Canvas((30, 30, 36) if dark else (252, 252, 250))
    chrome(canvas, "billing/service.py - project - Visual Studio Code", dark)
    ink, key, quoted, comment = (
        ((212, 212, 212), (86, 156, 214), (206, 145, 120), (106, 153, 85))
        if dark
        else ((30, 30, 30), (0, 0, 200), (163, 21, 21), (0, 128, 0))
    )
    pitch, space = int(size * 1.5), width_of(" ", "mono", size)
    count = (FRAME[1] - 80) // pitch - len(hosts)
    lines = [f"{rng.choice(KEYWORDS)} {filler(rng, rng.randrange(2, 6)).replace(' ', '_', 1)}" for _ in range(count)]
    for i, (line, plant) in enumerate(_interleave(rng, lines, hosts)):
        y, indent = 68 + i * pitch, 90 + 4 * space * (i % 3)
        canvas.text(16, y, f"{i + 1:>4}", ("mono", size, (110, 110, 120)))
        if plant is not None:
            canvas.text(indent, y, line, ("mono", size, comment if line.startswith("#") else quoted))
        else:
            first, _, rest = line.partition(" ")
            canvas.text(canvas.text(indent, y, first, ("mono", size, key)) + space, y, rest, ("mono", size, ink))
    return canvas


def form_screen(rng: random.Random, hosts: list[Host], size: int, family: str) -> Canvas:
    """Labels above input boxes, two columns: a label and its value are separate lines to OCR."""
    canvas = Canvas((246, 246, 248))
    chrome(canvas, "New supplier invoice - Billing Portal - Firefox", False)
    canvas.text(120, 90, "Supplier invoice", ("bold", 26, (20, 20, 20)))
    fields = [f"{label.title()}: {filler(rng, 2)}" for label in rng.sample(FILLER[20:], 20 - len(hosts))]
    for i, (line, _) in enumerate(_interleave(rng, fields, hosts)):
        label, _, value = line.partition(": ")
        (column, row), top = divmod(i, 10), int(size * 1.6)
        x, y = 120 + column * 860, 160 + row * 88
        canvas.text(x, y, label, (family, size, (70, 70, 70)))
        canvas.box((x, y + top, x + 700, y + top + int(size * 2.2)), (255, 255, 255), (160, 160, 170))
        canvas.text(x + 10, y + top + int(size * 0.55), value, (family, size, (20, 20, 20)))
    return canvas


LAYOUT_FNS: dict[str, Layout] = {
    "terminal": terminal_screen,
    "document": document_screen,
    "chat": chat_screen,
    "code": code_screen,
    "form": form_screen,
}
