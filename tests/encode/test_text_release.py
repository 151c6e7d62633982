"""The text model is compiled for text queries and dropped when unused, then compiled again on demand."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from screenrecall.config import ModelConfig
from screenrecall.encode.runtime import load_runtime


def test_the_text_model_is_released_when_idle_and_comes_back_the_same(tiny_bundle: Path) -> None:
    runtime = load_runtime(ModelConfig(cache=False), tiny_bundle)
    assert not runtime.release_idle_text(0.0)  # never compiled: nothing to drop
    first = runtime.text_encoder.encode("a terminal with red errors")
    assert not runtime.release_idle_text(3600.0)  # used just now
    assert runtime.release_idle_text(0.0)
    again = runtime.text_encoder.encode("a terminal with red errors")
    np.testing.assert_allclose(first, again, atol=1e-6)
