"""Screens showing things redaction must mask: card numbers, API keys, passwords, e-mail addresses."""

from __future__ import annotations

import random
import string

from tests.support.screens.corpus import Screen
from tests.support.screens.layouts import LAYOUT_FNS, Host, Plant
from tests.support.screens.vocabulary import ADJECTIVES, NOUNS, PEOPLE


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
