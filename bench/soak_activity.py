"""The soak benchmark's scripted user on an openbox desktop: a terminal printing log lines, a page
replaced in place, a typed note, then a still screen; one cycle of these on the clock, repeated."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.live_recall import planted_word
from tests.support.desktop import Desktop

FONT = ("-fa", "DejaVu Sans Mono", "-fs", "12")
CLEAR = "\033[H\033[2J"  # cursor home, erase the screen: the page is replaced in place
_FILLER = ["invoice", "deploy", "kernel", "meeting", "budget", "pipeline", "commit", "review", "merge", "backup"]


@dataclass(frozen=True)
class Timings:
    cycle_s: float  # one cycle on the clock: log, page, typing, then idle for the rest
    log_s: float
    page_s: float
    line_every_s: float = 1.5
    page_every_s: float = 5.0
    key_delay_ms: int = 180


@dataclass(frozen=True)
class Phase:
    cycle: int
    name: str  # log | page | typing | idle
    began: float  # time.monotonic()


class Script:
    """What the user is doing now (read by the sampler's thread: one attribute, replaced whole)."""

    def __init__(self) -> None:
        self.phase = Phase(-1, "start", time.monotonic())

    def enter(self, cycle: int, name: str) -> None:
        self.phase = Phase(cycle, name, time.monotonic())


class Terminal:
    """An xterm showing whatever is appended to its feed file (`tail -f`), so the benchmark writes its
    screen; typed keys show through the terminal's echo, as in a shell waiting for a command."""

    def __init__(self, desk: Desktop, feed: Path, title: str, colours: tuple[str, str], rect: tuple[int, ...]) -> None:
        feed.write_text("")
        self._feed = feed
        background, foreground = colours
        x, y, w, h = rect
        options = (*FONT, "-fg", foreground)
        command = ("tail", "-n", "+1", "-f", str(feed))
        self.window = desk.xterm(title, "XTerm", background, (x, y, w, h), command=command, options=options)

    def write(self, text: str) -> None:
        with self._feed.open("a", encoding="utf-8") as feed:
            feed.write(text)


class User:
    """Two windows (a build log and a notes page) on the desktop, driven one cycle at a time."""

    def __init__(self, desk: Desktop, workdir: Path, script: Script, rng: random.Random, timings: Timings) -> None:
        self._desk, self._script, self._rng, self._t = desk, script, rng, timings
        self.log = Terminal(desk, workdir / "log.feed", "build log - xterm", ("#101418", "#d8dee9"), (0, 0, 1100, 980))
        self.page = Terminal(desk, workdir / "page.feed", "notes.txt - Editor", ("white", "black"), (1120, 0, 790, 980))
        self._lines = 0

    def cycle(self, index: int) -> list[str]:
        """One cycle, ending cycle_s after it began; returns the words typed in it."""
        began = time.monotonic()
        self._script.enter(index, "log")
        self._desk.activate(self.log.window)
        _every(self._t.log_s, self._t.line_every_s, lambda: self.log.write(self._log_line()))
        self._script.enter(index, "page")
        self._desk.activate(self.page.window)
        _every(self._t.page_s, self._t.page_every_s, lambda: self.page.write(self._page(index)))
        self._script.enter(index, "typing")
        typed = [planted_word(self._rng) for _ in range(3)]
        self._desk.xdotool("type", "--delay", str(self._t.key_delay_ms), "note: " + " ".join(typed))
        self._desk.xdotool("key", "Return")
        self._script.enter(index, "idle")
        time.sleep(max(0.0, began + self._t.cycle_s - time.monotonic()))
        return typed

    def _log_line(self) -> str:
        self._lines += 1
        words = " ".join(self._rng.choice(_FILLER) for _ in range(5))
        return f"[{time.strftime('%H:%M:%S')}] step {self._lines:05d} {planted_word(self._rng)} {words} ok\n"

    def _page(self, cycle: int) -> str:
        title = f"Notes, cycle {cycle}, page {self._rng.randrange(1000):03d}: {planted_word(self._rng)}"
        body = [" ".join(self._rng.choice(_FILLER) for _ in range(8)) for _ in range(24)]
        return CLEAR + "\n".join([title, "", *body]) + "\n"


def _every(seconds: float, every_s: float, action: Callable[[], None]) -> None:
    """action() every every_s for seconds (at least once), on the clock rather than after each call."""
    start = time.monotonic()
    step = 0
    while step == 0 or start + step * every_s < start + seconds:
        time.sleep(max(0.0, start + step * every_s - time.monotonic()))
        action()
        step += 1
    time.sleep(max(0.0, start + seconds - time.monotonic()))
