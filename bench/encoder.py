"""Benchmarks 1080p frame -> L2-normalised embedding: transformers + PyTorch eager vs our OpenVINO FP16 / INT8 path.

Run from the repo root: `python bench/encoder.py [--frames N] [--seconds S]`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
from numpy.typing import NDArray

# `python bench/encoder.py` from the repo root: find common.py, and the package in daemon/ uninstalled.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "daemon"))

import common
from common import Measurement, Pixels, Subject
from screenrecall.config import ModelConfig
from screenrecall.encode.export import CLIP_MEAN, CLIP_STD
from screenrecall.encode.image import ImageEncoder
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime, load_runtime

PARITY_FRAMES = 8  # frames used to check the FP16 bundle computes what the PyTorch model computes
TARGET_RATIO = 6.0  # the target for fp16_vs_torch
# Fastest / slowest round of one path above this: the machine was shared; on an idle one it stays < 1.2.
NOISY_SPREAD = 1.3
TORCH, FP16, INT8 = (
    "a  torch eager + CLIPImageProcessor",
    "b  ours fp16 (letterbox + queue)",
    "c  ours int8 (letterbox + queue)",
)
Vector = NDArray[np.float32]


# --- (a) transformers CLIPImageProcessor + PyTorch eager ------------------------------------------


class TorchPath:
    def __init__(self, checkpoint: Path) -> None:
        import torch
        import transformers
        from transformers import CLIPImageProcessor, CLIPModel

        transformers.logging.set_verbosity_error()
        self.torch = torch
        self.processor = CLIPImageProcessor()  # defaults = ViT-B/32: shortest side 224, centre crop 224
        self.model = CLIPModel.from_pretrained(checkpoint, local_files_only=True).eval()

    def preprocess(self, frame: Pixels) -> Any:
        return self.processor(images=frame, return_tensors="pt")["pixel_values"]

    def features(self, pixel_values: Any) -> Vector:
        with self.torch.no_grad():
            output = self.model.get_image_features(pixel_values=pixel_values)
            # transformers 5 returns an output object whose pooler_output is the projected embedding.
            projected = output if isinstance(output, self.torch.Tensor) else output.pooler_output
            normalised = self.torch.nn.functional.normalize(projected, dim=-1)
        return np.asarray(normalised[0].numpy(), dtype=np.float32)

    def embed(self, frame: Pixels) -> Vector:
        return self.features(self.preprocess(frame))

    def facts(self) -> dict[str, Any]:
        return {"threads": self.torch.get_num_threads(), "preprocessor": type(self.processor).__name__}


def torch_subject(path: TorchPath, frames: Sequence[Pixels]) -> Subject:
    return Subject(TORCH, lambda i: _discard(path.embed(frames[i % len(frames)])))


# --- (b), (c) our path: letterbox on the submitting thread, AsyncInferQueue --------------------------


class Collector:
    """Result handlers for ImageEncoder; they run on OpenVINO threads, so they only store and return."""

    def __init__(self, distinct: int) -> None:
        self.embeddings: list[Vector | None] = [None] * distinct
        self.done: list[int] = []  # list.append is atomic under the GIL
        self.errors: list[Exception] = []

    def on_result(self, tag: int, embedding: Vector) -> None:
        if tag < 0:  # an untimed warm-up call
            return
        self.done.append(tag)
        if tag < len(self.embeddings):
            self.embeddings[tag] = embedding

    def on_error(self, tag: int, exc: Exception) -> None:
        self.errors.append(exc)

    def check(self, name: str, submitted: int) -> list[Vector]:
        """The embedding of every distinct frame; raises if any frame failed or went missing."""
        found = [e for e in self.embeddings if e is not None]
        if self.errors or len(self.done) != submitted or len(found) != len(self.embeddings):
            raise RuntimeError(f"{name}: {len(self.done)}/{submitted} embedded; errors: {self.errors[:3]}")
        return found


def load(bundle: Path, jobs: int) -> ModelRuntime:
    return load_runtime(ModelConfig(device="CPU", cache=False, jobs=jobs), bundle)


def openvino_subject(name: str, encoder: ImageEncoder[int], frames: Sequence[Pixels]) -> Subject:
    side = encoder.input_side

    def step(i: int) -> None:
        # submit() returns once a request is free, so letterboxing frame i overlaps the inference of
        # the frames before it, as in the pipeline.
        encoder.submit(letterbox(frames[i % len(frames)], side), i)

    return Subject(name, step, encoder.wait_all)


def runtime_facts(runtime: ModelRuntime) -> dict[str, Any]:
    facts: dict[str, Any] = {"jobs": runtime.jobs, "device": runtime.executing_on}
    for key in ("INFERENCE_PRECISION_HINT", "NUM_STREAMS", "OPTIMAL_NUMBER_OF_INFER_REQUESTS", "INFERENCE_NUM_THREADS"):
        try:
            value = runtime.vision.get_property(key)
        except RuntimeError:
            value = "n/a"
        # ov.Type prints as "<Type: 'bfloat16'>"; the JSON wants the bare name.
        facts[key.lower()] = value.get_type_name() if isinstance(value, ov.Type) else str(value)
    return facts


# --- where the time goes, and is the bundle the same model ------------------------------------------


def breakdown(
    torch_path: TorchPath, fp16: ModelRuntime, int8: ModelRuntime, frames: Sequence[Pixels], seconds: float
) -> list[Measurement]:
    """Each stage alone (all frames, at least `seconds`): says which part dominates each path."""
    side = fp16.image_side
    boxed = [letterbox(frame, side) for frame in frames]
    tensors = [torch_path.preprocess(frame) for frame in frames[:4]]
    sink = Collector(0)
    single = fp16.image_encoder(sink.on_result, sink.on_error)

    def one_at_a_time(i: int) -> None:
        single.submit(boxed[i % len(boxed)], i)
        single.wait_all()

    stages = [
        Subject("  letterbox only (1080p -> 224)", lambda i: _discard(letterbox(frames[i % len(frames)], side))),
        _inference_only("  fp16 inference only, queued", fp16.image_encoder(sink.on_result, sink.on_error), boxed),
        _inference_only("  int8 inference only, queued", int8.image_encoder(sink.on_result, sink.on_error), boxed),
        Subject("  fp16 inference only, one at a time", one_at_a_time),
        Subject("  CLIPImageProcessor only", lambda i: _discard(torch_path.preprocess(frames[i % len(frames)]))),
        Subject("  torch get_image_features only", lambda i: _discard(torch_path.features(tensors[i % len(tensors)]))),
    ]
    measured = []
    for stage in stages:
        common.warm_up(stage)
        measured.append(common.measure(stage, frames=len(frames), seconds=seconds))
    return measured


def _inference_only(name: str, encoder: ImageEncoder[int], boxed: Sequence[Pixels]) -> Subject:
    return Subject(name, lambda i: encoder.submit(boxed[i % len(boxed)], i), encoder.wait_all)


def _discard(_value: object) -> None:
    return None


def fp16_parity(torch_path: TorchPath, frames: Sequence[Pixels], fp16: Sequence[Vector], side: int) -> list[float]:
    """Cosine of our FP16 embedding vs PyTorch fed the same letterboxed pixels: is the bundle the same model?"""
    mean, std = np.array(CLIP_MEAN, dtype=np.float32), np.array(CLIP_STD, dtype=np.float32)
    cosines = []
    for frame, ours in zip(frames[:PARITY_FRAMES], fp16, strict=False):
        pixels = (letterbox(frame, side).astype(np.float32) / 255.0 - mean) / std
        tensor = torch_path.torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))[np.newaxis])
        cosines.append(common.cosine(torch_path.features(tensor), ours))
    return cosines


# --- report ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Findings:
    rounds: dict[str, list[Measurement]]
    parts: list[Measurement]
    int8_cosines: list[float]
    parity: list[float]
    openvino: dict[str, Any]
    torch: dict[str, Any]


def report(args: argparse.Namespace, found: Findings) -> None:
    totals = {name: common.total(rounds) for name, rounds in found.rounds.items()}
    rows = [common.measurement_row(totals[name], found.rounds[name]) for name in (TORCH, FP16, INT8)]
    if found.parts:
        rows += [["where the time goes (each stage alone):", "", "", "", "", ""]]
        rows += [common.measurement_row(part) for part in found.parts]
    common.print_table(common.MEASUREMENT_HEADERS, rows)
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
    common.emit_json(summary(args, found, totals, per_round, spread))


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
        "machine": common.machine(),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=48, help="distinct 1920x1080 frames; each path embeds all")
    parser.add_argument("--seconds", type=float, default=12.0, help="least timed seconds per path (0: one pass)")
    parser.add_argument("--rounds", type=int, default=3, help="the paths take turns this many times")
    parser.add_argument("--jobs", type=int, default=ModelConfig().jobs, help="AsyncInferQueue size (model.jobs)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip timing each stage alone")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.seconds < 0 or args.jobs < 1 or args.rounds < 1:
        parser.error("--frames, --rounds and --jobs must be >= 1, --seconds >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("common").setLevel(logging.INFO)
    args = parse_args(argv)
    made = common.bundles()
    print(f"generating {args.frames} synthetic 1920x1080 frames (untimed)", file=sys.stderr)
    frames = common.screen_frames(args.frames)
    torch_path = TorchPath(made.checkpoint)
    fp16_rt, int8_rt = load(made.fp16, args.jobs), load(made.int8, args.jobs)
    fp16_out, int8_out = Collector(len(frames)), Collector(len(frames))
    subjects = [
        torch_subject(torch_path, frames),
        openvino_subject(FP16, fp16_rt.image_encoder(fp16_out.on_result, fp16_out.on_error), frames),
        openvino_subject(INT8, int8_rt.image_encoder(int8_out.on_result, int8_out.on_error), frames),
    ]
    rounds = common.interleaved(subjects, rounds=args.rounds, frames=len(frames), seconds=args.seconds)
    fp16 = fp16_out.check(FP16, common.total(rounds[FP16]).frames)
    int8 = int8_out.check(INT8, common.total(rounds[INT8]).frames)
    found = Findings(
        rounds=rounds,
        parts=[] if args.no_breakdown else breakdown(torch_path, fp16_rt, int8_rt, frames, args.seconds / 5),
        int8_cosines=[common.cosine(a, b) for a, b in zip(fp16, int8, strict=True)],
        parity=fp16_parity(torch_path, frames, fp16, fp16_rt.image_side),
        openvino=runtime_facts(fp16_rt),
        torch=torch_path.facts(),
    )
    report(args, found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
