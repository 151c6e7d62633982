"""Reads text off a frame: RapidOCR's PP-OCR models (shipped in its wheel) run on OpenVINO.

rapidocr is imported only in the reader process (ocr/worker.py). Lines come back with axis-aligned
boxes in frame pixels.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import subprocess
import sys
import threading
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from screenrecall.ocr.worker import RawLine
from screenrecall.pipeline.messages import Box, Pixels

logger = logging.getLogger(__name__)

# The reader exits after this long without work: a still screen costs no OCR memory at all.
IDLE_S = 30.0
# ... and is replaced after this many reads, so whatever OpenVINO grows per input shape is bounded.
MAX_READS = 200
# A read longer than this is a wedged reader (a dense 1080p screen takes ~2 s here).
READ_TIMEOUT_S = 120.0
STOP_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    box: Box
    score: float = 1.0


class OcrError(Exception):
    """The reader process failed or died; one frame's text is lost, OCR goes on."""


class OcrEngine:
    """RapidOCR in a child process (ocr/worker.py) that holds its models only while there is work.

    The child starts at the first read, exits after `idle_s` without one (taking every buffer
    OpenVINO grew with it) and is replaced after `max_reads` reads, so the daemon's own memory does
    not carry the OCR models at all. Thread-safe (reads are serialised); `threads` caps its CPU use.
    """

    def __init__(
        self,
        *,
        min_score: float = 0.5,
        threads: int = 1,
        idle_s: float = IDLE_S,
        max_reads: int = MAX_READS,
        timeout_s: float = READ_TIMEOUT_S,
        warm: bool = True,
    ) -> None:
        if importlib.util.find_spec("rapidocr") is None:  # fail at start-up, not at the first read
            raise ImportError("OCR needs the rapidocr package (pip install rapidocr)")
        self._args = (str(min_score), str(threads), str(idle_s))
        self._max_reads = max_reads
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self.starts = 0  # child processes started so far
        # The child, in a list the finalizer can see without keeping this engine alive: an engine
        # dropped without close() (its stage ended) still ends its reader.
        self._slot: list[_Child | None] = [None]
        weakref.finalize(self, _Child.stop_maybe, self._slot)
        if warm:
            # Loaded now, as the OCR stage starts, so the first frame does not wait for the models
            # (and a broken install fails at start-up); the reader still exits if no work comes.
            with self._lock:
                self._slot[0] = _Child.start(self._args, self._timeout_s)
                self.starts += 1

    def read(self, pixels: Pixels, origin: tuple[int, int] = (0, 0)) -> list[Line]:
        """Text lines in reading order; boxes are shifted by origin (for crops of a larger frame)."""
        if pixels.shape[0] < 8 or pixels.shape[1] < 8:
            return []
        with self._lock:
            raw = self._read(np.ascontiguousarray(pixels))
        lines = [Line(text, _axis_box(points, origin), score) for text, points, score in raw if text.strip()]
        return sorted(lines, key=lambda line: (line.box[1] // 8, line.box[0]))

    def close(self) -> None:
        with self._lock:
            _Child.stop_maybe(self._slot)

    def abort(self) -> None:
        """Any thread: kills the reader mid-read (the read in progress raises OcrError). For stopping:
        a dense frame read under load can take minutes, longer than systemd waits for a stop."""
        child = self._slot[0]  # no lock: read() holds it for the whole read
        if child is not None and child.alive():
            child.process.kill()

    @property
    def child_pid(self) -> int | None:
        child = self._slot[0]
        return child.pid if child is not None and child.alive() else None

    def _read(self, pixels: Pixels) -> list[RawLine]:
        for attempt in (1, 2):
            child = self._slot[0]
            if child is None or not child.alive() or child.reads >= self._max_reads:
                _Child.stop_maybe(self._slot)
                child = self._slot[0] = _Child.start(self._args, self._timeout_s)
                self.starts += 1
            try:
                return child.read(pixels, self._timeout_s)
            except _IdleExitError:
                # It exited for idleness just as we asked: a new one reads it.
                _Child.stop_maybe(self._slot)
                if attempt == 2:
                    raise OcrError("the OCR reader exited twice in a row") from None
        raise AssertionError("unreachable")


class _IdleExitError(Exception):
    pass


class _Child:
    def __init__(self, process: subprocess.Popen[bytes], conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.reads = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, args: tuple[str, str, str], timeout_s: float) -> _Child:
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])  # this checkout's screenrecall, not another
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-m", "screenrecall.ocr.worker", str(theirs.fileno()), *args],
                pass_fds=(theirs.fileno(),),
                env=env,
                stdin=subprocess.DEVNULL,
            )
        child = cls(process, Connection(ours.detach()))
        if not child.conn.poll(timeout_s):
            child.stop()
            raise OcrError(f"the OCR reader did not start within {timeout_s:.0f} s")
        try:
            child.conn.recv()  # ("ready", None): the models are loaded
        except EOFError:
            code = child.stop()
            raise OcrError(f"the OCR reader failed to start (exit {code})") from None
        logger.debug("OCR reader started (pid %d)", process.pid)
        return child

    def alive(self) -> bool:
        return self.process.poll() is None

    def read(self, pixels: Pixels, timeout_s: float) -> list[RawLine]:
        self.reads += 1
        # The whole exchange is bounded, the send too: a wedged reader stops reading its socket.
        overdue = threading.Timer(timeout_s, self.process.kill)
        overdue.start()
        try:
            self.conn.send(("read", pixels))
            status, payload = self.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            code = self.stop()
            if overdue.finished.is_set() and code < 0:
                raise OcrError(f"the OCR reader took longer than {timeout_s:.0f} s; stopped it") from None
            if code == 0:  # it exited on its own: idle, just as we asked
                raise _IdleExitError from None
            raise OcrError(f"the OCR reader died (exit {code}); that frame's text is lost") from None
        finally:
            overdue.cancel()
            overdue.join()
        if status != "ok":
            raise OcrError(f"OCR failed: {payload}")
        lines: list[RawLine] = payload
        return lines

    def stop(self) -> int:
        """Closes our end (the child exits on EOF); kills it if it does not go at once."""
        self.conn.close()
        try:
            return self.process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    @staticmethod
    def stop_maybe(slot: list[_Child | None]) -> None:
        child, slot[0] = slot[0], None
        if child is not None:
            child.stop()


def _axis_box(points: Any, origin: tuple[int, int]) -> Box:
    xs, ys = np.asarray(points)[:, 0], np.asarray(points)[:, 1]
    ox, oy = origin
    return int(xs.min()) + ox, int(ys.min()) + oy, int(np.ceil(xs.max())) + ox, int(np.ceil(ys.max())) + oy


def text_of(lines: list[Line]) -> str:
    return "\n".join(line.text for line in lines)
