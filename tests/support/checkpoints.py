"""Random-weight CLIP checkpoints with the real CLIP tokenizer, made offline: a tiny one for the tests,
and one with the full-size ViT-B/32 architecture for the benchmarks.

Both have CLIP's architecture (ViT patch 32 at 224 px, 77-token context, the real 49,408-token BPE).
The tiny one has tiny widths and depths, so export and inference take seconds; the full-size one has
transformers' CLIPConfig defaults (= ViT-B/32), so it runs exactly as fast as the real model.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

TOKENIZER_DIR = Path(__file__).resolve().parent.parent / "data" / "clip-tokenizer"
EMBEDDING_DIM = 16  # the tiny checkpoint's
_SPECIAL_TOKENS = {"bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407}


def make_tiny_checkpoint(out: Path, seed: int = 0) -> Path:
    return _make(
        out,
        seed,
        text_config={
            "vocab_size": 49408,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            **_SPECIAL_TOKENS,
        },
        vision_config={
            "image_size": 224,
            "patch_size": 32,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
        },
        projection_dim=EMBEDDING_DIM,
    )


def make_full_size_checkpoint(out: Path, seed: int = 0) -> Path:
    """ViT-B/32: vision 768 wide, 12 layers; text 512 wide, 12 layers; projection 512 (~580 MB)."""
    # Only the special-token ids are set: the widths and depths stay CLIPConfig's ViT-B/32 defaults.
    return _make(out, seed, text_config=dict(_SPECIAL_TOKENS))


def _make(out: Path, seed: int, **config: Any) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(seed)
    CLIPModel(CLIPConfig(**config)).eval().save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TOKENIZER_DIR / name, out / name)
    return out
