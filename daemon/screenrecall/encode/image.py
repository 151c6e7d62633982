"""Turns letterboxed frames into L2-normalised CLIP image embeddings through an AsyncInferQueue."""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import numpy as np
import openvino as ov

from screenrecall.pipeline.messages import Embedding, Pixels

logger = logging.getLogger(__name__)

T = TypeVar("T")
ResultHandler = Callable[[T, Embedding], None]
ErrorHandler = Callable[[T, Exception], None]


class EncodeError(Exception):
    """One image could not be embedded (inference failed, or the output was NaN / zero)."""


def normalise(vector: np.typing.NDArray[np.float32]) -> Embedding:
    """L2-normalised float32 copy; refuses NaN, infinite or all-zero outputs (never a silent zero)."""
    flat = np.asarray(vector, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(flat)):
        raise EncodeError("the model returned NaN or infinite values")
    norm = float(np.linalg.norm(flat))
    if norm < 1e-12:
        raise EncodeError("the model returned an all-zero embedding")
    return (flat / norm).astype(np.float32)


class ImageEncoder(Generic[T]):
    """Runs the vision IR on u8 NHWC 224x224 images, `jobs` at a time.

    `submit` blocks while every request is busy: that is the backpressure toward the pipeline.
    Results arrive on an OpenVINO thread through `on_result(tag, embedding)`; failures through
    `on_error(tag, exc)`. Neither handler may block for long.
    """

    def __init__(
        self,
        compiled: ov.CompiledModel,
        jobs: int,
        on_result: ResultHandler[T],
        on_error: ErrorHandler[T],
    ) -> None:
        self._compiled = compiled
        self._jobs = jobs
        self._on_result = on_result
        self._on_error = on_error
        shape = compiled.input(0).get_partial_shape()
        self.input_side = int(shape[1].get_length())
        self._image_shape = (self.input_side, int(shape[2].get_length()), 3)
        self.embedding_dim = int(compiled.output(0).get_partial_shape()[1].get_length())
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._in_flight: dict[int, T] = {}
        self._queue = self._new_queue()

    def _new_queue(self) -> ov.AsyncInferQueue:
        queue = ov.AsyncInferQueue(self._compiled, self._jobs)
        queue.set_callback(self._done)
        return queue

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def submit(self, image: Pixels, tag: T) -> None:
        """Queues one image; blocks until a request is free. Errors go to on_error, never raise."""
        if image.shape != self._image_shape or image.dtype != np.uint8:
            self._safe_on_error(
                tag, EncodeError(f"expected uint8 {self._image_shape}, got {image.dtype} {image.shape}")
            )
            return
        job = next(self._ids)
        for _ in range(2):
            with self._lock:
                self._in_flight[job] = tag
            try:
                self._queue.start_async({0: image[np.newaxis]}, job)
                return
            except RuntimeError as exc:
                # An earlier job failed and the queue re-raises it; this image was not started.
                with self._lock:
                    self._in_flight.pop(job, None)
                self._recover(exc)
        self._safe_on_error(tag, EncodeError("inference could not start after a queue restart"))

    def wait_all(self) -> None:
        """Returns once every submitted image has been reported to one of the handlers."""
        try:
            self._queue.wait_all()
        except RuntimeError as exc:
            self._recover(exc)

    def _done(self, request: ov.InferRequest, job: int) -> None:
        # Runs on an OpenVINO thread. An exception escaping here would poison the queue for every
        # later job, so everything is caught and routed to on_error.
        tag: T | None = None
        try:
            with self._lock:
                tag = self._in_flight.pop(job, None)
            if tag is None:  # already reported lost by _recover
                return
            # .data is a view into the request's buffer, reused by the next job: normalise() copies.
            embedding = normalise(request.get_output_tensor(0).data)
            self._on_result(tag, embedding)
        except Exception as exc:
            logger.exception("image result handling failed")
            if tag is not None:
                self._safe_on_error(tag, exc)

    def _recover(self, exc: RuntimeError) -> None:
        """An inference failed: let running jobs finish, report those that never will, start afresh."""
        logger.error("inference failed: %s", _first_line(exc))
        # Re-raises the same stored failure; what matters is which jobs never reported.
        with contextlib.suppress(RuntimeError):
            self._queue.wait_all()
        with self._lock:
            lost = list(self._in_flight.values())
            self._in_flight.clear()
        self._queue = self._new_queue()
        for tag in lost:
            self._safe_on_error(tag, EncodeError(f"inference failed: {_first_line(exc)}"))

    def _safe_on_error(self, tag: T, exc: Exception) -> None:
        try:
            self._on_error(tag, exc)
        except Exception:
            logger.exception("image error handler failed")

    def encode_batch(self, images: Sequence[Pixels]) -> list[Embedding | EncodeError]:
        """Synchronous helper for one-off use (CLI, self-test): results in input order."""
        results: list[Embedding | EncodeError] = [EncodeError("not run")] * len(images)
        collector: ImageEncoder[int] = ImageEncoder(
            self._compiled,
            self._jobs,
            on_result=results.__setitem__,
            on_error=lambda i, exc: results.__setitem__(i, _as_encode_error(exc)),
        )
        for index, image in enumerate(images):
            collector.submit(image, index)
        collector.wait_all()
        return results


def _as_encode_error(exc: Exception) -> EncodeError:
    return exc if isinstance(exc, EncodeError) else EncodeError(str(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
