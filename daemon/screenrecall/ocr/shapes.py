"""Where secrets hide beyond a `label: value`: newer token prefixes, command lines, cookies, bare keys,
private-key bodies, and the optional kinds (IBAN, phone number, one-time and recovery codes).

Each finder yields (start, end) spans of the secret itself on one line; ocr.redact merges and masks.
False positives cost search hits, so shapes are anchored (a prefix, a label, a command) or checked
(mixed case, digits and entropy for bare keys; mod 97 for IBANs); git SHAs and UUIDs never match.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

Span = tuple[int, int]

_NOT_MASK = r"(?!\[redacted:)"
_END = r"(?![A-Za-z0-9_-])"

_NEW_TOKENS = re.compile(
    rf"""
      (?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{{16,}}{_END}   # Stripe secret / restricted keys
    | (?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{{20,}}                        # GitLab personal access token
    | (?<![A-Za-z0-9_])hf_[A-Za-z0-9]{{30,}}{_END}                        # Hugging Face
    | (?<![A-Za-z0-9_])npm_[A-Za-z0-9]{{36}}{_END}                        # npm
    | (?<![A-Za-z0-9_.-])ya29\.[A-Za-z0-9_-]{{20,}}                       # Google OAuth access token
    """,
    re.VERBOSE,
)
_BASIC_AUTH = re.compile(
    rf"(?i:authorization)[\"']?[ \t]*[:=][ \t]*[\"']?(?i:basic)[ \t]+{_NOT_MASK}(?P<value>[A-Za-z0-9+/]{{6,}}=*)"
)
_COOKIE_HEADER = re.compile(r"(?i:(?<![A-Za-z-])(?:set-)?cookie)[ \t]*:[ \t]*(?P<rest>.*)")
_COOKIE_PAIR = re.compile(r"(?P<name>[^=;\s]+)=(?P<value>[^;\s]+)")
_COOKIE_ATTRIBUTES = frozenset({"path", "domain", "expires", "max-age", "samesite", "priority", "version", "comment"})
_SESSION = re.compile(
    r"""(?<![A-Za-z0-9_.-])(?i:[A-Za-z0-9_.]*sess(?:ion)?(?:[_-]?(?:id|token|key))?|[A-Za-z]*sid|(?:x|_)?csrf[_-]?token|xsrf[_-]?token)
        ["']?[ \t]*[:=][ \t]*["']?(?!\[redacted:)(?P<value>[A-Za-z0-9%_.+/=-]{8,})""",
    re.VERBOSE,
)
# A long run of the base64 alphabet standing alone: an AWS secret key (40), a private key's body line
# (64), a random API key. Checked for mixed case, digits and entropy, so hex SHAs and words never are.
_PUBLIC_KEY = re.compile(r"(?:ssh-[a-z0-9]+|ecdsa-sha2-[a-z0-9]+|sk-ssh-[a-z0-9@.]+)[ \t]+$")  # "ssh-ed25519 AAAA..."
_BARE = re.compile(r"(?<![A-Za-z0-9+/=_.:@-])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=_.@-])")


def _has(lower: str, words: tuple[str, ...]) -> bool:
    # Most lines hold none of a pattern's key words: a substring test is far cheaper than the regex.
    return any(word in lower for word in words)


def tokens(text: str) -> Iterator[Span]:
    # Python's re has no fast path for a case-blind alternation (~70 us a line): substring tests on the
    # lower-cased line decide which patterns can match at all.
    lower = text.lower()
    if _has(lower, ("sk_", "rk_", "glpat-", "hf_", "npm_", "ya29.")):
        yield from (match.span() for match in _NEW_TOKENS.finditer(text))
    if "basic" in lower:
        yield from (match.span("value") for match in _BASIC_AUTH.finditer(text))
    if _has(lower, ("sess", "sid", "srf")):
        yield from (match.span("value") for match in _SESSION.finditer(text))
    if "cookie" in lower:
        yield from _cookies(text)
    if len(text) >= 40:
        yield from _bare(text)


def _bare(text: str) -> Iterator[Span]:
    for match in _BARE.finditer(text):
        if looks_random(match.group()) and not _PUBLIC_KEY.search(text, 0, match.start()):
            yield match.span()


def _cookies(text: str) -> Iterator[Span]:
    header = _COOKIE_HEADER.search(text)
    if header is None:
        return
    offset = header.start("rest")
    for pair in _COOKIE_PAIR.finditer(header.group("rest")):
        value = pair.group("value")
        if pair.group("name").lower() in _COOKIE_ATTRIBUTES or value.startswith("[redacted:") or len(value) < 8:
            continue
        yield offset + pair.start("value"), offset + pair.end("value")


def looks_random(word: str) -> bool:
    """Upper case, lower case and a digit, and 4.4+ bits of entropy a character: random base64 of 40+
    characters has ~4.6-5; long identifiers and paths stay under ~4.3; hex has one case only."""
    body = word.rstrip("=")
    upper = sum(char.isupper() for char in body)
    lower = sum(char.islower() for char in body)
    if upper < 0.1 * len(body) or lower < 0.1 * len(body) or not any(char.isdigit() for char in body):
        return False
    counts = Counter(body)
    entropy = -sum(n / len(body) * math.log2(n / len(body)) for n in counts.values())
    return entropy >= 4.4


# A private key's body once its header was seen: every base64-looking word on the line (OCR may put
# a second pane's text on the same line, or misread one glyph, so the whole line need not be base64).
_WORD = re.compile(r"[^\s|│┃]+")
_B64 = re.compile(r"[A-Za-z0-9+/=]")
_B64_WORD = re.compile(r"[A-Za-z0-9+/=]+")
_PEM_END = re.compile(r"-{2,}[ ]?E[NM]D\b")


def key_body(text: str) -> list[Span]:
    """Spans of key material on a line inside a private key block; [] ends the block."""
    if _PEM_END.search(text) or text.startswith("[redacted:"):
        return []
    stripped = text.strip()
    if len(stripped) >= 4 and _B64_WORD.fullmatch(stripped):
        start = text.index(stripped)
        return [(start, start + len(stripped))]  # a body line, as short as the last one ("AbCd==")
    spans = []
    for word in _WORD.finditer(text):
        value = word.group()
        mostly_base64 = sum(map(bool, _B64.findall(value))) >= 0.8 * len(value)
        if len(value) >= 8 and mostly_base64 and _encoded(value) and not value.startswith("[redacted:"):
            spans.append(word.span())
    return spans


def _encoded(word: str) -> bool:
    """Base64 of key material, not a word of prose or code beside it: a digit or +/=, or case changes
    inside the word."""
    if any(char.isdigit() or char in "+/=" for char in word):
        return True
    return sum(char.isupper() for char in word[1:]) >= 2 and sum(char.islower() for char in word) >= 2


def bare_key_line(text: str) -> bool:
    """The whole line is one random base64 run of a key body's width: what follows may be more of it."""
    stripped = text.strip()
    return len(stripped) >= 40 and _BARE.fullmatch(stripped) is not None and looks_random(stripped)


_MYSQL_P = re.compile(
    r"""\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mariadb(?:-dump|-admin)?)\b[^|;&\n]*?(?<!\S)-p
        (?:(?P<q>["'])(?P<quoted>[^"'\n]+)(?P=q)|(?!\[redacted:)(?P<value>[^\s"']+))""",
    re.VERBOSE,
)
_SSHPASS = re.compile(
    r"""\bsshpass\b(?:[ \t]+-[a-oq-zA-Z]\S*)*[ \t]+-p[ \t]*
        (?:(?P<q>["'])(?P<quoted>[^"'\n]+)(?P=q)|(?!\[redacted:)(?P<value>[^\s"']+))""",
    re.VERBOSE,
)
_ENV_PASS = re.compile(
    r"""(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*_(?i:pass|pw|pin)[ \t]*=[ \t]*
        (?:(?P<q>["'])(?P<quoted>[^"'\n]+)(?P=q)|(?!\[redacted:)(?P<value>[^\s"']+))""",
    re.VERBOSE,
)
_SUDO_S = re.compile(
    r"""\becho[ \t]+(?:-[ne]+[ \t]+)?(?:(?P<q>["'])(?P<quoted>[^"'\n]+)(?P=q)|(?!\[redacted:)(?P<value>[^\s"'|]+))
        [ \t]*\|[ \t]*sudo\b[^|\n]*?[ \t]-S\b""",
    re.VERBOSE,
)
_LABELS = re.compile(
    r"""(?<![A-Za-z0-9_-])(?i:pin(?:[ -]?code)?|passwort|kennwort|mot[ ]de[ ]passe|contraseña|senha|wachtwoord|hasło)
        [ \t]*[:=][ \t]*(?!\[redacted:)(?P<value>[^\s"']+)""",
    re.VERBOSE,
)
_PIN_DIGITS = re.compile(r"(?<![A-Za-z0-9_-])(?i:pin)[ \t]+(?P<value>[0-9]{4,8})(?![0-9])")
# "password hunter2" (the separator not read): only a value that mixes letters and digits or symbols.
_NO_SEPARATOR = re.compile(
    r"""(?<![A-Za-z0-9_-])(?i:password|passwort|passwd|pwd|pw)[ \t]+
        (?!\[redacted:)(?P<value>(?=[^\s]*[A-Za-z])(?=[^\s]*[0-9!@#$%^&*?])[^\s"'=:]{6,})""",
    re.VERBOSE,
)


_PASSWORD_SHAPES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (_MYSQL_P, ("mysql", "mariadb")),
    (_SSHPASS, ("sshpass",)),
    (_ENV_PASS, ("_pass", "_pw", "_pin")),
    (_SUDO_S, ("sudo",)),
)
_PASSWORD_LABELS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (_LABELS, ("pin", "passwort", "kennwort", "passe", "contrase", "senha", "wachtwoord", "has")),
    (_PIN_DIGITS, ("pin",)),
    (_NO_SEPARATOR, ("pw", "passw")),
)


_PASSWORD_WORDS = tuple({word for _, words in (*_PASSWORD_SHAPES, *_PASSWORD_LABELS) for word in words})


def passwords(text: str) -> Iterator[Span]:
    lower = text.lower()
    if not _has(lower, _PASSWORD_WORDS):
        return  # the common case: one pass of substring tests instead of seven regexes

    for pattern, words in _PASSWORD_SHAPES:
        if _has(lower, words):
            for match in pattern.finditer(text):
                yield match.span("quoted") if match.group("q") else match.span("value")
    for pattern, words in _PASSWORD_LABELS:
        if _has(lower, words):
            yield from (match.span("value") for match in pattern.finditer(text))


# ---- optional kinds ---------------------------------------------------------------------------

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")


def ibans(text: str) -> Iterator[Span]:
    for match in _IBAN.finditer(text):
        compact = match.group().replace(" ", "")
        if 15 <= len(compact) <= 34 and _mod97(compact) == 1:
            yield match.span()


def _mod97(iban: str) -> int:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97


_PHONE = re.compile(
    r"""(?<![A-Za-z0-9+./:-])(?:
        \+[1-9][0-9]{0,2}[ .-]?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{1,4}(?:[ .-]?[0-9]{2,4}){1,4}   # +49 30 1234567
      | \([0-9]{2,4}\)[ ]?[0-9]{3,4}[ .-]?[0-9]{3,4}                                         # (555) 010-4477
      | 0[0-9]{2,4}[ /-]?[0-9]{3,4}[ -]?[0-9]{2,5}                                            # 030 1234567
      | [2-9][0-9]{2}[-.][0-9]{3}[-.][0-9]{4}                                                 # 555-010-4477
    )(?![A-Za-z0-9]|[.:/-][0-9])""",
    re.VERBOSE,
)


def phones(text: str) -> Iterator[Span]:
    for match in _PHONE.finditer(text):
        digits = sum(char.isdigit() for char in match.group())
        if 8 <= digits <= 15:
            yield match.span()


_OTP_LABELLED = re.compile(
    r"""(?<![A-Za-z0-9_-])(?i:
        (?:verification|security|login|sign-?in|one[- ]time|otp|2fa|mfa|auth(?:entication)?
          |confirmation|backup|recovery)
        [ ]codes?|otp|totp|passcode|tan)[ \t]*(?:is|:|=)?[ \t]*(?!\[redacted:)
        (?P<value>[0-9]{3,4}[ -]?[0-9]{3,5}(?![0-9])|[A-Za-z0-9]{4,5}(?:-[A-Za-z0-9]{4,5}){1,3}(?![A-Za-z0-9]))""",
    re.VERBOSE,
)
_OTP_BEFORE = re.compile(r"(?<![0-9])(?P<value>[0-9]{4,8})(?=[ \t]+is[ \t]+your\b[^\n]{0,40}?\b(?i:code|otp|pin)\b)")


def one_time_codes(text: str) -> Iterator[Span]:
    for pattern in (_OTP_LABELLED, _OTP_BEFORE):
        for match in pattern.finditer(text):
            yield match.span("value")
