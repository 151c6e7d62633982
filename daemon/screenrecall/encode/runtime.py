"""Opens a model bundle on the chosen device: checked, compiled, and ready to make encoders."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import openvino as ov

from screenrecall.config import ModelConfig
from screenrecall.encode.bundle import Bundle, BundleError, open_bundle, verify_hashes
from screenrecall.encode.device import (
    DeviceDiscovery,
    compile_model,
    discover_devices,
    execution_devices,
    make_core,
    resolve_device,
)
from screenrecall.encode.image import EncodeError, ErrorHandler, ImageEncoder, ResultHandler
from screenrecall.encode.text import TextEncoder
from screenrecall.system import resident

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The text model (~300 MB compiled for ViT-B/32) is needed only for text queries: after this long
# without one it is dropped, and the next query compiles it again (~1 s, less from the model cache).
TEXT_IDLE_S = 300.0


@dataclass
class ModelRuntime:
    """A compiled bundle. Image encoders are made per consumer; the text encoder is shared."""

    bundle: Bundle
    core: ov.Core
    device: str
    vision: ov.CompiledModel
    jobs: int
    cache: bool = True  # the compiled-model cache (CACHE_DIR) is on
    _text: TextEncoder | None = field(default=None, init=False, repr=False)
    _text_used_at: float = field(default=0.0, init=False, repr=False)
    _text_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def embedding_dim(self) -> int:
        return self.bundle.manifest.embedding_dim

    @property
    def image_side(self) -> int:
        return self.bundle.manifest.image_size

    @property
    def executing_on(self) -> str:
        return execution_devices(self.vision)

    def image_encoder(self, on_result: ResultHandler[T], on_error: ErrorHandler[T]) -> ImageEncoder[T]:
        return ImageEncoder(self.vision, self.jobs, on_result, on_error)

    @property
    def text_encoder(self) -> TextEncoder:
        """Compiled on the first text query; dropped by release_idle_text() when unused for a while."""
        with self._text_lock:
            if self._text is None:
                self._text = self._compile_text()
            self._text_used_at = time.monotonic()
            return self._text

    @property
    def text_loaded(self) -> bool:
        return self._text is not None

    def release_idle_text(self, idle_s: float = TEXT_IDLE_S) -> bool:
        """Drops the text model if no query used it for idle_s (measured: ~300 MB for ViT-B/32's,
        all of it given back). A query in flight keeps its own reference."""
        with self._text_lock:
            if self._text is None or time.monotonic() - self._text_used_at < idle_s:
                return False
            self._text = None
        resident.trim_heap()
        logger.debug("text model released after %.0f s unused", idle_s)
        return True

    def _compile_text(self) -> TextEncoder:
        # Adds the tokenizer IR's string ops to every Core made after it: imported here, not at
        # start-up, as a daemon no one queries never needs it (~7 MB resident). The text models are
        # compiled in a Core of their own (the compiled models keep what they need of it), which
        # gives back more when they are released than compiling them in self.core (4 vs 13 MB).
        import openvino_tokenizers  # noqa: F401

        core = make_core(self.cache)
        # String ops run on the CPU only; the text model is small and rarely used: CPU, low latency.
        tokenizer = core.compile_model(str(self.bundle.tokenizer_xml), "CPU")
        text = compile_model(core, self.bundle.text_xml, "CPU", "LATENCY")
        _check_text(text, self.bundle)
        release_compile_memory(core, self.bundle)
        manifest = self.bundle.manifest
        return TextEncoder(tokenizer, text, manifest.pad_token_id, manifest.context_length)


def load_runtime(
    model: ModelConfig,
    model_dir: Path,
    *,
    discover: DeviceDiscovery = discover_devices,
    check_hashes: bool = True,
) -> ModelRuntime:
    """Raises BundleError or DeviceError with a message a user can act on."""
    bundle = open_bundle(model_dir)
    if check_hashes:
        verify_hashes(bundle)
    core = make_core(model.cache)
    device = resolve_device(model.device, discover(core), fallback=model.fallback)
    vision = compile_model(core, bundle.vision_xml, device, "THROUGHPUT")
    _check_vision(vision, bundle)
    release_compile_memory(core, bundle)
    logger.info("model %s (%s) on %s", bundle.manifest.model_id, bundle.root, execution_devices(vision))
    return ModelRuntime(bundle, core, device, vision, model.jobs, model.cache)


def release_compile_memory(core: ov.Core, bundle: Bundle) -> None:
    """After a compile: the weight files' pages (the plugin holds its own copy) and the heap the
    compile grew go back to the system (measured by bench/memory.py)."""
    cache = str(core.get_property("CACHE_DIR") or "")
    dropped = resident.drop_file_pages([bundle.root, *([Path(cache)] if cache else [])])
    resident.trim_heap()
    logger.debug("after compiling: %.0f MB of model file pages dropped", dropped / 1e6)


def _check_vision(vision: ov.CompiledModel, bundle: Bundle) -> None:
    side, dim = bundle.manifest.image_size, bundle.manifest.embedding_dim
    _expect(vision.input(0), [[1, side, side, 3]], ov.Type.u8, f"{bundle.vision_xml} input")
    _expect(vision.output(0), [[1, dim]], ov.Type.f32, f"{bundle.vision_xml} output")


def _check_text(text: ov.CompiledModel, bundle: Bundle) -> None:
    length, dim = bundle.manifest.context_length, bundle.manifest.embedding_dim
    # A dynamic length ([1, ?]) is what `models export` makes; bundles made before take exactly
    # context_length tokens.
    _expect(text.input(0), [[1, -1], [1, length]], ov.Type.i64, f"{bundle.text_xml} input")
    _expect(text.output(0), [[-1, dim], [1, dim]], ov.Type.f32, f"{bundle.text_xml} output")


def _expect(port: ov.ConstOutput, shapes: list[list[int]], element: ov.Type, what: str) -> None:
    """The port has this element type and one of these shapes (-1: a dynamic dimension)."""
    partial = port.get_partial_shape()
    actual = [int(d.get_length()) if d.is_static else -1 for d in partial] if partial.rank.is_static else []
    if actual not in shapes or port.get_element_type() != element:
        expected = " or ".join(str(shape).replace("-1", "?") for shape in shapes)
        raise BundleError(
            f"{what} is {port.get_element_type().get_type_name()} {partial}, expected "
            f"{element.get_type_name()} {expected} (as the manifest says); re-export the bundle"
        )


def self_test(runtime: ModelRuntime) -> list[str]:
    """The checks `models verify` reports; raises BundleError on the first that fails."""
    side = runtime.image_side
    ramp = np.linspace(0, 255, side * side * 3).reshape(side, side, 3).astype(np.uint8)
    checker = ((np.indices((side, side)).sum(axis=0) // 16) % 2 * 255).astype(np.uint8)
    images = [ramp, np.repeat(checker[..., np.newaxis], 3, axis=2)]
    results = runtime.image_encoder(lambda _t, _e: None, lambda _t, _e: None).encode_batch(images)
    errors = [r for r in results if isinstance(r, EncodeError)]
    if errors:
        raise BundleError(f"self-test: image inference failed: {errors[0]}")
    first, second = (np.asarray(r) for r in results)
    text = runtime.text_encoder.encode("a screenshot of a spreadsheet")
    lines = [f"image and text embeddings: {first.size}-d, finite, unit norm"]
    if not first.size == second.size == text.size == runtime.embedding_dim:
        raise BundleError(f"self-test: dims differ: image {first.size}, text {text.size}")
    cosine = float(first @ second)
    if cosine > 0.9999:
        raise BundleError(f"self-test: two different images embed identically (cosine {cosine:.6f})")
    lines.append(f"two different images differ (cosine {cosine:.4f})")
    return lines
