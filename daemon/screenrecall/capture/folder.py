"""Watches folders for image files and hands each complete, not yet known one on once, as a FileJob."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import stat
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from watchdog import events
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from screenrecall.pipeline.messages import FileJob

logger = logging.getLogger(__name__)

# watchdog's recursive watch races with `mkdir -p`: a sub-folder made while its parent is being
# registered is registered twice, and watchdog warns that it overwrote its own (identical) callback.
# Harmless, but it would reach the journal on every such folder.
_DOUBLE_REGISTRATION = r"Callback with id '\d+' already exists for watch"
warnings.filterwarnings("ignore", message=_DOUBLE_REGISTRATION, category=RuntimeWarning)

# Only these reach us; the filter also narrows the inotify mask, so our own reads of the images
# (IN_OPEN, IN_CLOSE_NOWRITE) never wake the watcher.
_EVENTS: list[type[events.FileSystemEvent]] = [
    *(events.FileCreatedEvent, events.FileModifiedEvent, events.FileAttribEvent),
    *(events.FileClosedEvent, events.FileMovedEvent),
]
# Only inotify reports close-write; elsewhere size/mtime settling alone decides.
_HAS_CLOSE_EVENTS = sys.platform.startswith("linux")
# Written to but never closed (lost event, writer keeps it open): handed on after this long unchanged.
_CLOSE_GRACE_S = 60.0
_IDLE_WAIT_S = 1.0
_PUT_TIMEOUT_S = 0.1  # how long a blocked hand-over may hide a stop request


@dataclass(slots=True)
class _Pending:  # a file seen changing, waiting to settle; the worker thread's alone
    size: int
    mtime_ns: int
    changed_at: float  # time.monotonic() of the last change seen
    writing: bool  # written to, and no close-write seen since


class FileOutbox(Protocol):  # where complete files go: EncodeInbox; a queue.Queue is adapted
    def put_file(self, job: FileJob, timeout: float | None = None) -> bool: ...


@dataclass(frozen=True, slots=True)
class _QueueOutbox:
    target: queue.Queue[FileJob]

    def put_file(self, job: FileJob, timeout: float | None = None) -> bool:
        with contextlib.suppress(queue.Full):
            self.target.put(job, timeout=timeout)
            return True
        return False


@dataclass(eq=False)  # eq=False keeps identity hashing: watchdog keeps handlers in a set
class _Handler(events.FileSystemEventHandler):  # on watchdog's thread: notes the path, never blocks
    note: Callable[[str, bool | None], None]

    def dispatch(self, event: events.FileSystemEvent) -> None:
        if event.is_directory:
            return  # a new or moved-in sub-folder's files arrive as their own (synthetic) events
        moved = isinstance(event, events.FileMovedEvent)
        path = os.fsdecode(event.dest_path if moved else event.src_path)
        if moved or isinstance(event, events.FileClosedEvent):
            self.note(path, False)  # closed by its writer, or renamed in whole (rename is atomic)
        elif isinstance(event, events.FileModifiedEvent) and _HAS_CLOSE_EVENTS:
            self.note(path, True)
        else:
            self.note(path, None)


class FolderWatcher:
    """Hands complete image files from the folders to outbox, each file key at most once per run.

    One worker thread owns the pending files, the emitted keys and every put; watchdog's callback
    only notes paths. start() watches first and then walks, so no file made during the walk is missed.
    """

    def __init__(
        self,
        folders: Sequence[Path],
        *,
        recursive: bool,
        extensions: Sequence[str],
        settle_s: float,
        outbox: queue.Queue[FileJob] | FileOutbox,
        stop: threading.Event,
        is_known: Callable[[str], bool],
    ) -> None:
        self._folders = [Path(folder).expanduser() for folder in folders]
        self._recursive = recursive
        self._extensions = frozenset("." + ext.lower().lstrip(".") for ext in extensions)
        self._settle_s = settle_s
        self._tick_s = min(max(settle_s / 4, 0.02), 0.25)  # how often pending files are re-checked
        self._outbox = _QueueOutbox(outbox) if isinstance(outbox, queue.Queue) else outbox
        self._stop = stop
        self._is_known = is_known
        self._roots: list[str] = []
        self._lock = threading.Lock()
        self._inbox: dict[str, bool | None] = {}  # path -> writing, filled by watchdog's thread
        self._wake = threading.Event()
        self._walk_requested = threading.Event()
        self._pending: dict[str, _Pending] = {}  # real path -> state; worker only
        # Keys handed on in this run: ~100 bytes per file version ingested (a million screenshots,
        # ~100 MB), so a plain set is fine here; is_known() covers earlier runs.
        self._emitted: set[str] = set()
        self._observer: BaseObserver | None = None
        self._thread = threading.Thread(target=self._run, name="folder-watcher")
        self.error: BaseException | None = None

    def start(self) -> None:
        """Starts watching the folders that exist (a missing one is logged), then the worker."""
        self._roots = self._existing_roots()
        # Constructing watchdog's inotify Observer already starts a thread: build it only here.
        observer = Observer()
        observer.start()
        self._observer = observer
        handler = _Handler(self._note)
        for root in list(self._roots):
            try:
                observer.schedule(handler, root, recursive=self._recursive, event_filter=_EVENTS)
            except OSError as exc:
                logger.warning("cannot watch %s (%s); not watching it", root, exc.strerror or exc)
                self._roots.remove(root)
        logger.info("watching %d folder(s) for images: %s", len(self._roots), ", ".join(self._roots))
        self.catch_up()
        self._thread.start()

    def catch_up(self) -> None:
        """Asks the worker to walk the folders for unknown files (start() does; so may an overflow)."""
        self._walk_requested.set()
        self._wake.set()

    def stop(self) -> None:
        """Sets the shared stop event and wakes the worker; stops watchdog's threads."""
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()

    def join(self, timeout: float | None = None) -> None:
        began = time.monotonic()
        if self._observer is not None:
            self._observer.join(timeout)
        if self._thread.is_alive():
            self._thread.join(None if timeout is None else max(0.0, began + timeout - time.monotonic()))

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _existing_roots(self) -> list[str]:
        for folder in self._folders:
            if not folder.is_dir():
                logger.warning("watch folder %s is missing or not a folder; not watching it", folder)
        # Overlapping folders are harmless: their duplicate events meet in the pending map.
        return list(dict.fromkeys(os.path.realpath(f) for f in self._folders if f.is_dir()))

    def _note(self, path: str, writing: bool | None) -> None:
        if os.path.splitext(path)[1].lower() not in self._extensions:
            return
        with self._lock:
            # Later events win: a close after a write clears "writing", a write after a close sets it.
            if writing is not None or path not in self._inbox:
                self._inbox[path] = writing
        self._wake.set()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._walk_requested.is_set():
                    self._walk_requested.clear()
                    self._walk()
                self._wake.wait(self._tick_s if self._pending else _IDLE_WAIT_S)
                self._wake.clear()  # before taking the inbox, so no note is left unseen
                self._take_inbox()
                self._settle()
        except Exception as exc:
            # Not the shared stop event: the thread ends and the app, seeing it dead, exits non-zero.
            logger.exception("folder watcher failed")
            self.error = exc

    def _take_inbox(self) -> None:
        with self._lock:
            taken, self._inbox = self._inbox, {}
        for path, writing in taken.items():
            real = self._accept(path)
            if real is not None:
                self._hold(real, writing)

    def _hold(self, real: str, writing: bool | None) -> None:
        """Adds a file to the pending map, or restarts its settle time when it is already there."""
        entry = self._pending.get(real)
        if entry is not None:
            entry.changed_at = time.monotonic()
            entry.writing = entry.writing if writing is None else writing
        elif (info := _regular_stat(real)) is not None:
            self._pending[real] = _Pending(info.st_size, info.st_mtime_ns, time.monotonic(), bool(writing))

    def _settle(self) -> None:
        now = time.monotonic()
        for path, entry in list(self._pending.items()):
            if self._stop.is_set():
                return
            info = _regular_stat(path)
            if info is None:  # deleted or renamed away: the new name has its own event
                del self._pending[path]
                continue
            if (info.st_size, info.st_mtime_ns) != (entry.size, entry.mtime_ns):
                entry.size, entry.mtime_ns, entry.changed_at = info.st_size, info.st_mtime_ns, now
                continue
            quiet_s = now - entry.changed_at
            if quiet_s < self._settle_s or (entry.writing and quiet_s < _CLOSE_GRACE_S):
                continue
            if entry.writing:
                # No path at INFO: the README promises file paths stay out of the log.
                logger.info("a file was written to and not closed for %.0f s; reading it", quiet_s)
                logger.debug("that file: %s", path)
            del self._pending[path]
            self._offer(FileJob(path, info.st_size, info.st_mtime_ns))

    def _walk(self) -> None:
        """Offers every unknown image in the folders; loops and bind mounts are walked once."""
        seen_dirs: set[tuple[int, int]] = set()
        offered = 0
        settle_ns = int(self._settle_s * 1e9)
        for root in self._roots:
            for dirpath, dirnames, filenames in os.walk(root, onerror=_walk_error):
                if self._stop.is_set():
                    return
                try:
                    info = os.stat(dirpath)
                except OSError:
                    dirnames.clear()
                    continue
                if (info.st_dev, info.st_ino) in seen_dirs or not self._recursive:
                    dirnames.clear()
                seen_dirs.add((info.st_dev, info.st_ino))
                for name in filenames:
                    offered += self._walk_file(os.path.join(dirpath, name), settle_ns)
        logger.info("folder catch-up: %d new file(s) handed on", offered)

    def _walk_file(self, path: str, settle_ns: int) -> int:
        if os.path.splitext(path)[1].lower() not in self._extensions:
            return 0
        real = self._accept(path)
        info = None if real is None or real in self._pending else _regular_stat(real)
        if real is None or info is None:
            return 0
        if time.time_ns() - info.st_mtime_ns < settle_ns:
            self._hold(real, None)  # changed moments ago, perhaps still being written: let it settle
            return 0
        return int(self._offer(FileJob(real, info.st_size, info.st_mtime_ns)))

    def _accept(self, path: str) -> str | None:
        """The real path when it is an image inside a watched root (symlinks resolved), else None."""
        real = os.path.realpath(path)
        if os.path.splitext(real)[1].lower() not in self._extensions:
            return None
        if not any(_contains(root, real, recursive=self._recursive) for root in self._roots):
            logger.debug("%s leads outside the watched folders; ignored", path)
            return None
        return real

    def _offer(self, job: FileJob) -> bool:
        """Hands job on unless emitted or known; blocks while the outbox is full (never drops)."""
        key = job.key
        if key in self._emitted or self._is_known(key):
            return False
        while not self._stop.is_set():
            began = time.monotonic()
            if self._outbox.put_file(job, _PUT_TIMEOUT_S):
                self._emitted.add(key)
                logger.debug("new image %s", job.path)
                return True
            # A closed inbox refuses at once: wait out the timeout rather than spin until stop.
            self._stop.wait(max(0.0, began + _PUT_TIMEOUT_S - time.monotonic()))
        return False


def _contains(root: str, path: str, *, recursive: bool) -> bool:
    return path.startswith(root.rstrip(os.sep) + os.sep) if recursive else os.path.dirname(path) == root


def _regular_stat(path: str) -> os.stat_result | None:
    try:
        info = os.stat(path)
    except OSError:  # gone, a symlink loop (ELOOP), or a parent we may not enter
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def _walk_error(exc: OSError) -> None:
    logger.warning("cannot list %s during catch-up: %s", exc.filename, exc.strerror)
