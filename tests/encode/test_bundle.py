"""A missing, corrupted or wrong-shaped bundle is a clear error, never a crash or a zero vector."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import openvino as ov
import pytest

from screenrecall.config import ModelConfig
from screenrecall.encode.bundle import BundleError, hash_files, list_bundles, open_bundle, verify_hashes
from screenrecall.encode.runtime import load_runtime
from tests.conftest import run_cli


@pytest.fixture
def bundle_copy(tiny_bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))


def test_missing_bundle_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"screenrecall models export"):
        open_bundle(tmp_path / "nowhere")


def test_dir_without_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        open_bundle(tmp_path)


def test_missing_ir_file_is_named(bundle_copy: Path) -> None:
    (bundle_copy / "text.bin").unlink()
    with pytest.raises(BundleError, match=r"missing: text\.bin"):
        open_bundle(bundle_copy)


def test_corrupted_bin_fails_the_hash_check(bundle_copy: Path) -> None:
    data = bytearray((bundle_copy / "vision.bin").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle_copy / "vision.bin").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"corrupted: vision.bin"):
        verify_hashes(open_bundle(bundle_copy))


def test_models_verify_exits_1_on_a_corrupted_bundle(bundle_copy: Path) -> None:
    with (bundle_copy / "text.bin").open("r+b") as handle:
        handle.write(b"\0" * 64)
    done = run_cli("models", "verify", str(bundle_copy))
    assert done.returncode == 1
    assert "corrupted: text.bin" in done.stderr
    assert "Traceback" not in done.stderr


def test_models_verify_passes_a_good_bundle(tiny_bundle: Path) -> None:
    done = run_cli("models", "verify", str(tiny_bundle))
    assert done.returncode == 0, done.stderr
    assert "hashes OK" in done.stdout
    assert "two different images differ" in done.stdout
    assert done.stdout.rstrip().endswith("OK")


def test_wrong_shaped_vision_model_is_refused(bundle_copy: Path) -> None:
    import openvino.opset13 as ops

    param = ops.parameter([1, 3, 224, 224], np.float32, name="pixel_values")
    pooled = ops.reduce_mean(param, np.array([2, 3]), keep_dims=False)
    ov.save_model(ov.Model([pooled], [param]), bundle_copy / "vision.xml")
    manifest = json.loads((bundle_copy / "manifest.json").read_text())
    manifest["files"] = hash_files(bundle_copy)
    (bundle_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"vision.xml input is f32 .*expected u8 \[1, 224, 224, 3\]"):
        load_runtime(ModelConfig(cache=False), bundle_copy)


def test_unreadable_manifest_is_reported(bundle_copy: Path) -> None:
    (bundle_copy / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="unreadable manifest"):
        open_bundle(bundle_copy)


def test_list_shows_bundles_and_explains_non_bundles(tiny_bundle: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_bundle, tmp_path / "models" / "default")
    (tmp_path / "models" / "junk").mkdir()
    found = list_bundles(tmp_path / "models")
    assert [type(item).__name__ for item in found] == ["Bundle", "BundleError"]
