"""Masks secrets (API tokens, card numbers, passwords, e-mail addresses; optionally IBANs, one-time
codes, phone numbers) in OCR text and window titles before they are stored.

Each secret becomes `[redacted:KIND]`; every other character is left as it was. A masked line is
read again until nothing new turns up, so redacting twice changes nothing. Overlapping finds are
masked once, as their union, under the first kind in KINDS (token > card > password > email).
Not tokens: git SHAs and other bare hex ids, UUIDs (no label, no known prefix).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from screenrecall.config import REDACTION_KINDS
from screenrecall.ocr import shapes
from screenrecall.pipeline.messages import Box

KINDS = REDACTION_KINDS  # also the priority on overlap: first wins
DEFAULT_KINDS = ("token", "card", "password", "email")  # the optional kinds cost search hits: asked for
MASK_PREFIX = "[redacted:"
_MAX_PASSES = 3  # re-reads of a masked line; one is almost always enough

Span = tuple[int, int]


class TextLine(Protocol):
    """An OCR line: a frozen dataclass with text and box (screenrecall.ocr.engine.Line is one)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def text(self) -> str: ...

    @property
    def box(self) -> Box: ...


LineT = TypeVar("LineT", bound=TextLine)


@dataclass(frozen=True, slots=True)
class Redaction:
    """One masked span: its kind, which line, where in the original text, and where on the frame."""

    kind: str
    line_index: int
    start: int  # character span in the original line text
    end: int
    box: Box  # the span's share of the line box, half a character wider each side, inside the line box


_NOT_MASK = r"(?!\[redacted:)"
_VALUE = r"[A-Za-z0-9_\-./+=]{16,}"  # a generic secret value: long, no spaces or quotes
_SEP = r"[ \t]*(?::=|=>|:|=(?!=))[ \t]*"  # ":" "=" ":=" "=>", never "==": comparisons are not values
_SUFFIX = r"(?:s|[_-][A-Za-z0-9_-]{0,32}|[A-Z][A-Za-z0-9_-]{0,32})?(?![A-Za-z0-9])"  # tokens, _id, Id; not "tokenizer"
_TOKEN_LABEL = (
    r"[A-Za-z0-9_-]{0,32}?(?i:token|api[_-]?key|access[_-]?key|secret[_-]?key|auth(?:orization)?|bearer)" + _SUFFIX
)
# Any BEGIN block but the public ones, spelled loosely: OCR misreads a glyph ("BEGlN", "PRIVATE KEV").
# [ ]: also used in a VERBOSE pattern.
_PEM_HEADER = (
    r"-{2,}[ ]?[B8][E3F][G6C][I1lL|!][NM][ ]+"
    r"(?!(?:CERTIFICATE|X509|TRUSTED|PUBLIC|PGP[ ](?:PUBLIC|SIGNATURE|SIGNED|MESSAGE)|SSH2[ ]PUBLIC)\b)"
    r"[A-Z0-9 ]{2,40}?-{2,}"
)

_TOKEN_SHAPES = re.compile(
    rf"""
      (?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{{16}}(?![A-Za-z0-9])
    | (?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{{36,}}(?![A-Za-z0-9_])
    | (?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{{22,}}
    | (?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{{20,}}
    | (?<![A-Za-z0-9_-])xox[baprs]-[A-Za-z0-9-]{{10,}}
    | (?<![A-Za-z0-9_-])AIza[A-Za-z0-9_-]{{35}}(?![A-Za-z0-9_-])
    | (?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]*
    # The header, then any key body on the same line (a JSON "private_key": "-----BEGIN...\nMIIE...").
    | {_PEM_HEADER}(?:(?:\\n|[ \t])*+[A-Za-z0-9+/=]++)*+
    """,
    re.VERBOSE,
)
_TOKEN_LABELLED = re.compile(
    rf"""(?<![A-Za-z0-9_-])(?:
        {_TOKEN_LABEL}["']?{_SEP}["']?(?:(?i:bearer|basic|token|bot)[ \t]+)?
      | (?<!\S)--{_TOKEN_LABEL}[ \t]+  # a command-line flag: --api-key VALUE
      | (?i:bearer)[ \t]+
    ){_NOT_MASK}(?P<value>{_VALUE})""",
    re.VERBOSE,
)
_PASSWORD = re.compile(
    rf"""(?<![A-Za-z0-9_-])(?:
        [A-Za-z0-9_-]{{0,32}}?(?i:password|passwd|passphrase|pwd|secret){_SUFFIX}["']?(?:{_SEP}|[ \t]+(?i:is)[ \t]+)
      | (?<!\S)--(?i:password|passphrase)[ \t]+
    )(?:(?P<quote>["']){_NOT_MASK}(?P<quoted>[^"'\n]+)(?P=quote) | {_NOT_MASK}(?P<value>[^\s"']\S*))""",
    re.VERBOSE,
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
)
# A run of digits not glued to a word or a decimal number; card groups are runs one " " or "-" apart.
_DIGITS = re.compile(r"(?<![A-Za-z0-9_])(?<![0-9][.,])[0-9]+(?![A-Za-z0-9_]|[.,][0-9])")
_PEM_BEGIN = re.compile(_PEM_HEADER)


def _tokens(text: str) -> Iterator[Span]:
    for match in _TOKEN_SHAPES.finditer(text):
        yield match.span()
    for match in _TOKEN_LABELLED.finditer(text):
        yield match.span("value")
    yield from shapes.tokens(text)


def _passwords(text: str) -> Iterator[Span]:
    for match in _PASSWORD.finditer(text):
        yield match.span("quoted") if match.group("quote") else match.span("value")
    yield from shapes.passwords(text)


def _emails(text: str) -> Iterator[Span]:
    for match in _EMAIL.finditer(text):
        yield match.span()


def _cards(text: str) -> Iterator[Span]:
    chain: list[Span] = []
    for match in _DIGITS.finditer(text):
        if chain and text[chain[-1][1] : match.start()] not in (" ", "-"):
            yield from _cards_in_chain(text, chain)
            chain = []
        chain.append(match.span())
    yield from _cards_in_chain(text, chain)


def _cards_in_chain(text: str, chain: list[Span]) -> Iterator[Span]:
    """Left to right, the longest run of whole groups that is a card number; groups are never split."""
    first = 0
    while first < len(chain):
        for last in range(min(len(chain), first + 6) - 1, first - 1, -1):
            if _is_card(text, chain[first : last + 1]):
                yield chain[first][0], chain[last][1]
                first = last + 1
                break
        else:
            first += 1


def _is_card(text: str, groups: list[Span]) -> bool:
    lengths = [end - start for start, end in groups]
    # Printed cards group 4-4-4-4(-3), 4-6-5 or 4-6-4; stray small numbers (12/25, 123) are not part of them.
    if len(groups) > 1 and (lengths[0] != 4 or any(n < 3 or n > 8 for n in lengths[1:])):
        return False
    digits = "".join(text[start:end] for start, end in groups)
    # Payment networks start 2-6 (Mastercard, Amex/Diners/JCB, Visa, Mastercard, Discover/UnionPay); this
    # keeps 13-digit epoch milliseconds and snowflake ids (which start with 1) out.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn(digits)


# A form's label and its field are separate OCR lines: "Password" then, on its row or just below,
# the value. The label alone on its line marks the next line as the value.
_LABEL_ALONE = re.compile(r"^\s*(?i:password|passwd|pwd|passphrase|secret|pin)\s*[:*]?\s*$")


def _value_of_a_label(line: TextLine, labels: Sequence[Box]) -> bool:
    """The line is a field's value: right of a label on its row, or just below it.

    Reading order is not enough: a field box often starts a few pixels above its label's.
    """
    text = line.text.strip()
    if not text or text.startswith("[redacted:") or _LABEL_ALONE.match(text):
        return False
    value = line.box
    for label in labels:
        height = max(1, label[3] - label[1])
        same_row = value[1] < label[3] and label[1] < value[3] and value[0] >= label[2] - height
        just_below = 0 <= value[1] - label[3] <= 2 * height and abs(value[0] - label[0]) < 4 * height
        if same_row or just_below:
            return True
    return False


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


_FINDERS: dict[str, Callable[[str], Iterator[Span]]] = {
    "token": _tokens,
    "card": _cards,
    "password": _passwords,
    "email": _emails,
    "iban": shapes.ibans,
    "otp": shapes.one_time_codes,
    "phone": shapes.phones,
}


class Redactor:
    """Finds and masks the configured kinds of secret; stateless between calls and safe to share."""

    def __init__(self, kinds: Sequence[str] = DEFAULT_KINDS) -> None:
        if isinstance(kinds, str):
            raise TypeError(f"kinds must be a sequence of kind names, not the string {kinds!r}")
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown:
            raise ValueError(f"unknown redaction kind(s) {', '.join(map(repr, unknown))}; known: {', '.join(KINDS)}")
        # Priority order, whatever order they were configured in.
        self.kinds = tuple(kind for kind in KINDS if kind in kinds)

    def redact(self, lines: Sequence[LineT]) -> tuple[list[LineT], list[Redaction]]:
        """The lines with secrets masked (same boxes; unchanged lines are the same objects) and what was masked."""
        out: list[LineT] = []
        redactions: list[Redaction] = []
        in_key = False
        labels = [line.box for line in lines if _LABEL_ALONE.match(line.text)] if "password" in self.kinds else []
        for index, line in enumerate(lines):
            found, in_key = self._find(line.text, in_key)
            if not found and labels and _value_of_a_label(line, labels):
                found = [("password", 0, len(line.text))]
            if not found:
                out.append(line)
                continue
            out.append(dataclasses.replace(line, text=_mask(line.text, found)))
            redactions.extend(
                Redaction(kind, index, start, end, _span_box(line.box, start, end, len(line.text)))
                for kind, start, end in found
            )
        return out, redactions

    def redact_text(self, text: str) -> tuple[str, list[tuple[str, int, int]]]:
        """Plain text (lines split on newlines): the masked text and (kind, start, end) in the original."""
        pieces: list[str] = []
        spans: list[tuple[str, int, int]] = []
        offset = 0
        in_key = False
        for line in text.split("\n"):
            found, in_key = self._find(line, in_key)
            pieces.append(_mask(line, found))
            spans.extend((kind, start + offset, end + offset) for kind, start, end in found)
            offset += len(line) + 1
        return "\n".join(pieces), spans

    def _find(self, text: str, in_key: bool) -> tuple[list[tuple[str, int, int]], bool]:
        """Merged spans on one line, and whether the next line may still be a private key's body."""
        found, key_follows = self._find_once(text, in_key)
        # A mask changes what its neighbours see (digits after "ghp_...3." read as decimals before, as a
        # card after): look again at the masked line until nothing new turns up, so that redacting the
        # result again finds nothing.
        passes = 0
        while found and passes < _MAX_PASSES:
            named = self._named(found)
            again, _ = self._find_once(_mask(text, named), in_key)
            grown = _merge(found + _to_original(again, named))
            if grown == found:
                break
            found, passes = grown, passes + 1
        return self._named(found), key_follows

    def _find_once(self, text: str, in_key: bool) -> tuple[list[tuple[int, int, int]], bool]:
        found: list[tuple[int, int, int]] = []  # start, end, priority
        for priority, kind in enumerate(self.kinds):
            found.extend((start, end, priority) for start, end in _FINDERS[kind](text))
        if "token" in self.kinds:
            body = shapes.key_body(text) if in_key else []
            found.extend((start, end, 0) for start, end in body)
            # A key's body follows its header line (or a bare body line, when the header scrolled
            # off): keep masking until a line with no base64 word, or its END line.
            in_key = _PEM_BEGIN.search(text) is not None or bool(body) or shapes.bare_key_line(text)
        return _merge(found), in_key

    def _named(self, found: list[tuple[int, int, int]]) -> list[tuple[str, int, int]]:
        return [(self.kinds[priority], start, end) for start, end, priority in found]


def _merge(found: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    merged: list[tuple[int, int, int]] = []
    for start, end, priority in sorted(found):
        if merged and start < merged[-1][1]:
            last_start, last_end, last_priority = merged[-1]
            merged[-1] = (last_start, max(last_end, end), min(last_priority, priority))
        else:
            merged.append((start, end, priority))
    return merged


def _to_original(spans: list[tuple[int, int, int]], masks: list[tuple[str, int, int]]) -> list[tuple[int, int, int]]:
    """Spans found in the masked text, moved to the original's positions; touching a mask takes all of it."""
    marks: list[tuple[int, int, int, int]] = []  # a mask's start and end in the masked text, then in the original
    shift = 0
    for kind, start, end in masks:
        width = len(_mask_of(kind))
        marks.append((start + shift, start + shift + width, start, end))
        shift += width - (end - start)
    return [(_back(marks, start, False), _back(marks, end, True), priority) for start, end, priority in spans]


def _back(marks: list[tuple[int, int, int, int]], position: int, is_end: bool) -> int:
    shift = 0
    for masked_start, masked_end, start, end in marks:
        if position < masked_start or (is_end and position == masked_start):
            break
        if position < masked_end or (is_end and position == masked_end):
            return end if is_end else start
        shift = masked_end - end
    return position - shift


def _mask_of(kind: str) -> str:
    return f"{MASK_PREFIX}{kind}]"


def _mask(text: str, found: Sequence[tuple[str, int, int]]) -> str:
    pieces: list[str] = []
    done = 0
    for kind, start, end in found:
        pieces += [text[done:start], _mask_of(kind)]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _span_box(box: Box, start: int, end: int, length: int) -> Box:
    # OCR gives one box per line; characters are taken as equally wide, which proportional fonts are
    # not, so the box is widened by half a character each side (blurring a little more is cheap).
    x0, y0, x1, y1 = box
    char = (x1 - x0) / max(length, 1)
    left = math.floor(x0 + char * (start - 0.5))
    right = math.ceil(x0 + char * (end + 0.5))
    return max(x0, left), y0, min(x1, right), y1
