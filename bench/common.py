"""Shared benchmark helpers: a cached full-size random-weight CLIP and its bundles, screen-like frames, reporting."""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "bench" / ".cache"
TOKENIZER_DIR = REPO / "tests" / "data" / "clip-tokenizer"
FRAME_SIZE = (1920, 1080)  # width, height
CALIBRATION_FRAMES = 32
# Calibration frames use other seeds than the measured frames, so INT8 is not scored on what it saw.
CALIBRATION_SEED = 1_000_000

logger = logging.getLogger(__name__)

Pixels = NDArray[np.uint8]


# --- synthetic screens ----------------------------------------------------------------------------


def screen_frame(seed: int, size: tuple[int, int] = FRAME_SIZE) -> Pixels:
    """A screen-like RGB frame: gradient desktop, overlapping windows full of text-like lines, a taskbar."""
    rng = np.random.default_rng(seed)
    width, height = size
    frame = _gradient(rng, width, height)
    for _ in range(int(rng.integers(2, 6))):
        _window(frame, rng)
    bar = int(rng.integers(28, 48))
    frame[height - bar :] = rng.integers(20, 70, 3, dtype=np.uint8)
    return frame


def screen_frames(count: int, first_seed: int = 0, size: tuple[int, int] = FRAME_SIZE) -> list[Pixels]:
    return [screen_frame(first_seed + i, size) for i in range(count)]


def _gradient(rng: np.random.Generator, width: int, height: int) -> Pixels:
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, np.newaxis]
    column = (start + (end - start) * ramp).astype(np.uint8)  # height x 3
    return np.ascontiguousarray(np.broadcast_to(column[:, np.newaxis, :], (height, width, 3)))


def _window(frame: Pixels, rng: np.random.Generator) -> None:
    height, width = frame.shape[:2]
    w, h = int(rng.integers(width // 4, width * 3 // 4)), int(rng.integers(height // 4, height * 3 // 4))
    x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
    dark = bool(rng.random() < 0.3)  # terminals and dark themes
    paper = rng.integers(10, 50, 3) if dark else rng.integers(215, 256, 3)
    ink = rng.integers(170, 256, 3) if dark else rng.integers(0, 90, 3)
    view = frame[y : y + h, x : x + w]
    view[...] = paper.astype(np.uint8)
    view[:30] = rng.integers(40, 200, 3, dtype=np.uint8)  # title bar
    view[[0, -1], :] = view[:, [0, -1]] = 90  # border
    if rng.random() < 0.3:
        _picture(view[40:-10, 10:-10], rng)
    else:
        _text(view[40:-10, 10:-10], rng, ink.astype(np.uint8))


def _text(area: Pixels, rng: np.random.Generator, ink: NDArray[np.uint8]) -> None:
    """Lines of 'words': runs of glyph-like strokes with gaps, ragged right edges, some blank lines."""
    height, width = area.shape[:2]
    pitch, glyph = int(rng.integers(14, 24)), int(rng.integers(8, 12))
    strokes = (np.arange(width) % 3 != 0)[np.newaxis, :] & (np.arange(glyph) % 4 != 3)[:, np.newaxis]
    for top in range(0, height - glyph, pitch):
        if rng.random() < 0.15:
            continue
        mask = _word_runs(rng, width, int(rng.integers(width // 3, width + 1)))
        area[top : top + glyph][strokes & mask[np.newaxis, :]] = ink


def _word_runs(rng: np.random.Generator, width: int, line_len: int) -> NDArray[np.bool_]:
    words = rng.integers(12, 90, line_len // 20 + 1)
    gaps = rng.integers(6, 14, words.size)
    runs = np.repeat(np.tile([True, False], words.size), np.column_stack([words, gaps]).ravel())
    mask = np.zeros(width, dtype=bool)
    used = min(width, line_len, runs.size)
    mask[:used] = runs[:used]
    return mask


def _picture(area: Pixels, rng: np.random.Generator) -> None:
    """A photo-like region: smooth colour blobs, not pixel noise."""
    height, width = area.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.zeros((height, width, 3), dtype=np.float32)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(40, 300)
        blob = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * r * r))
        out += blob[..., np.newaxis] * rng.uniform(0, 255, 3).astype(np.float32)
    area[...] = np.clip(out, 0, 255).astype(np.uint8)


# --- the model: a full-size ViT-B/32 CLIP with random weights, and its bundles ----------------------


def full_size_checkpoint(cache: Path = CACHE, seed: int = 0) -> Path:
    """transformers' CLIPConfig defaults (= ViT-B/32), random weights, the real CLIP tokenizer; made once."""
    out = cache / "clip-vit-b32-random"
    if (out / "config.json").is_file() and (out / "tokenizer.json").is_file():
        return out
    import torch
    from transformers import CLIPConfig, CLIPModel

    logger.info("building a random-weight ViT-B/32 CLIP checkpoint in %s", out)
    # Only the special-token ids are set: the widths and depths stay CLIPConfig's ViT-B/32 defaults.
    config = CLIPConfig(text_config={"bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407})
    torch.manual_seed(seed)
    staging = cache / ".clip-vit-b32-random.partial"
    shutil.rmtree(staging, ignore_errors=True)
    CLIPModel(config).eval().save_pretrained(staging)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TOKENIZER_DIR / name, staging / name)
    staging.rename(out)
    return out


@dataclass(frozen=True)
class Bundles:
    checkpoint: Path
    fp16: Path
    int8: Path


def bundles(cache: Path = CACHE) -> Bundles:
    """The FP16 and INT8 bundles of the full-size checkpoint, exported once with our exporter."""
    checkpoint = full_size_checkpoint(cache)
    fp16, int8 = cache / "bundle-fp16", cache / "bundle-int8"
    if not (fp16 / "manifest.json").is_file():
        _export(checkpoint, fp16, int8=False)
    if not (int8 / "manifest.json").is_file():
        _export(checkpoint, int8, int8=True)
    return Bundles(checkpoint, fp16, int8)


def _export(checkpoint: Path, out: Path, *, int8: bool) -> None:
    if str(REPO / "daemon") not in sys.path:  # run from a source tree, the package not installed
        sys.path.insert(0, str(REPO / "daemon"))
    from screenrecall.encode.export import ExportRequest, export

    calibration = screen_frames(CALIBRATION_FRAMES, CALIBRATION_SEED) if int8 else []
    logger.info("exporting %s bundle to %s (one time)", "INT8" if int8 else "FP16", out)
    export(ExportRequest(from_dir=checkpoint, int8=int8, calibration=calibration), out)


# --- timing and reporting -------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    path: str
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.seconds / self.frames if self.frames else 0.0


@dataclass(frozen=True)
class Subject:
    """One path under test: step(i) processes call number i; finish() drains what is in flight."""

    name: str
    step: Callable[[int], None]
    finish: Callable[[], None] | None = None


def measure(subject: Subject, *, frames: int, seconds: float, start: int = 0) -> Measurement:
    """Calls step(start), step(start + 1), ... until at least `frames` calls AND `seconds` have passed.

    The step maps the call number to a frame (usually number % len(frames)); finish() (e.g. waiting
    for in-flight inferences) is inside the timed region.
    """
    done = 0
    began = time.perf_counter()
    while done < frames or time.perf_counter() - began < seconds:
        subject.step(start + done)
        done += 1
    if subject.finish is not None:
        subject.finish()
    return Measurement(subject.name, done, time.perf_counter() - began)


def warm_up(subject: Subject, *, frames: int = 2, seconds: float = 0.0) -> None:
    """Untimed calls, numbered below zero so result collectors can tell them apart, then finish()."""
    measure(subject, frames=frames, seconds=seconds, start=-1_000_000)


def interleaved(
    subjects: Sequence[Subject], *, rounds: int, frames: int, seconds: float, warmup_s: float = 3.0
) -> dict[str, list[Measurement]]:
    """Measures the subjects in turn, `rounds` times, each continuing where its last round stopped.

    On a shared or throttling machine the speed drifts over a run; taking turns exposes every path to
    the same drift, so the ratios between them stay meaningful. Each subject makes at least `frames`
    calls and runs at least `seconds` in total. Each is warmed up first (PyTorch's first few calls
    take seconds), and re-settled with two untimed calls before each round, since the first call
    after another path ran is slower (caches, memory taken back).
    """
    per_round = -(-frames // rounds)
    results: dict[str, list[Measurement]] = {subject.name: [] for subject in subjects}
    for subject in subjects:
        warm_up(subject, frames=3, seconds=warmup_s)
    for _ in range(rounds):
        for subject in subjects:
            done = results[subject.name]
            start = sum(m.frames for m in done)
            warm_up(subject)
            done.append(measure(subject, frames=per_round, seconds=seconds / rounds, start=start))
    return results


def total(measurements: Sequence[Measurement]) -> Measurement:
    return Measurement(measurements[0].path, sum(m.frames for m in measurements), sum(m.seconds for m in measurements))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    # First column (the path) left-aligned, figures right-aligned.
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(line.format(*headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


def measurement_row(m: Measurement, rounds: Sequence[Measurement] = ()) -> list[str]:
    """path, frames, seconds, frames/s, ms/frame, and the slowest..fastest round's frames/s if any."""
    spread = f"{min(r.fps for r in rounds):.1f}..{max(r.fps for r in rounds):.1f}" if rounds else ""
    return [m.path, str(m.frames), f"{m.seconds:.2f}", f"{m.fps:.1f}", f"{m.ms_per_frame:.2f}", spread]


MEASUREMENT_HEADERS = ("path", "frames", "seconds", "frames/s", "ms/frame", "rounds frames/s")


def emit_json(result: dict[str, Any]) -> None:
    """The machine-readable result: always the last line on stdout."""
    sys.stderr.flush()
    print(json.dumps(result, separators=(",", ":")), flush=True)


def machine() -> dict[str, Any]:
    """What the figures depend on: CPU and its vector extensions, library versions."""
    model, flags = _cpu()
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu": model,
        # OpenVINO picks its CPU kernels (and bf16 on AMX) from these.
        "isa": sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8"}),
        "python": platform.python_version(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],  # well above the core count: others shared the CPU
    }
    for name in ("openvino", "torch", "transformers", "nncf", "numpy", "pillow"):
        info[name] = _version_of(name)
    return info


def _cpu() -> tuple[str, set[str]]:
    model, flags = platform.processor() or "unknown", set[str]()
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return model, flags
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
    return model, flags


def _version_of(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def cosine(a: NDArray[np.floating[Any]], b: NDArray[np.floating[Any]]) -> float:
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
