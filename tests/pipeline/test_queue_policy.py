"""The written overflow policy, end to end with the real tiny model: under a flood of live frames the
oldest are dropped and counted, memory stays bounded, and every file still gets stored."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from screenrecall.config import Config, ModelConfig, validate
from screenrecall.encode.runtime import ModelRuntime, load_runtime
from screenrecall.pipeline.assembly import Pipeline
from screenrecall.pipeline.messages import FileJob, Frame, Record
from tests.support.daemon import wait_until
from tests.support.images import write_distinct_pngs

MAX_FRAMES = 2
FRAMES = 300
FILES = 20
HEIGHT, WIDTH = 1080, 1920


@pytest.fixture(scope="module")
def runtime(tiny_bundle: Path) -> ModelRuntime:
    return load_runtime(ModelConfig(cache=False), tiny_bundle)


@pytest.fixture
def config(tiny_bundle: Path) -> Config:
    return validate(
        {
            "model": {"path": str(tiny_bundle), "cache": False},
            "capture": {"max_queue_frames": MAX_FRAMES},
            "store": {"flush_interval_s": 0.1},
            "ocr": {"enabled": False},  # the policy in front of the encoder; OCR keeps its own small inbox
        }
    )


class Stored:
    """Collects what the writer reports, from the writer's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.folder_paths: list[str] = []
        self.screen_new = 0

    def __call__(self, record: Record, is_new: bool) -> None:
        with self._lock:
            if record.source == "folder" and is_new:
                self.folder_paths.append(record.path)
            elif record.source == "screen" and is_new:
                self.screen_new += 1


@pytest.fixture
def pipeline(config: Config, runtime: ModelRuntime) -> Iterator[tuple[Pipeline, Stored]]:
    stored = Stored()
    built = Pipeline.build(config, on_stored=stored, runtime=runtime)
    built.start()
    try:
        yield built, stored
    finally:
        if built.embedder.is_alive() or built.writer.is_alive():
            built.stop()


def distinct_frame(index: int, at_ms: int) -> Frame:
    pixels = np.full((HEIGHT, WIDTH, 3), index % 256, dtype=np.uint8)
    pixels[:, (index * 7) % WIDTH] = 255 - index % 256  # a moving line: no two frames alike
    return Frame(pixels, at_ms, "screen", monitor=1)


def jobs_for(files: list[Path]) -> list[FileJob]:
    jobs = []
    for path in files:
        info = path.stat()
        jobs.append(FileJob(str(path.resolve()), info.st_size, info.st_mtime_ns))
    return jobs


def test_a_flood_of_live_frames_drops_the_oldest_keeps_memory_bounded_and_stores_every_file(
    pipeline: tuple[Pipeline, Stored], tmp_path: Path
) -> None:
    built, stored = pipeline
    folder = tmp_path / "pictures"
    folder.mkdir()
    jobs = jobs_for(write_distinct_pngs(folder, FILES))
    start_ms = int(time.time() * 1000)
    alive: list[weakref.ref[np.ndarray]] = []  # every full-size frame's pixels, to see which still live
    most_waiting = most_alive = 0

    for index in range(FRAMES):
        frame = distinct_frame(index, start_ms + index)
        alive.append(weakref.ref(frame.pixels))
        built.inbox.put_frame(frame)
        del frame
        if index % (FRAMES // FILES) == 0:
            assert built.inbox.put_file(jobs[index // (FRAMES // FILES)], timeout=10)  # never dropped
        most_waiting = max(most_waiting, built.inbox.stats().frames_waiting)
        most_alive = max(most_alive, sum(ref() is not None for ref in alive))

    wait_until(lambda: len(stored.folder_paths) == FILES, 30, "every file stored")
    built.stop()

    dropped = built.inbox.stats().frames_dropped
    print(f"\n{FRAMES} frames: {dropped} dropped, most waiting {most_waiting}, most alive at once {most_alive}")
    assert dropped > 0
    assert most_waiting <= MAX_FRAMES
    # The inbox's frames, the one the encoder is reading, one in passing, and those on their way to
    # the readable-frame archive (frames.max_live_full at most): the flood never piles up.
    assert most_alive <= MAX_FRAMES + 2 + built.config.frames.max_live_full
    assert sum(ref() is not None for ref in alive) == 0  # after the drain nothing keeps a full frame
    assert sorted(stored.folder_paths) == sorted(job.path for job in jobs)
    # Every frame not dropped was encoded: the policy loses frames only by dropping and counting them.
    assert built.embedder.stats.encoded == FRAMES - dropped + FILES
    assert built.embedder.stats.encode_errors == 0 and built.writer.stats.write_failures == 0
    assert stored.screen_new >= 1
