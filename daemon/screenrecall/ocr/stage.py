"""Side stage: reads the text of kept frames (only where they changed), redacts it, hands it to the writer.

Lower priority than the CLIP path and never in its way: frames are offered without waiting and the
thread runs at nice 19. Every offered frame gets one answer (TextFound), because the writer keeps a
frame's record until its text is known: read, failed, or skipped. Only live frames are ever skipped,
and only when OCR is behind: of the waiting frames of that monitor, the one most like the frame
after it (a line added, a word typed: the later frame shows nearly all it showed), so a page that
was replaced, or text that scrolled away, is still read; files are never skipped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from screenrecall.ocr.engine import Line, OcrEngine, text_of
from screenrecall.ocr.regions import area_fraction, carried_over, changed_regions, read_regions
from screenrecall.pipeline.messages import FileJob, Frame, Pixels, TextFound, TextStatus
from screenrecall.pipeline.stage import Stage

if TYPE_CHECKING:
    from screenrecall.ocr.redact import Redactor

logger = logging.getLogger(__name__)


@dataclass
class OcrStats:
    read: int = 0
    dropped: int = 0  # live frames skipped while OCR was behind (superseded by a newer one)
    failed: int = 0
    redactions: int = 0
    seconds: float = 0.0
    area_read: float = 0.0  # sum over frames of the share of the frame actually read


@dataclass
class _Previous:
    pixels: Pixels
    lines: list[Line]  # unredacted: only ever in memory, needed to carry unchanged text over


class OcrStage(Stage):
    def __init__(
        self,
        engine_factory: Callable[[], OcrEngine],
        deliver: Callable[[TextFound], None],
        redactor: Redactor | None,
        read_file: Callable[[FileJob], Frame],
        *,
        max_waiting: int = 2,
        changed_regions_only: bool = True,
    ) -> None:
        self._engine_factory = engine_factory
        self._deliver = deliver
        self._read_file = read_file
        # Files wait as paths (cheap, never dropped: a file's words must become searchable); live
        # frames as pixels, only the newest few.
        self._files: deque[FileJob] = deque()
        self._redactor = redactor
        self._changed_only = changed_regions_only
        self._waiting: deque[Frame] = deque()
        self._max_waiting = max_waiting
        self._condition = threading.Condition()
        self._stopping = False
        self._busy = False
        self._engine: OcrEngine | None = None  # made on the stage's thread (the reader process is its)
        self._previous: dict[tuple[str, int], _Previous] = {}
        self.stats = OcrStats()
        super().__init__("ocr")

    def offer(self, frame: Frame) -> None:
        """Any thread; never waits for OCR. When full, skips the oldest waiting frame of the same
        monitor (else the oldest of all) and answers it as skipped."""
        with self._condition:
            if self._stopping:
                return
            skipped = self._make_room(frame.monitor, frame) if len(self._waiting) >= self._max_waiting else None
            self._waiting.append(frame)
            self._condition.notify()
        if skipped is not None:
            self._answer(skipped, "skipped")

    def _make_room(self, monitor: int, newest: Frame) -> Frame:
        same_screen = [f for f in self._waiting if f.monitor == monitor]
        if same_screen:
            victim = min(zip(same_screen, [*same_screen[1:], newest], strict=True), key=_likeness_gap)[0]
        else:
            victim = self._waiting[0]
        self._waiting.remove(victim)
        self.stats.dropped += 1
        return victim

    def _answer(self, frame: Frame, status: TextStatus) -> None:
        self._deliver(
            TextFound(frame.source, frame.monitor, frame.captured_at_ms, frame.file_key, "", (), frame.size, status)
        )

    def offer_file(self, job: FileJob) -> None:
        """Any thread; never waits. The file is read again from disk when OCR gets to it."""
        with self._condition:
            if not self._stopping:
                self._files.append(job)
                self._condition.notify()

    def idle(self) -> bool:
        """Nothing waiting and nothing being read (ingest waits for this before it stops)."""
        with self._condition:
            return not self._waiting and not self._files and not self._busy

    def stop(self) -> None:
        """Ends now: the read in progress is aborted and nothing waiting is read. Screen frames not
        read are stored by the writer without text (the next look at that screen reads it); files
        not read are not stored, so the next start reads them."""
        with self._condition:
            self._stopping = True
            self._waiting.clear()
            self._files.clear()
            self._condition.notify()
            engine = self._engine if self._busy else None
        if engine is not None:
            engine.abort()

    @property
    def waiting(self) -> int:
        return len(self._waiting) + len(self._files)

    def _next(self) -> Frame | FileJob | None:
        with self._condition:
            self._busy = False
            while not self._waiting and not self._files and not self._stopping:
                self._condition.wait(0.5)
                self._beat()
            if self._stopping:
                return None
            self._busy = True
            # Live frames first: they are dropped if they wait; files keep.
            return self._waiting.popleft() if self._waiting else self._files.popleft()

    def _run(self) -> None:
        _lower_priority()
        engine = self._engine = self._engine_factory()
        while (item := self._next()) is not None:
            self._beat()
            started = time.perf_counter()
            try:
                frame = self._read_file(item) if isinstance(item, FileJob) else item
                found = self._found(frame, self._read(engine, frame))
            except Exception:  # one unreadable frame must not end OCR for the session
                if self._stopping:  # aborted by stop(): unanswered, like the frames still waiting
                    logger.info("stopping: the %s being read is left unread", _kind(item))
                    break
                self.stats.failed += 1
                logger.exception("OCR failed on a %s", _kind(item))
                self._answer_failed(item)
                continue
            self._deliver(found)
            self.stats.read += 1
            self.stats.seconds += time.perf_counter() - started

    def _read(self, engine: OcrEngine, frame: Frame) -> list[Line]:
        key = (frame.source, frame.monitor)
        previous = self._previous.get(key) if frame.source == "screen" and self._changed_only else None
        regions = changed_regions(previous.pixels, frame.pixels, previous.lines) if previous else None
        height, width = frame.pixels.shape[:2]
        if previous is None or regions is None:
            lines = engine.read(frame.pixels)
            self.stats.area_read += 1.0
        else:
            lines = carried_over(previous.lines, regions) + read_regions(engine.read, frame.pixels, regions)
            lines.sort(key=lambda line: (line.box[1] // 8, line.box[0]))
            self.stats.area_read += area_fraction(regions, width, height)
        if frame.source == "screen":
            self._previous[key] = _Previous(frame.pixels, lines)
        return lines

    def _found(self, frame: Frame, lines: list[Line]) -> TextFound:
        boxes: tuple[tuple[int, int, int, int], ...] = ()
        if self._redactor is not None:
            lines, redactions = self._redactor.redact(lines)
            boxes = tuple(r.box for r in redactions)
            self.stats.redactions += len(redactions)
        return TextFound(
            source=frame.source,
            monitor=frame.monitor,
            captured_at_ms=frame.captured_at_ms,
            file_key=frame.file_key,
            text=text_of(lines),
            redacted_boxes=boxes,
            frame_size=frame.size,
        )

    def _answer_failed(self, item: Frame | FileJob) -> None:
        if isinstance(item, Frame):
            self._answer(item, "failed")
        else:  # the frame key of a file's record: see pipeline.assembly.file_reader
            self._deliver(TextFound("folder", 0, item.mtime_ns // 1_000_000, item.key, "", (), (0, 0), "failed"))


def _kind(item: Frame | FileJob) -> str:
    return "file" if isinstance(item, FileJob) else "frame"


def _likeness_gap(pair: tuple[Frame, Frame]) -> float:
    """How much of a frame the next one changed, on a sparse pixel grid (~1 ms at 1080p)."""
    earlier, later = pair[0].pixels, pair[1].pixels
    if earlier.shape != later.shape:
        return 1.0
    return float(np.count_nonzero((earlier[::4, ::4] != later[::4, ::4]).any(axis=-1))) / earlier[::4, ::4, 0].size


def _lower_priority() -> None:
    # Linux threads have their own nice value: OCR yields the CPU to capture and the CLIP path.
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (OSError, AttributeError):
        logger.debug("could not lower the OCR thread's priority")
