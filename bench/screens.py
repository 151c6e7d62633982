"""Renders deterministic 1080p text-heavy screens (terminal, document, chat, code, form) with planted phrases."""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

FRAME = (1920, 1080)
FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
FAMILIES = {
    "sans": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "mono": "DejaVuSansMono.ttf",
}
Colour = tuple[int, int, int]
Style = tuple[str, int, Colour]  # font family, size in px, colour
Pixels = NDArray[np.uint8]
LAYOUTS = ("terminal", "document", "chat", "code", "form")
_FILLER_TEXT = (
    "the of and to in is for on with as by at from this that be are was it or an not have can will "
    "report meeting notes build release deploy server client request response timeout config value "
    "table index user account session update version module function method class return total amount "
    "order customer project issue review merge branch commit test passed failed warning info debug "
    "queue worker thread memory disk network cache latency retry backup schedule monday friday "
    "week month quarter budget plan draft final summary agenda minutes action item owner status open "
    "closed pending approved rejected shipped invoice payment contract team design product market sales "
    "office remote travel lunch coffee call video share screen link file folder image document page"
)
FILLER = _FILLER_TEXT.split()
_ADJECTIVES_TEXT = (
    "amber silver copper velvet hollow frozen scarlet quiet rapid golden crimson marble misty northern "
    "bitter gentle hidden lunar wooden distant brittle cobalt dusty emerald"
)
ADJECTIVES = _ADJECTIVES_TEXT.split()
_NOUNS_TEXT = (
    "lantern harbor falcon orchard glacier compass meadow beacon canyon quarry tundra lagoon ferry "
    "citadel pylon grotto sparrow walrus otter bramble thistle cinder"
)
NOUNS = _NOUNS_TEXT.split()
_VERBS_TEXT = "delayed stalled approved rerouted cancelled flagged archived escalated rebooted migrated"
VERBS = _VERBS_TEXT.split()
_SYLLABLES_TEXT = "ka lo ven dri mar tus bel quo zan fir gol nex pra sto wil yar cor dun"
SYLLABLES = _SYLLABLES_TEXT.split()
PEOPLE = ["Maria Lopez", "Tom Becker", "Aiko Tanaka", "Sam Okafor", "Priya Nair"]


@dataclass(frozen=True)
class Plant:
    text: str
    kind: str  # word | phrase | card | token | password | email
    size: int  # font px it was drawn at
    family: str
    layout: str


@dataclass
class Screen:
    name: str
    layout: str
    pixels: Pixels
    plants: list[Plant]
    texts: list[str]  # every string drawn: the ground truth


@cache
def face(family: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_DIR + FAMILIES[family], size)


def width_of(text: str, family: str, size: int) -> int:
    return int(face(family, size).getlength(text))


@dataclass
class Canvas:
    """A frame being drawn, remembering every string drawn on it."""

    background: Colour
    image: Image.Image = field(init=False)
    draw: ImageDraw.ImageDraw = field(init=False)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.image = Image.new("RGB", FRAME, self.background)
        self.draw = ImageDraw.Draw(self.image)

    def text(self, x: int, y: int, s: str, style: Style) -> int:
        """Draws s at (x, y) in style (family, px, colour); returns the x just after it."""
        family, size, fill = style
        self.draw.text((x, y), s, font=face(family, size), fill=fill)
        self.texts.append(s)
        return x + width_of(s, family, size)

    def box(self, xy: tuple[int, int, int, int], fill: Colour | None, outline: Colour | None = None) -> None:
        self.draw.rectangle(xy, fill=fill, outline=outline)

    def pixels(self) -> Pixels:
        return np.asarray(self.image).copy()


def chrome(canvas: Canvas, title: str, dark: bool) -> None:
    """A top panel with a clock, and the window's title bar (y 28..60)."""
    canvas.box((0, 0, FRAME[0], 28), (36, 36, 40))
    canvas.text(8, 6, "Activities", ("sans", 13, (230, 230, 230)))
    canvas.text(900, 6, "Tue 14:32", ("bold", 13, (230, 230, 230)))
    canvas.box((0, 28, FRAME[0], 60), (60, 60, 64) if dark else (222, 222, 226))
    canvas.text(16, 36, title, ("sans", 14, (220, 220, 220) if dark else (40, 40, 40)))


# --- frame renderers: content in, pixels out (shared by the corpus and the scripted sequences) ----------


def terminal_frame(lines: Sequence[str], size: int) -> Canvas:
    canvas = Canvas((20, 22, 26))
    chrome(canvas, "user@workstation: ~/projects/billing", True)
    for i, line in enumerate(lines):
        ink = (120, 220, 120) if line.startswith("$") else (210, 215, 210)
        canvas.text(12, 68 + i * int(size * 1.45), line, ("mono", size, ink))
    return canvas


def document_frame(title: str, lines: Sequence[tuple[int, str]], family: str, size: int) -> Canvas:
    """lines: (y, text) on a white page."""
    canvas = Canvas((238, 238, 240))
    chrome(canvas, f"{title}.odt - LibreOffice Writer", False)
    canvas.box((380, 70, 1540, FRAME[1]), (255, 255, 255), (200, 200, 200))
    canvas.text(440, 100, title, ("bold", 26, (20, 20, 20)))
    for y, line in lines:
        canvas.text(440, y, line, (family, size, (30, 30, 30)))
    return canvas


def chat_frame(messages: Sequence[tuple[str, str, str]], size: int) -> Canvas:
    """messages: (name, time, text), oldest first, in bubbles under a channel list."""
    canvas = Canvas((250, 250, 252))
    chrome(canvas, "#billing-ops | Team Chat", False)
    canvas.box((0, 60, 300, FRAME[1]), (63, 14, 64))
    for i, channel in enumerate(["# general", "# billing-ops", "# random", "# deploys", "# design"]):
        canvas.text(24, 90 + 34 * i, channel, ("sans", 15, (225, 210, 225)))
    for i, (name, time, text) in enumerate(messages):
        y = 80 + i * chat_pitch(size)
        x = canvas.text(340, y, name, ("bold", size, (30, 30, 30)))
        canvas.text(x + 12, y + 2, time, ("sans", 11, (120, 120, 120)))
        canvas.box((336, y + size + 8, 360 + width_of(text, "sans", size), y + 2 * size + 22), (232, 236, 244))
        canvas.text(348, y + size + 12, text, ("sans", size, (20, 20, 20)))
    return canvas


def chat_pitch(size: int) -> int:
    return 2 * size + 40


# --- the corpus: layouts fill a screen with filler text and the planted lines ----------------------------

Host = tuple[str, Plant | None]  # a line of text, and the plant it carries if any
Layout = Callable[[random.Random, list[Host], int, str], Canvas]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(n))


def _interleave(rng: random.Random, filler: list[str], hosts: list[Host]) -> list[Host]:
    out: list[Host] = [(line, None) for line in filler]
    for host in hosts:
        out.insert(rng.randrange(1, len(out)), host)
    return out


def _log_line(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return f"$ {rng.choice(['make', 'git log', 'kubectl get pods', 'tail -f app.log'])} {words(rng, 2)}"
    stamp = f"[{rng.randrange(10, 23)}:{rng.randrange(10, 59)}:{rng.randrange(10, 59)}]"
    return f"{stamp} {rng.choice(['INFO', 'WARN', 'DEBUG'])} {words(rng, rng.randrange(4, 16))}"


def terminal(rng: random.Random, hosts: list[Host], size: int, family: str) -> Canvas:
    count = (FRAME[1] - 80) // int(size * 1.45) - len(hosts)
    return terminal_frame([line for line, _ in _interleave(rng, [_log_line(rng) for _ in range(count)], hosts)], size)


def document(rng: random.Random, hosts: list[Host], size: int, family: str) -> Canvas:
    ys = [160]
    while ys[-1] + int(size * 2.8) < FRAME[1] - 2 * size:
        ys.append(ys[-1] + int(size * (1.6 if rng.random() < 0.85 else 2.8)))  # paragraph breaks
    filler = [words(rng, rng.randrange(6, 14)).capitalize() for _ in range(len(ys) - len(hosts))]
    lines = _interleave(rng, filler, hosts)
    return document_frame(
        words(rng, 4).title(), [(y, line) for y, (line, _) in zip(ys, lines, strict=True)], family, size
    )


def _message(rng: random.Random, text: str) -> tuple[str, str, str]:
    return rng.choice(PEOPLE), f"{rng.randrange(9, 12)}:{rng.randrange(10, 59)} AM", text


def chat(rng: random.Random, hosts: list[Host], size: int, family: str) -> Canvas:
    count = (FRAME[1] - 120) // chat_pitch(size) - len(hosts)
    lines = _interleave(rng, [words(rng, rng.randrange(4, 14)) for _ in range(count)], hosts)
    return chat_frame([_message(rng, line) for line, _ in lines], size)


KEYWORDS = ("def", "return", "if", "for", "class", "import", "raise", "else")


def code(rng: random.Random, hosts: list[Host], size: int, family: str) -> Canvas:
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
    filler = [f"{rng.choice(KEYWORDS)} {words(rng, rng.randrange(2, 6)).replace(' ', '_', 1)}" for _ in range(count)]
    for i, (line, plant) in enumerate(_interleave(rng, filler, hosts)):
        y, indent = 68 + i * pitch, 90 + 4 * space * (i % 3)
        canvas.text(16, y, f"{i + 1:>4}", ("mono", size, (110, 110, 120)))
        if plant is not None:
            canvas.text(indent, y, line, ("mono", size, comment if line.startswith("#") else quoted))
        else:
            first, _, rest = line.partition(" ")
            canvas.text(canvas.text(indent, y, first, ("mono", size, key)) + space, y, rest, ("mono", size, ink))
    return canvas


def form(rng: random.Random, hosts: list[Host], size: int, family: str) -> Canvas:
    """Labels above input boxes, two columns: a label and its value are separate lines to OCR."""
    canvas = Canvas((246, 246, 248))
    chrome(canvas, "New supplier invoice - Billing Portal - Firefox", False)
    canvas.text(120, 90, "Supplier invoice", ("bold", 26, (20, 20, 20)))
    fields = [f"{label.title()}: {words(rng, 2)}" for label in rng.sample(FILLER[20:], 20 - len(hosts))]
    for i, (line, _) in enumerate(_interleave(rng, fields, hosts)):
        label, _, value = line.partition(": ")
        (column, row), top = divmod(i, 10), int(size * 1.6)
        x, y = 120 + column * 860, 160 + row * 88
        canvas.text(x, y, label, (family, size, (70, 70, 70)))
        canvas.box((x, y + top, x + 700, y + top + int(size * 2.2)), (255, 255, 255), (160, 160, 170))
        canvas.text(x + 10, y + top + int(size * 0.55), value, (family, size, (20, 20, 20)))
    return canvas


LAYOUT_FNS: dict[str, Layout] = {"terminal": terminal, "document": document, "chat": chat, "code": code, "form": form}
SIZES = {  # body text px; 11-12 px is small UI text
    "terminal": [11, 12, 13, 14, 16, 18],
    "document": [12, 14, 16, 18, 20, 24],
    "chat": [12, 13, 14, 16, 18],
    "code": [11, 12, 13, 14, 16],
    "form": [12, 13, 14, 16, 18],
}
HOSTS = {
    "word": ["see ticket {p} for details", "assigned to {p} by the billing team", "Reference: {p}", "{p}"],
    "phrase": ["ERROR {p} at the gateway", "note: {p} again", "{p}", "Subject: {p} this week"],
}


class Planter:
    """Makes corpus-unique planted words (names, invoice and ticket numbers, host names) and phrases."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def make(self, kind: str) -> str:
        rng = self.rng
        makers: list[Callable[[], str]] = [
            lambda: "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() + rng.choice(["ski", "wright", "ov"]),
            lambda: f"INV-{rng.randrange(10000, 99999)}",
            lambda: f"db-{rng.choice(NOUNS)}-{rng.randrange(10, 99)}",
            lambda: f"OPS-{rng.randrange(1000, 9999)}",
        ]
        while True:
            if kind == "word":
                value = rng.choice(makers)()
            else:
                value = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VERBS)}"
            if value.lower() not in self.used:
                self.used.add(value.lower())
                return value


def host_line(rng: random.Random, layout: str, plant: Plant) -> str:
    if layout == "form":
        return f"{'Reference' if plant.kind == 'word' else 'Notes'}: {plant.text}"
    if layout == "code":
        return f"# {plant.text}" if rng.random() < 0.5 else f'raise BillingError("{plant.text}")'
    return rng.choice(HOSTS[plant.kind]).format(p=plant.text)


def family_of(rng: random.Random, layout: str) -> str:
    return {"terminal": "mono", "code": "mono", "chat": "sans"}.get(layout) or rng.choice(["serif", "sans"])


def corpus(count: int, seed: int = 7) -> list[Screen]:
    """count screens, the layouts in turn; each with one planted word and one phrase, a third with a second word."""
    rng = random.Random(seed)
    planter = Planter(rng)
    screens: list[Screen] = []
    for index in range(count):
        layout = LAYOUTS[index % len(LAYOUTS)]
        size, family = rng.choice(SIZES[layout]), family_of(rng, layout)
        kinds = ["word", "phrase"] + (["word"] if index % 3 == 0 else [])
        plants = [Plant(planter.make(kind), kind, size, family, layout) for kind in kinds]
        hosts: list[Host] = [(host_line(rng, layout, p), p) for p in plants]
        canvas = LAYOUT_FNS[layout](rng, hosts, size, family)
        screens.append(Screen(f"{index:03d}-{layout}", layout, canvas.pixels(), plants, canvas.texts))
    check_unique(screens)
    return screens


def check_unique(screens: Sequence[Screen]) -> None:
    """Each plant is drawn on its own screen only (search matches substrings, so a shared one would blur recall)."""
    texts = ["\n".join(s.texts).lower() for s in screens]
    for screen in screens:
        for plant in screen.plants:
            holders = sum(plant.text.lower() in text for text in texts)
            if holders != 1:
                raise ValueError(f"plant {plant.text!r} is drawn on {holders} screens")


# --- secrets: screens showing things redaction must mask ---------------------------------------------------


def card_number(rng: random.Random, first: str) -> str:
    """A Luhn-valid 16-digit card number, grouped 4-4-4-4."""
    body = first + "".join(str(rng.randrange(10)) for _ in range(14))
    total = 0
    for position, char in enumerate(reversed(body)):  # the check digit goes right of these: double even positions
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    number = body + str(-total % 10)
    return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def _token(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def secret_screens(seed: int = 11) -> list[Screen]:
    """Four screens with two cards, three API keys, three passwords and three e-mail addresses."""
    rng = random.Random(seed)
    card1, card2 = card_number(rng, "4"), card_number(rng, "5")
    sk, akia = "sk-" + _token(rng, 40), "AKIA" + _token(rng, 16, string.ascii_uppercase + string.digits)
    ghp = "ghp_" + _token(rng, 36)
    pw1, pw2, pw3 = (f"{rng.choice(NOUNS).title()}-{rng.choice(ADJECTIVES)}-{rng.randrange(10, 99)}!" for _ in range(3))
    mail1, mail2, mail3 = (f"{name.split()[0].lower()}.{rng.choice(NOUNS)}@example.org" for name in PEOPLE[:3])
    specs: list[tuple[str, int, list[tuple[str, str, str]]]] = [
        ("form", 14, [(f"Card number: {card1}", card1, "card"), (f"Password: {pw1}", pw1, "password"),
                      (f"E-mail: {mail1}", mail1, "email")]),
        ("terminal", 14, [(f"$ export OPENAI_API_KEY={sk}", sk, "token"),
                          (f"$ mysql -u admin --password {pw2} billing", pw2, "password"),
                          (f"Author: Maria Lopez <{mail2}>", mail2, "email")]),
        ("chat", 14, [(f"use the company card {card2} for the hotel", card2, "card"),
                      (f"send the signed contract to {mail3} please", mail3, "email")]),
        ("code", 13, [(f'AWS_ACCESS_KEY_ID = "{akia}"', akia, "token"), (f'GITHUB_TOKEN = "{ghp}"', ghp, "token"),
                      (f'DB_PASSWORD = "{pw3}"', pw3, "password")]),
    ]  # fmt: skip
    screens = []
    for index, (layout, size, lines) in enumerate(specs):
        family = "mono" if layout in ("terminal", "code") else "sans"
        hosts: list[Host] = [(line, Plant(secret, kind, size, family, layout)) for line, secret, kind in lines]
        canvas = LAYOUT_FNS[layout](rng, hosts, size, family)
        screens.append(
            Screen(f"secret-{index}-{layout}", layout, canvas.pixels(), [p for _, p in hosts if p], canvas.texts)
        )
    return screens


# --- scripted sequences: each step a small change (for changed-region OCR) --------------------------------


def terminal_session(steps: int, size: int = 14, seed: int = 21) -> list[Canvas]:
    """Log lines appended; every fourth step an earlier line is edited in place (a status flips)."""
    rng = random.Random(seed)
    lines = [_log_line(rng) for _ in range(12)]
    frames = [terminal_frame(lines, size)]
    for step in range(steps):
        if step % 4 == 3:
            head, _, _ = lines[-3].rpartition(" ")
            lines[-3] = f"{head} finished"
        else:
            lines.append(_log_line(rng))
        frames.append(terminal_frame(list(lines), size))
    return frames


def document_typing(steps: int, size: int = 16, seed: int = 22) -> list[Canvas]:
    """A few words typed at the end of a document per step; the line wraps at the page width."""
    rng = random.Random(seed)
    pitch, family = int(size * 1.6), "serif"
    lines = [words(rng, rng.randrange(8, 14)).capitalize() for _ in range(10)] + [""]
    frames = []
    for _ in range(steps + 1):
        frames.append(
            document_frame(
                "Quarterly Billing Review", [(160 + i * pitch, t) for i, t in enumerate(lines)], family, size
            )
        )
        typed = f"{lines[-1]} {words(rng, rng.randrange(2, 4))}".strip()
        if width_of(typed, family, size) > 1000:
            lines.append(words(rng, 2))
        else:
            lines[-1] = typed
    return frames


def chat_incoming(steps: int, size: int = 14, seed: int = 23) -> list[Canvas]:
    """One new message per step, below the others."""
    rng = random.Random(seed)
    messages = [_message(rng, words(rng, rng.randrange(4, 12))) for _ in range(5)]
    frames = [chat_frame(messages, size)]
    for _ in range(steps):
        messages.append(_message(rng, words(rng, rng.randrange(4, 12))))
        frames.append(chat_frame(list(messages), size))
    return frames


SEQUENCES: dict[str, Callable[[int], list[Canvas]]] = {
    "terminal appends/edits": terminal_session,
    "document typing": document_typing,
    "chat receiving": chat_incoming,
}
