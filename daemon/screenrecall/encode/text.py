"""Turns query text into an L2-normalised CLIP text embedding: tokenizer IR, then text IR.

No transformers at run time: the tokenizer is an OpenVINO model made by openvino-tokenizers,
whose import registers the string ops it needs (done where it is compiled: runtime._compile_text).
"""

from __future__ import annotations

import threading

import numpy as np
import openvino as ov
from numpy.typing import NDArray

from screenrecall.encode.image import normalise
from screenrecall.pipeline.messages import Embedding

# A text model exported with a dynamic length runs on the tokens up to end-of-text, padded to a
# multiple of this: CLIP's text tower is causal and pools at end-of-text, so what follows it changes
# nothing (measured: cosine 1.0), and a short query costs 8 ms instead of 21 ms for all 77 tokens.
# Buckets keep the shapes the CPU plugin compiles kernels for to a handful.
LENGTH_BUCKET = 8


class TextEncoder:
    """Sync, one query at a time: queries are rare and latency matters more than throughput."""

    def __init__(
        self, tokenizer: ov.CompiledModel, text_model: ov.CompiledModel, pad_id: int, context_length: int
    ) -> None:
        self._pad_id = pad_id
        self.context_length = context_length
        # Bundles exported before lengths were dynamic take exactly context_length tokens.
        self.dynamic_length = text_model.input(0).get_partial_shape()[1].is_dynamic
        self.embedding_dim = int(text_model.output(0).get_partial_shape()[1].get_length())
        self._has_mask = any("attention_mask" in port.get_names() for port in tokenizer.outputs)
        # One request each, reused; the lock makes the encoder safe to share between API threads.
        self._tok_request = tokenizer.create_infer_request()
        self._text_request = text_model.create_infer_request()
        self._lock = threading.Lock()

    def token_ids(self, text: str) -> NDArray[np.int64]:
        """Token ids padded or cut to the context length (CLIP ends every text with end-of-text)."""
        return self._tokens(text)[0]

    def _tokens(self, text: str) -> tuple[NDArray[np.int64], int]:
        """The ids fitted to the context length, and how many of them are the text's (not padding)."""
        with self._lock:
            out = self._tok_request.infer([text])
            ids = np.array(out["input_ids"][0], dtype=np.int64)
            used = int(np.asarray(out["attention_mask"][0]).sum()) if self._has_mask else self.context_length
        return self._fit(ids), min(max(used, 1), self.context_length)

    def _fit(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        length = self.context_length
        if ids.size > length:
            # Keep start-of-text and end with end-of-text, as CLIP's own truncation does.
            ids = np.concatenate([ids[: length - 1], ids[-1:]])
        if ids.size < length:
            ids = np.concatenate([ids, np.full(length - ids.size, self._pad_id, dtype=np.int64)])
        return ids

    def model_length(self, used: int) -> int:
        """How many tokens the text model runs on for a text of `used` tokens."""
        if not self.dynamic_length:
            return self.context_length
        return min(self.context_length, -(-used // LENGTH_BUCKET) * LENGTH_BUCKET)

    def encode(self, text: str) -> Embedding:
        ids, used = self._tokens(text)
        with self._lock:
            output = self._text_request.infer({0: ids[np.newaxis, : self.model_length(used)]})[0]
            return normalise(output)
