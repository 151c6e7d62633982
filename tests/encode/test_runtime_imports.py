"""The runtime path never imports PyTorch or transformers."""

from __future__ import annotations

from pathlib import Path

from tests.support.fresh import run_fresh


def test_embedding_text_and_images_imports_neither_torch_nor_transformers(tiny_bundle: Path, tmp_path: Path) -> None:
    script = f"""
import sys
import numpy as np
from screenrecall.config import ModelConfig
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import load_runtime, self_test
import screenrecall.cli
runtime = load_runtime(ModelConfig(cache=False), __import__("pathlib").Path({str(tiny_bundle)!r}))
self_test(runtime)
runtime.text_encoder.encode("hello")
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
print("LEAKED", leaked)
sys.exit(1 if leaked else 0)
"""
    assert run_fresh(script, home=tmp_path) == "LEAKED []"


def test_the_tokenizer_ops_load_with_the_first_text_query_not_at_start(tiny_bundle: Path, tmp_path: Path) -> None:
    """A daemon nobody queries never pays for openvino-tokenizers (~7 MB resident)."""
    script = f"""
import sys
import numpy as np
from screenrecall.config import ModelConfig
from screenrecall.encode.runtime import load_runtime
runtime = load_runtime(ModelConfig(cache=False), __import__("pathlib").Path({str(tiny_bundle)!r}))
side = runtime.image_side
runtime.image_encoder(lambda _t, _e: None, lambda _t, _e: None).encode_batch([np.zeros((side, side, 3), np.uint8)])
at_start = "openvino_tokenizers" in sys.modules
vector = runtime.text_encoder.encode("an invoice from acme")
print("RESULT", at_start, "openvino_tokenizers" in sys.modules, vector.shape == (runtime.embedding_dim,))
"""
    assert run_fresh(script, home=tmp_path) == "RESULT False True True"
