"""The AsyncInferQueue encoder: ordered-by-tag results, never poisoned by a failing handler."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from screenrecall.config import ModelConfig
from screenrecall.encode.image import EncodeError, normalise
from screenrecall.encode.runtime import ModelRuntime, load_runtime
from screenrecall.pipeline.messages import Embedding


@pytest.fixture(scope="module")
def runtime(tiny_bundle: Path) -> ModelRuntime:
    return load_runtime(ModelConfig(cache=False, jobs=2), tiny_bundle)


def _images(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(n)]


def test_every_submitted_image_is_reported_once_with_its_tag(runtime: ModelRuntime) -> None:
    got: dict[int, Embedding] = {}
    lock = threading.Lock()

    def on_result(tag: int, emb: Embedding) -> None:
        with lock:
            assert tag not in got
            got[tag] = emb

    encoder = runtime.image_encoder(on_result, lambda tag, exc: pytest.fail(f"{tag}: {exc}"))
    images = _images(12)
    for i, image in enumerate(images):
        encoder.submit(image, i)
    encoder.wait_all()
    assert sorted(got) == list(range(12))
    assert encoder.in_flight == 0
    # Outputs were copied out of the reused request buffers: distinct inputs, distinct results.
    reference = encoder.encode_batch(images)
    for i in range(12):
        assert np.allclose(got[i], reference[i], atol=1e-5)


def test_a_raising_result_handler_does_not_poison_later_jobs(runtime: ModelRuntime) -> None:
    ok: list[int] = []
    failed: list[int] = []

    def on_result(tag: int, emb: Embedding) -> None:
        if tag in (0, 3, 6):
            raise ValueError("handler bug")
        ok.append(tag)

    encoder = runtime.image_encoder(on_result, lambda tag, exc: failed.append(tag))
    for i, image in enumerate(_images(9)):
        encoder.submit(image, i)
    encoder.wait_all()
    # Later submissions still run and wait_all does not re-raise.
    for i, image in enumerate(_images(3), start=100):
        encoder.submit(image, i)
    encoder.wait_all()
    assert sorted(failed) == [0, 3, 6]
    assert sorted(ok) == [1, 2, 4, 5, 7, 8, 100, 101, 102]


def test_a_wrong_sized_image_is_reported_not_raised(runtime: ModelRuntime) -> None:
    errors: list[Exception] = []
    encoder = runtime.image_encoder(lambda *_: None, lambda tag, exc: errors.append(exc))
    encoder.submit(np.zeros((100, 100, 3), dtype=np.uint8), "bad")
    encoder.wait_all()
    assert len(errors) == 1 and isinstance(errors[0], EncodeError)


def test_nan_and_zero_outputs_are_refused() -> None:
    with pytest.raises(EncodeError, match="NaN"):
        normalise(np.array([1.0, np.nan], dtype=np.float32))
    with pytest.raises(EncodeError, match="all-zero"):
        normalise(np.zeros(4, dtype=np.float32))
    assert np.isclose(np.linalg.norm(normalise(np.array([3.0, 4.0], dtype=np.float32))), 1.0)
