"""A seeded corpus of text-heavy screens, the layouts in turn, each with planted words and phrases
drawn on it alone (for measuring whether search finds a screen by its words)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tests.support.screens.canvas import Pixels
from tests.support.screens.layouts import LAYOUT_FNS, LAYOUTS, SIZES, Host, Plant
from tests.support.screens.vocabulary import ADJECTIVES, NOUNS, SYLLABLES, VERBS

HOSTS = {
    "word": ["see ticket {p} for details", "assigned to {p} by the billing team", "Reference: {p}", "{p}"],
    "phrase": ["ERROR {p} at the gateway", "note: {p} again", "{p}", "Subject: {p} this week"],
}


@dataclass
class Screen:
    name: str
    layout: str
    pixels: Pixels
    plants: list[Plant]
    texts: list[str]  # every string drawn: the ground truth


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
