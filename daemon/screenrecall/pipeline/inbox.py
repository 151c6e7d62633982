"""The bounded queue in front of the encoder, with one overflow policy per source.

Live screen frames: drop the oldest when full. A frame that waited is already stale, a newer one
shows the screen as it is now, and the memory they hold (~8 MB each at 1080p) must stay bounded.
Folder files: never dropped. The inbox holds paths, not pixels, so a long backlog costs little;
`put_file` blocks when it is full, and the folder watcher (which owns the retrying) waits. Past the
inbox a file holds a thumbnail until OCR has read it (seconds, where encoding takes milliseconds), so
only `max_files_in_flight` files are let out until the writer reports them done (`file_done`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from screenrecall.pipeline.messages import FileJob, Frame

Item = Frame | FileJob


@dataclass(frozen=True, slots=True)
class InboxStats:
    frames_waiting: int
    files_waiting: int
    frames_dropped: int


class EncodeInbox:
    """Many producers, one consumer. Alternates between sources so neither starves the other."""

    def __init__(self, max_frames: int, max_files: int, max_files_in_flight: int | None = None) -> None:
        if max_frames < 1 or max_files < 1 or (max_files_in_flight is not None and max_files_in_flight < 1):
            raise ValueError("inbox sizes must be at least 1")
        self._max_in_flight = max_files_in_flight
        self._in_flight = 0
        self._frames: deque[Frame] = deque()
        self._files: deque[FileJob] = deque()
        self._max_frames = max_frames
        self._max_files = max_files
        self._dropped = 0
        self._closed = False
        self._prefer_files = False
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._file_room = threading.Condition(self._lock)

    def put_frame(self, frame: Frame) -> bool:
        """Queues a live frame; returns False when that pushed out the oldest waiting one."""
        with self._lock:
            if self._closed:
                return False
            pushed_out = len(self._frames) >= self._max_frames
            if pushed_out:
                self._frames.popleft()
                self._dropped += 1
            self._frames.append(frame)
            self._readable.notify()
            return not pushed_out

    def put_file(self, job: FileJob, timeout: float | None = None) -> bool:
        """Queues a file, waiting for room; False when the wait timed out or the inbox closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while len(self._files) >= self._max_files and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._file_room.wait(remaining)
            if self._closed:
                return False
            self._files.append(job)
            self._readable.notify()
            return True

    def get(self, timeout: float) -> Item | None:
        """The next item, or None after timeout (or at once when closed and empty)."""
        with self._lock:
            if not self._frames and not self._has_file_ready() and not self._closed:
                self._readable.wait(timeout)
            return self._take()

    def _has_file_ready(self) -> bool:
        return bool(self._files) and (self._max_in_flight is None or self._in_flight < self._max_in_flight)

    def file_done(self) -> None:
        """A file let out earlier has left the pipeline (stored, or given up): another may go."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            self._readable.notify()

    def _take(self) -> Item | None:
        may_take_file = self._max_in_flight is None or self._in_flight < self._max_in_flight
        take_file = bool(self._files) and may_take_file and (self._prefer_files or not self._frames)
        if take_file:
            self._prefer_files = False
            self._in_flight += 1
            self._file_room.notify()
            return self._files.popleft()
        if self._frames:
            self._prefer_files = True
            return self._frames.popleft()
        return None

    def close(self) -> None:
        """No more input: producers are refused, the consumer drains what is left, then gets None."""
        with self._lock:
            self._closed = True
            self._readable.notify_all()
            self._file_room.notify_all()

    def stats(self) -> InboxStats:
        with self._lock:
            return InboxStats(len(self._frames), len(self._files), self._dropped)
