"""Turns query text into an L2-normalised CLIP text embedding: tokenizer IR, then text IR.

No transformers at run time: the tokenizer is an OpenVINO model made by openvino-tokenizers,
whose import registers the string ops it needs.
"""

from __future__ import annotations

import threading

import numpy as np
import openvino as ov
import openvino_tokenizers  # noqa: F401  (registers the tokenizer ops with OpenVINO)
from numpy.typing import NDArray

from screenrecall.encode.image import normalise
from screenrecall.pipeline.messages import Embedding


class TextEncoder:
    """Sync, one query at a time: queries are rare and latency matters more than throughput."""

    def __init__(self, tokenizer: ov.CompiledModel, text_model: ov.CompiledModel, pad_id: int) -> None:
        self._tokenizer = tokenizer
        self._text_model = text_model
        self._pad_id = pad_id
        self.context_length = int(text_model.input(0).get_partial_shape()[1].get_length())
        self.embedding_dim = int(text_model.output(0).get_partial_shape()[1].get_length())
        # One request each, reused; the lock makes the encoder safe to share between API threads.
        self._tok_request = tokenizer.create_infer_request()
        self._text_request = text_model.create_infer_request()
        self._lock = threading.Lock()

    def token_ids(self, text: str) -> NDArray[np.int64]:
        """Token ids padded or cut to the context length (CLIP ends every text with end-of-text)."""
        with self._lock:
            ids = np.array(self._tok_request.infer([text])["input_ids"][0], dtype=np.int64)
        return self._fit(ids)

    def _fit(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        length = self.context_length
        if ids.size > length:
            # Keep start-of-text and end with end-of-text, as CLIP's own truncation does.
            ids = np.concatenate([ids[: length - 1], ids[-1:]])
        if ids.size < length:
            ids = np.concatenate([ids, np.full(length - ids.size, self._pad_id, dtype=np.int64)])
        return ids

    def encode(self, text: str) -> Embedding:
        ids = self.token_ids(text)
        with self._lock:
            output = self._text_request.infer({0: ids[np.newaxis]})[0]
            return normalise(output)
