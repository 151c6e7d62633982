"""Builds a tiny random-weight CLIP checkpoint with the real CLIP tokenizer, for offline tests.

The architecture is CLIP's (ViT patch 32 at 224 px, 77-token context, the real 49,408-token BPE);
only the widths and depths are tiny, so export and inference take seconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_DIR = Path(__file__).resolve().parent.parent / "data" / "clip-tokenizer"
EMBEDDING_DIM = 16


def make_tiny_checkpoint(out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(
        text_config={
            "vocab_size": 49408,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "bos_token_id": 49406,
            "eos_token_id": 49407,
            "pad_token_id": 49407,
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
    torch.manual_seed(seed)
    CLIPModel(config).eval().save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TOKENIZER_DIR / name, out / name)
    return out
