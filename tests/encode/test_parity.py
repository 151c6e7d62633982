"""OpenVINO embeddings match PyTorch's on the same inputs; the OpenVINO tokenizer matches Hugging Face's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from screenrecall.config import ModelConfig
from screenrecall.encode.export import CLIP_MEAN, CLIP_STD
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime, load_runtime

TEXTS = [
    "a photo of a cat",
    "",
    "the invoice from ACME, yesterday afternoon",
    "Ünïcödé café — 日本語のテキスト 🙂",
    "  tabs\tand\nnewlines  ",
    "error: undefined reference to `main'",
    "word " * 120,  # far past 77 tokens: must be cut, ending with end-of-text
]


@pytest.fixture(scope="module")
def runtime(tiny_bundle: Path) -> ModelRuntime:
    return load_runtime(ModelConfig(cache=False), tiny_bundle)


@pytest.fixture(scope="module")
def torch_clip(tiny_checkpoint: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer, CLIPModel

    return CLIPModel.from_pretrained(tiny_checkpoint).eval(), AutoTokenizer.from_pretrained(tiny_checkpoint)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _screens() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    bars = np.zeros((1080, 1920, 3), dtype=np.uint8)
    bars[:, ::64] = (255, 40, 40)
    bars[200:400, 100:1800] = (20, 200, 90)
    return [noise, bars]


def test_image_embeddings_match_pytorch(runtime: ModelRuntime, torch_clip) -> None:  # type: ignore[no-untyped-def]
    import torch

    model, _ = torch_clip
    for screen in _screens():
        square = letterbox(screen, 224)
        ours = runtime.image_encoder(lambda *_: None, lambda *_: None).encode_batch([square])[0]
        assert isinstance(ours, np.ndarray)
        normalised = (square.astype(np.float32) / 255 - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
        pixel_values = torch.from_numpy(normalised.transpose(2, 0, 1)[np.newaxis].astype(np.float32))
        with torch.no_grad():
            reference = model.get_image_features(pixel_values=pixel_values).pooler_output.numpy()
        assert _cosine(ours, reference) >= 0.99


def test_text_embeddings_match_pytorch(runtime: ModelRuntime, torch_clip) -> None:  # type: ignore[no-untyped-def]
    import torch

    model, tokenizer = torch_clip
    for text in TEXTS:
        ids = tokenizer(text, truncation=True, max_length=77, padding="max_length", return_tensors="pt").input_ids
        with torch.no_grad():
            reference = model.get_text_features(input_ids=ids).pooler_output.numpy()
        assert _cosine(runtime.text_encoder.encode(text), reference) >= 0.99, text


def test_openvino_tokenizer_gives_hugging_face_ids(runtime: ModelRuntime, torch_clip) -> None:  # type: ignore[no-untyped-def]
    _, tokenizer = torch_clip
    for text in TEXTS:
        expected = tokenizer(text, truncation=True, max_length=77, padding="max_length").input_ids
        assert runtime.text_encoder.token_ids(text).tolist() == expected, text


def test_long_text_is_cut_to_77_tokens_ending_with_end_of_text(runtime: ModelRuntime) -> None:
    ids = runtime.text_encoder.token_ids("word " * 120)
    assert ids.shape == (77,)
    assert ids[0] == 49406 and ids[-1] == 49407


def test_embeddings_are_unit_norm_float32(runtime: ModelRuntime) -> None:
    text = runtime.text_encoder.encode("a terminal with red errors")
    image = runtime.image_encoder(lambda *_: None, lambda *_: None).encode_batch([letterbox(_screens()[1])])[0]
    for vector in (text, image):
        assert isinstance(vector, np.ndarray) and vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_a_query_runs_on_its_own_tokens_and_embeds_as_with_all_77(runtime: ModelRuntime, tiny_bundle: Path) -> None:
    import openvino as ov

    encoder = runtime.text_encoder
    assert encoder.dynamic_length
    assert [encoder.model_length(used) for used in (1, 7, 8, 9, 70, 77)] == [8, 8, 8, 16, 72, 77]
    full_length = ov.Core().compile_model(tiny_bundle / "text.xml", "CPU").create_infer_request()
    for text in TEXTS:
        everything = full_length.infer({0: encoder.token_ids(text)[np.newaxis]})[0]
        assert _cosine(encoder.encode(text), everything) >= 0.99999, text


def test_a_bundle_whose_text_model_takes_exactly_77_tokens_still_works(
    runtime: ModelRuntime, tiny_bundle: Path, tmp_path: Path
) -> None:  # fmt: skip
    """Bundles exported before lengths were dynamic: the text model is run on all 77 tokens."""
    import shutil

    import openvino as ov

    old = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, old)
    text = ov.Core().read_model(old / "text.xml")
    text.reshape({0: ov.PartialShape([1, 77])})
    # Saved beside, then renamed over: text.bin is mapped while the model is read.
    ov.save_model(text, old / "static.xml")
    for suffix in ("xml", "bin"):
        (old / f"static.{suffix}").replace(old / f"text.{suffix}")
    encoder = load_runtime(ModelConfig(cache=False), old, check_hashes=False).text_encoder
    assert not encoder.dynamic_length and encoder.model_length(7) == 77
    for text_query in TEXTS:  # (bf16 kernels on CPUs that have them: equal to ~1e-4, not bit for bit)
        assert _cosine(encoder.encode(text_query), runtime.text_encoder.encode(text_query)) >= 0.9999
