"""Scripted screen sequences, one small change per step (for measuring changed-region OCR)."""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.support.screens.canvas import Canvas, chat_frame, document_frame, terminal_frame
from tests.support.screens.fonts import width_of
from tests.support.screens.layouts import log_line, message
from tests.support.screens.vocabulary import filler


def terminal_session(steps: int, size: int = 14, seed: int = 21) -> list[Canvas]:
    """Log lines appended; every fourth step an earlier line is edited in place (a status flips)."""
    rng = random.Random(seed)
    lines = [log_line(rng) for _ in range(12)]
    frames = [terminal_frame(lines, size)]
    for step in range(steps):
        if step % 4 == 3:
            head, _, _ = lines[-3].rpartition(" ")
            lines[-3] = f"{head} finished"
        else:
            lines.append(log_line(rng))
        frames.append(terminal_frame(list(lines), size))
    return frames


def document_typing(steps: int, size: int = 16, seed: int = 22) -> list[Canvas]:
    """A few words typed at the end of a document per step; the line wraps at the page width."""
    rng = random.Random(seed)
    pitch, family = int(size * 1.6), "serif"
    lines = [filler(rng, rng.randrange(8, 14)).capitalize() for _ in range(10)] + [""]
    frames = []
    for _ in range(steps + 1):
        frames.append(
            document_frame(
                "Quarterly Billing Review", [(160 + i * pitch, t) for i, t in enumerate(lines)], family, size
            )
        )
        typed = f"{lines[-1]} {filler(rng, rng.randrange(2, 4))}".strip()
        if width_of(typed, family, size) > 1000:
            lines.append(filler(rng, 2))
        else:
            lines[-1] = typed
    return frames


def chat_incoming(steps: int, size: int = 14, seed: int = 23) -> list[Canvas]:
    """One new message per step, below the others."""
    rng = random.Random(seed)
    messages = [message(rng, filler(rng, rng.randrange(4, 12))) for _ in range(5)]
    frames = [chat_frame(messages, size)]
    for _ in range(steps):
        messages.append(message(rng, filler(rng, rng.randrange(4, 12))))
        frames.append(chat_frame(list(messages), size))
    return frames


SEQUENCES: dict[str, Callable[[int], list[Canvas]]] = {
    "terminal appends/edits": terminal_session,
    "document typing": document_typing,
    "chat receiving": chat_incoming,
}
