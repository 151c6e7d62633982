"""Makes a model bundle from a Hugging Face CLIP checkpoint, once. The only module that imports torch.

Needs the `export` extra (torch, transformers, nncf); the daemon itself never imports this module.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import openvino_tokenizers
import torch
import transformers
from tqdm import tqdm
from transformers import AutoTokenizer, CLIPModel

from screenrecall.encode import bundle as b
from screenrecall.encode.letterbox import letterbox
from screenrecall.errors import ScreenrecallError
from screenrecall.pipeline.messages import Pixels

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "openai/clip-vit-base-patch32"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# Weight-only INT8 must keep the embeddings this close to FP16's (mean cosine on fixed screens), or
# the export keeps FP16: the parity bar the field notes set for OpenVINO against PyTorch.
MIN_COSINE = 0.99


@dataclass(frozen=True)
class ExportRequest:
    model_id: str | None = None  # None: the default model, or the checkpoint dir's own name
    from_dir: Path | None = None
    int8: bool = False
    calibration: Sequence[Pixels] = ()
    # Weight-only INT8 for both encoders (data-free), the default: the CPU plugin keeps 8-bit weights
    # instead of an FP32 copy of FP16 ones; measured on ViT-B/32: vision 625 -> 322 MB RSS, cosine
    # 0.9999 to FP16. Kept only when its embeddings stay within MIN_COSINE of FP16's.
    int8_weights: bool = True


class ExportError(ScreenrecallError):
    """The checkpoint cannot be turned into a bundle."""


class _ImageFeatures(torch.nn.Module):
    def __init__(self, clip: CLIPModel) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return _projected(self.clip.get_image_features(pixel_values=pixel_values))


class _TextFeatures(torch.nn.Module):
    def __init__(self, clip: CLIPModel) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # No attention mask: CLIP's text tower is causal and pools at end-of-text, so the padding
        # after it changes nothing.
        return _projected(self.clip.get_text_features(input_ids=input_ids))


def _projected(output: Any) -> torch.Tensor:
    # transformers < 5 returns the projected tensor; 5.x returns an output whose pooler_output it is.
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def export(request: ExportRequest, out: Path) -> b.Manifest:
    """Writes a complete bundle to `out` (atomically: a failed export leaves nothing behind)."""
    int8_step = ["INT8"] if request.int8 else ["INT8 weights"] if request.int8_weights else []
    steps = ["load checkpoint", "vision IR", "text IR", "tokenizer IR", "save", *int8_step]
    with tqdm(total=len(steps), desc="export", unit="step") as bar, _staging(out) as stage:
        bar.set_postfix_str(steps[0])
        clip, tokenizer, source = _load(request)
        side = int(clip.config.vision_config.image_size)
        context = int(clip.config.text_config.max_position_embeddings)
        _advance(bar, steps[1])
        vision = _vision_ir(clip, side)
        _advance(bar, steps[2])
        text = _text_ir(clip, context)
        _advance(bar, steps[3])
        tok = openvino_tokenizers.convert_tokenizer(
            tokenizer, truncation=True, max_length=context, use_max_padding=True
        )
        _advance(bar, steps[4])
        ov.save_model(vision, stage / b.VISION_XML)  # compresses weights to FP16
        ov.save_model(text, stage / b.TEXT_XML)
        ov.save_model(tok, stage / b.TOKENIZER_XML)
        int8_cosine = None
        precision = {"vision": "fp16", "text": "fp16"}
        if request.int8:
            _advance(bar, steps[5])
            int8_cosine = _quantize(vision, stage, side, request.calibration)
            precision["vision"] = "int8"
        elif request.int8_weights:
            _advance(bar, steps[5])
            int8_cosine = _compress_weights(vision, text, stage, side)
            if int8_cosine >= MIN_COSINE:
                precision = {"vision": "int8-weights", "text": "int8-weights"}
        manifest = b.Manifest(
            model_id=source,
            revision=str(getattr(clip.config, "_commit_hash", None) or "local"),
            embedding_dim=int(clip.config.projection_dim),
            image_size=side,
            context_length=context,
            pad_token_id=int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id),
            precision=precision,
            exporter=_versions(request.int8 or request.int8_weights),
            files=b.hash_files(stage),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            int8_cosine_vs_fp16=int8_cosine,
        )
        (stage / b.MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        bar.update(1)
    return manifest


def _advance(bar: tqdm[Any], step: str) -> None:
    bar.update(1)
    bar.set_postfix_str(step)


@contextmanager
def _staging(out: Path) -> Iterator[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield stage
        if out.exists():
            shutil.rmtree(out)
        stage.rename(out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _load(request: ExportRequest) -> tuple[CLIPModel, Any, str]:
    if request.from_dir is not None:
        where, local = str(request.from_dir), True
        if not (request.from_dir / "config.json").is_file():
            raise ExportError(f"{request.from_dir} holds no checkpoint (no config.json from save_pretrained)")
    else:
        where, local = request.model_id or DEFAULT_MODEL_ID, False
    source = request.model_id or where
    transformers.logging.set_verbosity_error()
    try:
        clip = CLIPModel.from_pretrained(where, local_files_only=local).eval()
        tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=local)
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot load CLIP checkpoint {where!r}: {exc}") from None
    return clip, tokenizer, source


def _vision_ir(clip: CLIPModel, side: int) -> ov.Model:
    with torch.no_grad(), _quiet_tracing():
        model = ov.convert_model(_ImageFeatures(clip), example_input=torch.zeros(1, 3, side, side))
    ppp = ov.preprocess.PrePostProcessor(model)
    # u8 RGB NHWC in, CLIP normalisation in the graph: the host only letterboxes.
    ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_shape([1, side, side, 3])
    ppp.input().preprocess().convert_element_type(ov.Type.f32).mean([m * 255 for m in CLIP_MEAN]).scale(
        [s * 255 for s in CLIP_STD]
    )
    ppp.input().model().set_layout(ov.Layout("NCHW"))
    model = ppp.build()
    _name_ports(model, "pixels")
    return model


def _text_ir(clip: CLIPModel, context: int) -> ov.Model:
    # A dynamic length: a query runs on its own tokens, not all `context` (see encode/text.py).
    with torch.no_grad(), _quiet_tracing():
        model = ov.convert_model(
            _TextFeatures(clip),
            example_input=torch.zeros(1, context, dtype=torch.int64),
            input=[((1, -1), ov.Type.i64)],
        )
    _name_ports(model, "input_ids")
    return model


@contextmanager
def _quiet_tracing() -> Iterator[None]:
    # Tracing warns about every Python-level shape check in transformers; with static shapes they
    # are all expected, and they would bury the progress bar.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _name_ports(model: ov.Model, input_name: str) -> None:
    model.input(0).get_tensor().set_names({input_name})
    model.output(0).get_tensor().set_names({"embedding"})


def _quantize(fp_model: ov.Model, stage: Path, side: int, calibration: Sequence[Pixels]) -> float:
    """Replaces the vision IR with an INT8 one; returns the mean INT8-vs-FP16 cosine on the samples."""
    import nncf

    if not calibration:
        raise ExportError("--int8 needs calibration images (--calibration DIR): screenshots work best")
    samples = [letterbox(image, side)[np.newaxis] for image in calibration]
    quantized = nncf.quantize(
        fp_model,
        nncf.Dataset(samples),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(samples),
    )
    core = ov.Core()
    cosine = _mean_cosine(
        core.compile_model(stage / b.VISION_XML, "CPU"), core.compile_model(quantized, "CPU"), samples
    )
    ov.save_model(quantized, stage / b.VISION_XML)
    return cosine


def _compress_weights(vision: ov.Model, text: ov.Model, stage: Path, side: int) -> float:
    """Replaces both IRs with weight-only INT8 ones when the vision embeddings stay within MIN_COSINE
    of FP16's on fixed synthetic screens (no calibration data needed: weights are quantised per output
    channel); returns that mean cosine either way."""
    import nncf

    rng = np.random.default_rng(0)
    samples = [letterbox(rng.integers(0, 256, (270, 480, 3), dtype=np.uint8), side)[np.newaxis] for _ in range(4)]
    core = ov.Core()
    reference = core.compile_model(stage / b.VISION_XML, "CPU")
    compressed_vision = nncf.compress_weights(vision)
    cosine = _mean_cosine(reference, core.compile_model(compressed_vision, "CPU"), samples)
    del reference  # the FP16 file is mapped: release it before it is replaced
    if cosine < MIN_COSINE:
        logger.warning("INT8 weights drift from FP16 (mean cosine %.4f < %.2f): keeping FP16", cosine, MIN_COSINE)
        return cosine
    ov.save_model(compressed_vision, stage / b.VISION_XML)
    ov.save_model(nncf.compress_weights(text), stage / b.TEXT_XML)
    return cosine


def _mean_cosine(reference: ov.CompiledModel, candidate: ov.CompiledModel, samples: Sequence[Pixels]) -> float:
    cosines = []
    for sample in samples:
        ref, cand = (np.asarray(model(sample)[0], dtype=np.float64).ravel() for model in (reference, candidate))
        cosines.append(float(ref @ cand / (np.linalg.norm(ref) * np.linalg.norm(cand))))
    return float(np.mean(cosines))


def _versions(int8: bool) -> dict[str, str]:
    names = ["screenrecall", "openvino", "openvino-tokenizers", "transformers", "torch"] + (["nncf"] if int8 else [])
    return {name: _version_of(name) for name in names}


def _version_of(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:  # e.g. running from a source tree
        return "unknown"


def load_calibration(folder: Path, limit: int, reader: Callable[[Path], Pixels]) -> list[Pixels]:
    """Up to `limit` readable images from folder (unreadable ones are skipped with a warning)."""
    images: list[Pixels] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if len(images) >= limit:
            break
        try:
            images.append(reader(path))
        except Exception as exc:  # a bad calibration file should not abort a long export
            logger.warning("calibration: skipping %s: %s", path.name, exc)
    return images
