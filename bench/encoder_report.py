"""The encoder benchmark's report: the table, the ratios against the target, and the JSON summary."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.harness.report import MEASUREMENT_HEADERS, machine, measurement_row, print_table
from bench.harness.timing import Measurement, total

TARGET_RATIO = 6.0  # the target for fp16_vs_torch
# Fastest / slowest round of one path above this: the machine was shared; on an idle one it stays < 1.2.
NOISY_SPREAD = 1.3
TORCH, FP16, INT8 = (
    "a  torch eager + CLIPImageProcessor",
    "b  ours fp16 (letterbox + queue)",
    "c  ours int8 (letterbox + queue)",
)


@dataclass(frozen=True)
class Findings:
    rounds: dict[str, list[Measurement]]
    parts: list[Measurement]
    int8_cosines: list[float]
    parity: list[float]
    openvino: dict[str, Any]
    torch: dict[str, Any]


def report(args: argparse.Namespace, found: Findings) -> dict[str, Any]:
    """Prints the table and verdict; returns the JSON summary."""
    totals = {name: total(rounds) for name, rounds in found.rounds.items()}
    rows = [measurement_row(totals[name], found.rounds[name]) for name in (TORCH, FP16, INT8)]
    if found.parts:
        rows += [["where the time goes (each stage alone):", "", "", "", "", ""]]
        rows += [measurement_row(part) for part in found.parts]
    print_table(MEASUREMENT_HEADERS, rows)
    base = totals[TORCH].fps
    fp16_ratio, int8_ratio = totals[FP16].fps / base, totals[INT8].fps / base
    per_round = [f.fps / t.fps for t, f in zip(found.rounds[TORCH], found.rounds[FP16], strict=True)]
    spread = max(max(m.fps for m in ms) / max(min(m.fps for m in ms), 1e-9) for ms in found.rounds.values())
    verdict = "meets" if fp16_ratio >= TARGET_RATIO else "BELOW"
    if spread > NOISY_SPREAD:
        # PyTorch's OpenMP threads slow down far more than OpenVINO's when sharing cores: ratios inflate.
        verdict = "no verdict: the machine was busy"
        print(f"WARNING: a path's speed varied {spread:.1f}x between rounds: something else used the CPU; rerun")
    print(f"\nb/a fp16 vs torch: {fp16_ratio:.2f}x ({verdict}; target {TARGET_RATIO:g}x); per round: ", end="")
    print(", ".join(f"{r:.2f}x" for r in per_round))
    print(f"c/a int8 vs torch: {int8_ratio:.2f}x;  int8 vs fp16: {totals[INT8].fps / totals[FP16].fps:.2f}x")
    cos = found.int8_cosines
    print(f"int8 vs fp16 embedding cosine over {len(cos)} frames: mean {np.mean(cos):.4f}, min {min(cos):.4f}")
    print(f"fp16 bundle vs PyTorch on identical letterboxed input: min cosine {min(found.parity):.4f}")
    print(f"openvino: {found.openvino}\ntorch: {found.torch}\n")
    return summary(args, found, totals, per_round, spread)


def summary(
    args: argparse.Namespace,
    found: Findings,
    totals: dict[str, Measurement],
    per_round: list[float],
    spread: float,
) -> dict[str, Any]:
    fp16_ratio, int8_ratio = totals[FP16].fps / totals[TORCH].fps, totals[INT8].fps / totals[TORCH].fps
    cos = found.int8_cosines
    return {
        "bench": "encoder",
        "frames": args.frames,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "torch_fps": round(totals[TORCH].fps, 2),
        "fp16_fps": round(totals[FP16].fps, 2),
        "int8_fps": round(totals[INT8].fps, 2),
        "torch_ms": round(totals[TORCH].ms_per_frame, 2),
        "fp16_ms": round(totals[FP16].ms_per_frame, 2),
        "int8_ms": round(totals[INT8].ms_per_frame, 2),
        "fp16_vs_torch": round(fp16_ratio, 2),
        "int8_vs_torch": round(int8_ratio, 2),
        "fp16_vs_torch_per_round": [round(r, 2) for r in per_round],
        "target_vs_torch": TARGET_RATIO,
        "round_spread_max": round(spread, 2),
        "noisy": spread > NOISY_SPREAD,
        "int8_cosine_vs_fp16": round(float(np.mean(cos)), 4),
        "int8_cosine_vs_fp16_min": round(min(cos), 4),
        "fp16_cosine_vs_torch_same_input_min": round(min(found.parity), 4),
        "frames_measured": {name.split()[0]: totals[name].frames for name in (TORCH, FP16, INT8)},
        "fps_per_round": {
            name.split()[0]: [round(m.fps, 1) for m in found.rounds[name]] for name in (TORCH, FP16, INT8)
        },
        "breakdown_ms": {part.path.strip(): round(part.ms_per_frame, 2) for part in found.parts},
        "openvino": found.openvino,
        "torch": found.torch,
        "machine": machine(),
    }
