"""Resident memory goes back to the system: the heap's free pages, and model files' pages once compiled.

Measured in fresh interpreters, so pytest's own allocations do not blur the figures.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from screenrecall.config import ModelConfig
from screenrecall.encode.runtime import load_runtime, release_compile_memory
from screenrecall.system import resident

REPO = Path(__file__).resolve().parents[2]
_RSS = """
def rss_mb(kind="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(kind + ":"):
            return int(line.split()[1]) / 1024
"""


def _run(code: str) -> list[float]:
    script = _RSS + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(REPO / "daemon")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [float(word) for word in done.stdout.split()]


def test_trimming_gives_freed_heap_back() -> None:
    # 200 MB in 32 KB blocks (below glibc's mmap threshold: they live on the heap), all freed.
    before, freed, trimmed = _run(
        """
        from screenrecall.system import resident
        base = rss_mb()
        blocks = [bytearray(32 * 1024) for _ in range(6400)]
        blocks.reverse()  # freed from the top of the heap last: glibc cannot shrink it by itself
        for block in blocks[:-1]:
            block[0] = 1
        del blocks[:-1]
        freed = rss_mb()
        assert resident.trim_heap()
        print(base, freed, rss_mb())
        """
    )
    assert freed - before > 150, "the blocks were not resident after freeing: the test measures nothing"
    assert trimmed - before < 50


def test_arenas_can_be_capped_before_threads_start() -> None:
    assert _run("from screenrecall.system import resident\nprint(int(resident.limit_malloc_arenas()))") == [1.0]


def test_read_only_file_pages_are_dropped_and_read_again_when_touched(tmp_path: Path) -> None:
    data = tmp_path / "weights.bin"
    data.write_bytes(np.arange(64 * 1024 * 1024 // 8, dtype=np.int64).tobytes())
    mapped, dropped, after, checksum_ok = _run(
        f"""
        import mmap, pathlib
        import numpy as np
        from screenrecall.system import resident
        handle = open({str(data)!r}, "rb")
        view = mmap.mmap(handle.fileno(), 0, prot=mmap.PROT_READ)
        values = np.frombuffer(view, dtype=np.int64)
        total = int(values.sum())
        mapped = rss_mb("RssFile")
        advised = resident.drop_file_pages([pathlib.Path({str(tmp_path)!r})])
        after = rss_mb("RssFile")
        print(mapped, advised / 2**20, after, int(int(values.sum()) == total))
        """
    )
    assert dropped == 64
    assert mapped - after > 48
    assert checksum_ok == 1  # the pages came back from the file, unchanged


def test_writable_mappings_are_never_dropped(tmp_path: Path) -> None:
    data = tmp_path / "scratch.bin"
    data.write_bytes(bytes(4 * 1024 * 1024))
    dropped, kept = _run(
        f"""
        import mmap, pathlib
        from screenrecall.system import resident
        handle = open({str(data)!r}, "r+b")
        view = mmap.mmap(handle.fileno(), 0, flags=mmap.MAP_PRIVATE)
        view[0:4] = b"edit"  # a private change, only in memory: dropping the page would lose it
        advised = resident.drop_file_pages([pathlib.Path({str(tmp_path)!r})])
        print(advised, int(view[0:4] == b"edit"))
        """
    )
    assert (dropped, kept) == (0, 1)


def test_a_runtime_encodes_the_same_after_its_files_pages_are_dropped(tiny_bundle: Path) -> None:
    runtime = load_runtime(ModelConfig(cache=False), tiny_bundle)  # drops once, as the daemon does
    image = np.random.default_rng(3).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    first = runtime.image_encoder(lambda _t, _e: None, lambda _t, _e: None).encode_batch([image])[0]
    text = runtime.text_encoder.encode("a spreadsheet")
    release_compile_memory(runtime.core, runtime.bundle)  # and again, with both models in use
    second = runtime.image_encoder(lambda _t, _e: None, lambda _t, _e: None).encode_batch([image])[0]
    np.testing.assert_allclose(np.asarray(first), np.asarray(second), atol=1e-6)
    np.testing.assert_allclose(text, runtime.text_encoder.encode("a spreadsheet"), atol=1e-6)


def test_periodic_trim_runs_at_most_once_per_period() -> None:
    trim = resident.PeriodicTrim(every_s=3600.0)
    assert not trim.maybe()
    assert trim.trims == 0
    due_now = resident.PeriodicTrim(every_s=0.0)
    due_now.maybe()
    assert due_now.trims == 1
