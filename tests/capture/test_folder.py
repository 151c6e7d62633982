"""The folder watcher on real folders with a real watchdog observer: complete files, once, never lost."""

from __future__ import annotations

import io
import logging
import os
import queue
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from screenrecall.capture.folder import FolderWatcher
from screenrecall.pipeline.inbox import EncodeInbox
from screenrecall.pipeline.messages import FileJob

SETTLE_S = 0.2
EXTENSIONS = ["png", "jpg", "jpeg", "webp"]


def _png(seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (seed % 256, 0, 0)).save(buffer, "PNG")
    return buffer.getvalue()


Start = Callable[..., tuple[FolderWatcher, "queue.Queue[FileJob]"]]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "watched"
    path.mkdir()
    return path


@pytest.fixture
def start(root: Path) -> Iterator[Start]:
    """Starts a watcher on root (by default) and always stops it."""
    started: list[FolderWatcher] = []

    def _start(
        folders: list[Path] | None = None,
        *,
        recursive: bool = True,
        settle_s: float = SETTLE_S,
        maxsize: int = 64,
        is_known: Callable[[str], bool] = lambda key: False,
    ) -> tuple[FolderWatcher, queue.Queue[FileJob]]:
        outbox: queue.Queue[FileJob] = queue.Queue(maxsize=maxsize)
        watcher = FolderWatcher(
            folders if folders is not None else [root],
            recursive=recursive,
            extensions=EXTENSIONS,
            settle_s=settle_s,
            outbox=outbox,
            stop=threading.Event(),
            is_known=is_known,
        )
        started.append(watcher)
        watcher.start()
        return watcher, outbox

    yield _start
    for watcher in started:
        watcher.stop()
    for watcher in started:
        watcher.join(2.0)
        assert watcher.error is None


def _next(outbox: queue.Queue[FileJob], timeout: float = 3.0) -> FileJob:
    return outbox.get(timeout=timeout)


def _nothing_more(outbox: queue.Queue[FileJob], wait_s: float = SETTLE_S * 3) -> None:
    time.sleep(wait_s)
    assert outbox.empty(), f"unexpected: {outbox.get_nowait()}"


def _paths_until(outbox: queue.Queue[FileJob], last: Path) -> list[str]:
    """Everything emitted up to and including `last` (a barrier file written after the others)."""
    paths: list[str] = []
    while not paths or paths[-1] != str(last):
        paths.append(_next(outbox).path)
    return paths


def test_emits_a_copied_in_image_once(start: Start, root: Path, tmp_path: Path) -> None:
    _, outbox = start()
    source = tmp_path / "shot.png"
    source.write_bytes(_png())
    shutil.copy(source, root / "shot.png")
    job = _next(outbox)
    info = (root / "shot.png").stat()
    assert job == FileJob(str(root / "shot.png"), info.st_size, info.st_mtime_ns)
    assert job.key == f"{root / 'shot.png'}|{info.st_size}|{info.st_mtime_ns}"
    _nothing_more(outbox)


def test_emits_a_slowly_written_file_only_when_complete(start: Start, root: Path) -> None:
    _, outbox = start()
    data = _png() * 4
    quarter = len(data) // 4
    with (root / "slow.png").open("wb") as handle:
        for part in range(4):
            handle.write(data[part * quarter : (part + 1) * quarter])
            handle.flush()
            os.fsync(handle.fileno())
            time.sleep(SETTLE_S * 1.75)  # each pause is longer than the settle time: still held back
            assert outbox.empty(), "emitted while the writer still had the file open"
        handle.write(data[4 * quarter :])
    job = _next(outbox)
    assert job.size == len(data)
    _nothing_more(outbox)


def test_waits_for_a_writer_that_closes_between_chunks(start: Start, root: Path) -> None:
    _, outbox = start(settle_s=0.5)
    data = _png() * 4
    for part in range(8):
        with (root / "chunks.png").open("ab") as handle:
            handle.write(data[part * len(data) // 8 : (part + 1) * len(data) // 8])
        time.sleep(0.05)
    job = _next(outbox)
    assert job.size == len(data)
    _nothing_more(outbox, 0.8)


def test_takes_a_file_renamed_into_the_folder(start: Start, root: Path, tmp_path: Path) -> None:
    _, outbox = start()
    (root / "shot.png.part").write_bytes(_png())  # a download in progress: not an image name yet
    (root / "shot.png.part").rename(root / "shot.png")
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(_png(1))
    outside.rename(root / "moved-in.png")
    assert sorted(_next(outbox).path for _ in range(2)) == [str(root / "moved-in.png"), str(root / "shot.png")]
    _nothing_more(outbox)


@pytest.mark.parametrize("recursive", [True, False])
def test_sub_folders_are_watched_only_when_recursive(start: Start, root: Path, recursive: bool) -> None:
    (root / "old").mkdir()
    (root / "old" / "before.png").write_bytes(_png())
    _, outbox = start(recursive=recursive)
    (root / "new" / "deeper").mkdir(parents=True)
    (root / "new" / "deeper" / "nested.png").write_bytes(_png(1))
    time.sleep(0.1)
    (root / "barrier.png").write_bytes(_png(2))
    emitted = set(_paths_until(outbox, root / "barrier.png"))
    if recursive:
        while len(emitted) < 3:
            emitted.add(_next(outbox).path)
        assert emitted == {
            str(root / "old" / "before.png"),
            str(root / "new/deeper/nested.png"),
            str(root / "barrier.png"),
        }
    else:
        assert emitted == {str(root / "barrier.png")}
    _nothing_more(outbox)


def test_keeps_watching_while_nested_folders_appear_quickly(start: Start, root: Path) -> None:
    # `mkdir -p` races watchdog's recursive registration, which then warns from its own thread; with
    # warnings as errors (as here) that warning killed the emitter and every later file was missed.
    _, outbox = start()
    rng = random.Random(7)
    for n in range(300):
        (root / f"album-{n}").mkdir()
        time.sleep(rng.random() * 0.002)
        (root / f"album-{n}" / "day").mkdir()
    (root / "album-299" / "day" / "late.png").write_bytes(_png(1))
    time.sleep(0.1)
    (root / "barrier.png").write_bytes(_png(2))
    emitted = set(_paths_until(outbox, root / "barrier.png"))
    while len(emitted) < 2:
        emitted.add(_next(outbox).path)
    assert emitted == {str(root / "album-299/day/late.png"), str(root / "barrier.png")}


def test_takes_image_extensions_only_in_any_case(start: Start, root: Path) -> None:
    _, outbox = start()
    (root / "notes.txt").write_bytes(_png())
    (root / "noext").write_bytes(_png())
    (root / "SHOT.JPG").write_bytes(_png(1))
    time.sleep(0.1)
    (root / "barrier.png").write_bytes(_png(2))
    assert set(_paths_until(outbox, root / "barrier.png")) == {str(root / "SHOT.JPG"), str(root / "barrier.png")}
    _nothing_more(outbox)


def test_ignores_symlinks_that_lead_outside_the_folder(start: Start, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(_png())
    (root / "old-link.png").symlink_to(outside / "secret.png")
    (root / "old-dir-link").symlink_to(outside, target_is_directory=True)
    _, outbox = start()
    (root / "new-link.png").symlink_to(outside / "secret.png")
    (outside / "later.png").write_bytes(_png(1))  # inside the linked-to dir, not the watched one
    (root / "real.png").write_bytes(_png(2))
    (root / "inside-link.png").symlink_to(root / "real.png")  # same file: emitted once, by its real path
    time.sleep(0.1)
    (root / "barrier.png").write_bytes(_png(3))
    emitted = _paths_until(outbox, root / "barrier.png")
    assert sorted(emitted) == [str(root / "barrier.png"), str(root / "real.png")]
    _nothing_more(outbox)


def test_symlink_loops_do_not_hang_it(start: Start, root: Path) -> None:
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)
    (root / "a.png").symlink_to(root / "b.png")
    (root / "b.png").symlink_to(root / "a.png")
    (root / "sub" / "real.png").write_bytes(_png())
    watcher, outbox = start()
    assert _next(outbox).path == str(root / "sub" / "real.png")
    (root / "sub" / "again").symlink_to(root / "sub", target_is_directory=True)
    (root / "c.png").symlink_to(root / "c.png")
    (root / "barrier.png").write_bytes(_png(1))
    assert _paths_until(outbox, root / "barrier.png") == [str(root / "barrier.png")]
    watcher.catch_up()  # a second walk over the loops finishes too, and finds nothing new
    _nothing_more(outbox)
    assert watcher.is_alive()


def test_catch_up_emits_unknown_files_and_skips_known_ones(start: Start, root: Path) -> None:
    for name in ("known.png", "new.png", "sub/new2.webp"):
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_bytes(_png())
    info = (root / "known.png").stat()
    known = {f"{root / 'known.png'}|{info.st_size}|{info.st_mtime_ns}"}
    asked: list[str] = []

    def is_known(key: str) -> bool:
        asked.append(key)
        return key in known

    watcher, outbox = start(is_known=is_known)
    emitted = {_next(outbox).path for _ in range(2)}
    assert emitted == {str(root / "new.png"), str(root / "sub" / "new2.webp")}
    _nothing_more(outbox)
    assert known <= set(asked)
    # Once the store forgets it (say it was deleted there), the next catch-up offers it again.
    known.clear()
    watcher.catch_up()
    assert _next(outbox).path == str(root / "known.png")
    watcher.catch_up()  # what this run already emitted is not emitted twice
    _nothing_more(outbox)


def test_a_full_outbox_blocks_without_losing_files(start: Start, root: Path) -> None:
    names = [f"shot-{n}.png" for n in range(8)]
    for name in names[:4]:
        (root / name).write_bytes(_png())
    _, outbox = start(maxsize=1)
    for name in names[4:]:
        (root / name).write_bytes(_png())
    received = []
    for _ in names:
        time.sleep(0.1)  # a consumer slower than the files arrive
        received.append(_next(outbox).path)
    assert sorted(received) == sorted(str(root / name) for name in names)
    _nothing_more(outbox)


def test_stops_promptly_while_blocked_on_a_full_outbox(start: Start, root: Path) -> None:
    for n in range(3):
        (root / f"shot-{n}.png").write_bytes(_png())
    watcher, outbox = start(maxsize=1)
    deadline = time.monotonic() + 3
    while not outbox.full() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert outbox.full()
    time.sleep(0.2)  # the worker is now blocked handing on the second file
    began = time.monotonic()
    watcher.stop()
    watcher.join(1.0)
    assert not watcher.is_alive()
    assert time.monotonic() - began < 1.0


def test_reports_a_missing_folder_and_watches_the_others(
    start: Start, root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="screenrecall.capture.folder")
    _, outbox = start([tmp_path / "missing", root])
    assert "missing" in caplog.text and str(tmp_path / "missing") in caplog.text
    assert not (tmp_path / "missing").exists()  # reported, not created
    (root / "shot.png").write_bytes(_png())
    assert _next(outbox).path == str(root / "shot.png")


def test_overlapping_folders_emit_each_file_once(start: Start, root: Path) -> None:
    (root / "sub").mkdir()
    _, outbox = start([root / "sub", root, root])
    (root / "sub" / "shot.png").write_bytes(_png())
    assert _next(outbox).path == str(root / "sub" / "shot.png")
    _nothing_more(outbox)


def test_feeds_the_encode_inbox_and_idles_once_it_is_closed(root: Path) -> None:
    for n in range(3):
        (root / f"shot-{n}.png").write_bytes(_png())
    inbox = EncodeInbox(max_frames=1, max_files=1)
    stop = threading.Event()
    watcher = FolderWatcher(
        [root],
        recursive=True,
        extensions=EXTENSIONS,
        settle_s=SETTLE_S,
        outbox=inbox,
        stop=stop,
        is_known=lambda key: False,
    )
    watcher.start()
    try:
        first = inbox.get(timeout=3.0)
        assert isinstance(first, FileJob) and first.path.startswith(str(root))
        inbox.close()  # shutting down: put_file now refuses at once
        time.sleep(0.2)
        cpu_before = time.process_time()
        time.sleep(0.5)
        assert time.process_time() - cpu_before < 0.15, "the watcher spins on a closed inbox"
    finally:
        watcher.stop()
        watcher.join(1.0)
    assert not watcher.is_alive() and watcher.error is None
