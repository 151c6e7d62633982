"""Every benchmark still runs: each one's --smoke run (one frame or so, on the tiny CLIP), so none rots unnoticed.

A benchmark is any module in bench/ with a main(); its helper modules have none. A new benchmark is
picked up here by itself, once it declares SMOKE and is described in bench/README.md.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
from pathlib import Path

import pytest

from bench.harness.model import ModelCache
from tests.support.wayland import missing_programs

BENCH = Path(__file__).resolve().parents[2] / "bench"
ON_XVFB = {"idle", "latency", "live_recall", "memory", "soak"}  # they start their own 1080p Xvfb and the daemon on it
ON_WAYLAND = {"wayland"}  # starts the tests' headless Wayland desktop (tests/support/wayland.py): root, Sway, ...


def benchmarks() -> list[str]:
    return sorted(p.stem for p in BENCH.glob("*.py") if re.search(r"^def main\(", p.read_text(), re.MULTILINE))


def cases() -> list[object]:
    marks = {name: [pytest.mark.display] for name in ON_XVFB} | {name: [pytest.mark.wayland] for name in ON_WAYLAND}
    return [pytest.param(name, marks=marks.get(name, [])) for name in benchmarks()]


@pytest.fixture(scope="session")
def bench_cache(tiny_checkpoint: Path, tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A --cache dir whose smoke model is the session's tiny checkpoint and bundle (INT8 made on first use)."""
    cache = tmp_path_factory.mktemp("bench-cache")
    model = ModelCache(cache / "tiny", tiny=True)
    shutil.copytree(tiny_checkpoint, model.checkpoint_dir)
    shutil.copytree(tiny_bundle, model.fp16_dir)
    return cache


def test_finds_every_benchmark() -> None:
    assert {"encoder", "pipeline", "idle", "latency", "query", "recall"} <= set(benchmarks())


@pytest.mark.parametrize("name", benchmarks())
def test_benchmark_declares_a_smoke_run_its_options_accept(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    args = module.parse_args(["--smoke"])
    assert args.smoke
    assert all(getattr(args, option) == value for option, value in module.SMOKE.items())


@pytest.mark.parametrize("name", benchmarks())
def test_benchmark_is_described_in_the_bench_readme(name: str) -> None:
    assert f"python -m bench.{name}" in (BENCH / "README.md").read_text()


def test_no_benchmark_edits_sys_path() -> None:
    editing = [p.name for p in BENCH.rglob("*.py") if "sys.path" in p.read_text()]
    assert editing == []


@pytest.mark.slow
@pytest.mark.parametrize("name", cases())
def test_benchmark_smoke_run_ends_with_its_json_result(
    name: str, bench_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if name in ON_WAYLAND:
        missing = missing_programs()  # as the Wayland specs do: a missing program fails, never skips
        assert not missing, f"the Wayland test world needs {missing} (scripts/test installs them)"
    module = importlib.import_module(f"bench.{name}")
    assert module.main(["--smoke", "--cache", str(bench_cache)]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["bench"] == name
    assert result["smoke"] is True
