"""`screenrecall ingest` through the real CLI: stored exactly once, bad files skipped, the lock, kill -9."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from screenrecall.config import load
from screenrecall.store.chroma import Store
from screenrecall.store.lock import ProcessLock
from tests.conftest import REPO, run_cli
from tests.support.daemon import stored_records, toml_of
from tests.support.images import copy_in, png_bytes, write_bad_files, write_distinct_pngs


@pytest.fixture
def config_path(tmp_path: Path, tiny_bundle: Path) -> Path:
    path = tmp_path / "ingest.toml"
    settings: dict[str, dict[str, Any]] = {
        "model": {"path": str(tiny_bundle), "cache": False},
        "store": {"flush_interval_s": 0.1, "batch_size": 8},
        "ocr": {"enabled": False},  # these tests are about the image path; OCR has its own
    }
    path.write_text(toml_of(settings))
    return path


@pytest.fixture
def store_dir(xdg_home: Path) -> Path:
    return xdg_home / "data" / "screenrecall" / "store"


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    folder = tmp_path / "pictures"
    folder.mkdir()
    return folder


def ingest(config_path: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("--config", str(config_path), "ingest", *(str(p) for p in paths), timeout=120)


def stored_paths(store_dir: Path) -> list[str]:
    return sorted(record.path for record in stored_records(store_dir))


def resolved(files: list[Path]) -> list[str]:
    return sorted(str(path.resolve()) for path in files)


@pytest.mark.slow
def test_stores_good_files_once_reports_bad_ones_and_a_second_run_adds_nothing(
    config_path: Path, store_dir: Path, pictures: Path
) -> None:
    good = write_distinct_pngs(pictures, 5)
    nested = pictures / "2024" / "june"
    nested.mkdir(parents=True)
    good.append(copy_in(nested, "deep.png", png_bytes(50)))
    write_bad_files(pictures)  # four unusable images, a .txt and a symlink loop

    first = ingest(config_path, pictures)
    assert first.returncode == 0, first.stderr
    assert "6 stored, 0 already stored, 4 skipped (not usable)" in first.stdout
    assert stored_paths(store_dir) == resolved(good)

    second = ingest(config_path, pictures)
    assert second.returncode == 0, second.stderr
    assert "0 stored, 6 already stored" in second.stdout
    assert stored_paths(store_dir) == resolved(good)


def test_files_and_folders_given_together_are_each_taken_once(
    config_path: Path, store_dir: Path, pictures: Path
) -> None:
    good = write_distinct_pngs(pictures, 3)
    done = ingest(config_path, pictures, good[0], pictures / ".." / pictures.name)
    assert done.returncode == 0, done.stderr
    assert "3 stored, 0 already stored, 0 skipped" in done.stdout
    assert stored_paths(store_dir) == resolved(good)


@pytest.mark.slow
def test_a_changed_file_is_stored_again_as_a_new_version(config_path: Path, store_dir: Path, pictures: Path) -> None:
    (only,) = write_distinct_pngs(pictures, 1)
    assert ingest(config_path, pictures).returncode == 0
    only.write_bytes(png_bytes(123))
    done = ingest(config_path, pictures)
    assert "1 stored, 0 already stored" in done.stdout
    assert stored_paths(store_dir) == [str(only.resolve())] * 2  # same path, two contents


def test_refuses_while_a_daemon_holds_the_lock(
    config_path: Path, store_dir: Path, pictures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_distinct_pngs(pictures, 2)
    lock = load(config_path).lock_path()
    lock.parent.mkdir(parents=True, exist_ok=True)
    with ProcessLock(lock):  # what a running daemon holds
        done = ingest(config_path, pictures)
    assert done.returncode == 1
    assert "the daemon is running and owns the store" in done.stderr
    assert "Traceback" not in done.stderr
    assert not store_dir.exists()


def test_a_missing_path_is_a_clear_error(config_path: Path, tmp_path: Path) -> None:
    done = ingest(config_path, tmp_path / "nowhere")
    assert done.returncode == 1
    assert "no such file or folder" in done.stderr and "Traceback" not in done.stderr


# -- crash safety -----------------------------------------------------------------------------

# kill -9 points: a fixed time after the start (model loading, store opening), then whenever the
# progress bar has reached this many files, so the kills land mid-ingest however fast the machine is.
EARLY_KILL_S = 1.0
KILL_AT_PROGRESS = (8, 25, 45)
FILES = 60


def _start_ingest(config_path: Path, folder: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "daemon")}
    return subprocess.Popen(
        [sys.executable, "-m", "screenrecall", "--config", str(config_path), "ingest", str(folder)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _progress(chunk: bytes) -> int:
    """The last `n/total` the tqdm bar printed, or -1."""
    found = re.findall(rb"\| *(\d+)/\d+ \[", chunk)
    return int(found[-1]) if found else -1


def _kill_when(process: subprocess.Popen[bytes], at_progress: int, timeout: float = 60.0) -> int:
    """SIGKILLs the child once its bar shows at_progress files done; returns the last progress seen."""
    assert process.stderr is not None
    fd = process.stderr.fileno()
    seen, tail = -1, b""
    deadline = time.monotonic() + timeout
    while seen < at_progress:
        if time.monotonic() > deadline or process.poll() is not None:
            break
        if select.select([fd], [], [], 0.05)[0]:
            tail = (tail + os.read(fd, 65536))[-4096:]
            seen = max(seen, _progress(tail))
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    process.stderr.close()
    return seen


def _count(store_dir: Path) -> int:
    if not store_dir.exists():
        return 0
    with Store.open(store_dir) as store:
        return store.count()


@pytest.mark.slow
def test_kill_9_at_any_point_then_rerun_stores_every_file_exactly_once(
    config_path: Path, store_dir: Path, pictures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Bigger pictures make each file take a while to read, so the bar moves in small steps.
    good = [copy_in(pictures, f"shot-{i:03d}.png", png_bytes(i, (1280, 720))) for i in range(FILES)]
    write_bad_files(pictures)
    counts = []

    early = _start_ingest(config_path, pictures)
    time.sleep(EARLY_KILL_S)
    early.kill()
    early.wait(10)
    assert early.stderr is not None
    early.stderr.close()
    counts.append((f"after {EARLY_KILL_S:.1f} s", _count(store_dir)))

    for at_progress in KILL_AT_PROGRESS:
        seen = _kill_when(_start_ingest(config_path, pictures), at_progress)
        counts.append((f"at progress {seen}", _count(store_dir)))

    with capsys.disabled():
        print("\nrecords in the store at each kill -9:", ", ".join(f"{when}: {n}" for when, n in counts))
    killed_mid_ingest = [n for _, n in counts if 0 < n < FILES]
    assert killed_mid_ingest, f"no kill landed mid-ingest; tune the kill points: {counts}"

    final = ingest(config_path, pictures)
    assert final.returncode == 0, final.stderr
    paths = stored_paths(store_dir)
    duplicates = [path for path, n in Counter(paths).items() if n > 1]
    assert not duplicates, duplicates
    assert paths == resolved(good)
    summary = re.search(r"(\d+) stored, (\d+) already stored", final.stdout)
    assert summary is not None, final.stdout
    assert int(summary[1]) + int(summary[2]) == FILES
