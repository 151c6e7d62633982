"""`models export --from-dir` makes a complete, self-describing bundle that matches PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from screenrecall.encode.bundle import IR_FILES, MANIFEST, open_bundle, sha256_file
from tests.conftest import run_cli
from tests.support.checkpoints import EMBEDDING_DIM


def test_bundle_holds_the_three_irs_and_a_manifest_with_their_hashes(tiny_bundle: Path) -> None:
    manifest = json.loads((tiny_bundle / MANIFEST).read_text())
    for name in IR_FILES:
        assert manifest["files"][name] == sha256_file(tiny_bundle / name)
    assert manifest["embedding_dim"] == EMBEDDING_DIM
    assert manifest["image_size"] == 224
    assert manifest["context_length"] == 77
    assert manifest["precision"] == {"vision": "fp16", "text": "fp16"}
    assert {"openvino", "openvino-tokenizers", "transformers", "torch"} <= set(manifest["exporter"])


def test_vision_ir_takes_static_u8_nhwc_and_text_ir_ids_of_any_length(tiny_bundle: Path) -> None:
    import openvino as ov

    core = ov.Core()
    vision = core.read_model(tiny_bundle / "vision.xml")
    text = core.read_model(tiny_bundle / "text.xml")
    assert vision.input(0).get_element_type() == ov.Type.u8
    assert list(vision.input(0).get_shape()) == [1, 224, 224, 3]
    assert str(text.input(0).get_partial_shape()) == "[1,?]"  # a query runs on its own tokens
    assert text.input(0).get_element_type() == ov.Type.i64


def test_export_reports_a_checkpoint_dir_without_a_model(tmp_path: Path) -> None:
    done = run_cli("models", "export", "--from-dir", str(tmp_path), "--out", str(tmp_path / "b"))
    assert done.returncode == 1
    assert "no checkpoint" in done.stderr
    assert not (tmp_path / "b").exists()


def test_int8_without_calibration_is_refused(tmp_path: Path, tiny_checkpoint: Path) -> None:
    done = run_cli("models", "export", "--from-dir", str(tiny_checkpoint), "--int8", "--out", str(tmp_path / "b"))
    assert done.returncode == 1
    assert "--calibration" in done.stderr


@pytest.mark.slow
def test_int8_export_reports_cosine_to_fp16(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from PIL import Image

    shots = tmp_path / "shots"
    shots.mkdir()
    rng = np.random.default_rng(1)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (270, 480, 3), dtype=np.uint8)).save(shots / f"{i}.png")
    (shots / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "int8"
    done = run_cli(
        "models",
        "export",
        "--from-dir",
        str(tiny_checkpoint),
        "--int8",
        "--calibration",
        str(shots),
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "INT8 vs FP16 mean cosine on 8 calibration images" in done.stdout
    manifest = open_bundle(out).manifest
    assert manifest.precision["vision"] == "int8"
    assert manifest.int8_cosine_vs_fp16 is not None and 0.5 < manifest.int8_cosine_vs_fp16 <= 1.0001
    assert "nncf" in manifest.exporter


@pytest.mark.slow
def test_the_default_export_has_int8_weights_and_verifies(tmp_path: Path, tiny_checkpoint: Path) -> None:
    out = tmp_path / "default"
    done = run_cli("models", "export", "--from-dir", str(tiny_checkpoint), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "INT8 vs FP16 mean cosine on 4 synthetic images" in done.stdout
    manifest = open_bundle(out).manifest
    assert manifest.precision == {"vision": "int8-weights", "text": "int8-weights"}
    assert {"u8", "i8"} & _weight_types(out / "vision.xml")
    assert manifest.int8_cosine_vs_fp16 is not None and 0.99 <= manifest.int8_cosine_vs_fp16 <= 1.0001
    assert "nncf" in manifest.exporter
    verified = run_cli("models", "verify", str(out))  # hashes, both encoders compiled, the self-test
    assert verified.returncode == 0, verified.stderr


@pytest.mark.slow
def test_int8_weights_that_drift_from_fp16_are_not_kept(
    tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from screenrecall.encode import export as ex

    monkeypatch.setattr(ex, "MIN_COSINE", 1.5)  # no cosine reaches it: every INT8 export drifts "too far"
    manifest = ex.export(ex.ExportRequest(from_dir=tiny_checkpoint), tmp_path / "b")
    assert manifest.precision == {"vision": "fp16", "text": "fp16"}
    assert manifest.int8_cosine_vs_fp16 is not None and manifest.int8_cosine_vs_fp16 < 1.5
    assert "keeping FP16" in caplog.text
    assert not {"u8", "i8"} & _weight_types(tmp_path / "b" / "vision.xml")


def _weight_types(xml: Path) -> set[str]:
    import openvino as ov

    model = ov.Core().read_model(xml)
    return {op.get_output_element_type(0).get_type_name() for op in model.get_ops() if op.get_type_name() == "Constant"}


def test_fp16_and_int8_weights_are_exclusive(tmp_path: Path, tiny_checkpoint: Path) -> None:
    done = run_cli("models", "export", "--from-dir", str(tiny_checkpoint), "--fp16", "--int8-weights")
    assert done.returncode == 2
    assert "not allowed with argument" in done.stderr
