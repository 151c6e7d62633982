"""Benchmarks 1080p frame -> L2-normalised embedding: transformers + PyTorch eager vs our OpenVINO FP16 / INT8 path.

Run from the repo root: `python -m bench.encoder [--frames N] [--seconds S]`. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
from numpy.typing import NDArray

from bench.encoder_report import FP16, INT8, TORCH, Findings, report
from bench.harness import entry
from bench.harness.model import ModelCache
from bench.harness.timing import Measurement, Subject, cosine, discard, interleaved, measure, total, warm_up
from screenrecall.config import ModelConfig
from screenrecall.encode.export import CLIP_MEAN, CLIP_STD
from screenrecall.encode.image import ImageEncoder
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime, load_runtime
from screenrecall.pipeline.messages import Pixels
from tests.support.screens.desktop import screen_frames

PARITY_FRAMES = 8  # frames used to check the FP16 bundle computes what the PyTorch model computes
# The one-frame run a test makes (see bench/harness/entry.py): every path and the breakdown, once.
SMOKE = {"frames": 1, "seconds": 0.0, "rounds": 1, "warmup": 0.0}
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
    return Subject(TORCH, lambda i: discard(path.embed(frames[i % len(frames)])))


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
        Subject("  letterbox only (1080p -> 224)", lambda i: discard(letterbox(frames[i % len(frames)], side))),
        _inference_only("  fp16 inference only, queued", fp16.image_encoder(sink.on_result, sink.on_error), boxed),
        _inference_only("  int8 inference only, queued", int8.image_encoder(sink.on_result, sink.on_error), boxed),
        Subject("  fp16 inference only, one at a time", one_at_a_time),
        Subject("  CLIPImageProcessor only", lambda i: discard(torch_path.preprocess(frames[i % len(frames)]))),
        Subject("  torch get_image_features only", lambda i: discard(torch_path.features(tensors[i % len(tensors)]))),
    ]
    measured = []
    for stage in stages:
        warm_up(stage)
        measured.append(measure(stage, frames=len(frames), seconds=seconds))
    return measured


def _inference_only(name: str, encoder: ImageEncoder[int], boxed: Sequence[Pixels]) -> Subject:
    return Subject(name, lambda i: encoder.submit(boxed[i % len(boxed)], i), encoder.wait_all)


def fp16_parity(torch_path: TorchPath, frames: Sequence[Pixels], fp16: Sequence[Vector], side: int) -> list[float]:
    """Cosine of our FP16 embedding vs PyTorch fed the same letterboxed pixels: is the bundle the same model?"""
    mean, std = np.array(CLIP_MEAN, dtype=np.float32), np.array(CLIP_STD, dtype=np.float32)
    cosines = []
    for frame, ours in zip(frames[:PARITY_FRAMES], fp16, strict=False):
        pixels = (letterbox(frame, side).astype(np.float32) / 255.0 - mean) / std
        tensor = torch_path.torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))[np.newaxis])
        cosines.append(cosine(torch_path.features(tensor), ours))
    return cosines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = entry.parser(__doc__)
    parser.add_argument("--frames", type=int, default=48, help="distinct 1920x1080 frames; each path embeds all")
    parser.add_argument("--seconds", type=float, default=12.0, help="least timed seconds per path (0: one pass)")
    parser.add_argument("--rounds", type=int, default=3, help="the paths take turns this many times")
    parser.add_argument("--jobs", type=int, default=ModelConfig().jobs, help="AsyncInferQueue size (model.jobs)")
    parser.add_argument("--warmup", type=float, default=3.0, help="least untimed seconds per path before the rounds")
    parser.add_argument("--no-breakdown", action="store_true", help="skip timing each stage alone")
    args = entry.parse(parser, argv, SMOKE)
    if args.frames < 1 or args.seconds < 0 or args.jobs < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--frames, --rounds and --jobs must be >= 1, --seconds and --warmup >= 0")
    return args


def run(args: argparse.Namespace, _workdir: Path) -> dict[str, Any]:
    model = ModelCache.of(args)
    checkpoint, fp16_bundle, int8_bundle = model.checkpoint(), model.fp16(), model.int8()
    print(f"generating {args.frames} synthetic 1920x1080 frames (untimed)", file=sys.stderr)
    frames = screen_frames(args.frames)
    torch_path = TorchPath(checkpoint)
    fp16_rt, int8_rt = load(fp16_bundle, args.jobs), load(int8_bundle, args.jobs)
    fp16_out, int8_out = Collector(len(frames)), Collector(len(frames))
    subjects = [
        torch_subject(torch_path, frames),
        openvino_subject(FP16, fp16_rt.image_encoder(fp16_out.on_result, fp16_out.on_error), frames),
        openvino_subject(INT8, int8_rt.image_encoder(int8_out.on_result, int8_out.on_error), frames),
    ]
    rounds = interleaved(subjects, rounds=args.rounds, frames=len(frames), seconds=args.seconds, warmup_s=args.warmup)
    fp16 = fp16_out.check(FP16, total(rounds[FP16]).frames)
    int8 = int8_out.check(INT8, total(rounds[INT8]).frames)
    found = Findings(
        rounds=rounds,
        parts=[] if args.no_breakdown else breakdown(torch_path, fp16_rt, int8_rt, frames, args.seconds / 5),
        int8_cosines=[cosine(a, b) for a, b in zip(fp16, int8, strict=True)],
        parity=fp16_parity(torch_path, frames, fp16, fp16_rt.image_side),
        openvino=runtime_facts(fp16_rt),
        torch=torch_path.facts(),
    )
    return report(args, found)


def main(argv: Sequence[str] | None = None) -> int:
    return entry.bench_main(argv, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
