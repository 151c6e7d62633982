"""Reporting: aligned tables on stdout, the machine facts the figures depend on, the JSON line last."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.harness.timing import Measurement

MEASUREMENT_HEADERS = ("path", "frames", "seconds", "frames/s", "ms/frame", "rounds frames/s")


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
